"""IAM preparation on trees with the real file formats, and the synthetic IAM generator."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ctc.data.manifest import read_manifest
from ctc.errors import InputError
from handwriting.iam import parse_lines_txt, prepare_iam

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import synth_iam

LINES_TXT = """\
#--- lines.txt ---------------------------------------------------------------#
#
# iam database line information
#
# format: a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from
#
a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from
a01-000u-01 ok 156 19 395 932 1850 105 nominating|any|more|Labour|life|Peers
a01-000u-02 err 157 16 408 1106 1710 105 is|to|be|made|at|a|meeting|of|Labour
a01-000x-00 ok 182 29 375 708 1766 128 A|MOVE|to|stop|Mr.|Gaitskell|from
b02-010-00 ok 170 12 340 900 1500 100 He|said|:|"|It|'s|fine|.|"
b02-010-01 ok 170 12 340 1000 1500 100 missing|image|here
"""


def _png(path: Path, w: int = 120, h: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    gray = np.full((h, w), 240, np.uint8)
    gray[10:20, 10:w - 10] = 30
    Image.fromarray(gray).save(path)


@pytest.fixture()
def iam_tree(tmp_path: Path) -> Path:
    root = tmp_path / "iam"
    (root / "ascii").mkdir(parents=True)
    (root / "ascii" / "lines.txt").write_text(LINES_TXT)
    (root / "ascii" / "forms.txt").write_text(
        "# form writer ...\na01-000u 000 2 prt 7 5 52 36\na01-000x 001 2 all 7 7 52 52\n"
        "b02-010 042 1 prt 2 2 10 10\n")
    for line_id in ("a01-000u-00", "a01-000u-01", "a01-000u-02", "a01-000x-00", "b02-010-00"):
        form = line_id.rsplit("-", 1)[0]
        _png(root / "lines" / line_id.split("-")[0] / form / f"{line_id}.png")
    task = root / "largeWriterIndependentTextLineRecognitionTask"
    task.mkdir()
    (task / "trainset.txt").write_text("a01-000u-00\na01-000u-01\na01-000u-02\n")
    (task / "validationset1.txt").write_text("a01-000x-00\n")
    (task / "testset.txt").write_text("b02-010\n\n")  # a form id: all its lines
    aachen = root / "splits" / "aachen"
    aachen.mkdir(parents=True)
    (aachen / "tr.lst").write_text("a01-000u\n")
    (aachen / "va.lst").write_text("a01-000x\n")
    (aachen / "te.lst").write_text("b02-010-00\nzzz-999-00\n")
    return root


def test_parse_lines_txt(iam_tree):
    lines = parse_lines_txt(iam_tree / "ascii" / "lines.txt")
    assert [x.id for x in lines][:2] == ["a01-000u-00", "a01-000u-01"]
    assert lines[0].text == "A MOVE to stop Mr. Gaitskell from"
    assert lines[0].box == (408, 746, 1661, 89) and lines[0].graylevel == 154
    assert not lines[2].ok and lines[2].form == "a01-000u"
    assert lines[4].text == 'He said : " It \'s fine . "'


def test_parse_lines_txt_malformed(tmp_path):
    bad = tmp_path / "lines.txt"
    bad.write_text("# comment\na01-000u-00 maybe 1 2 3 4 5 6 text\n")
    with pytest.raises(InputError, match=r"lines\.txt:2"):
        parse_lines_txt(bad)


def test_prepare_official_split(iam_tree, tmp_path):
    out = tmp_path / "manifests"
    logs = []
    report = prepare_iam(iam_tree, out, log=logs.append)
    assert report.counts == {"train": 2, "valid": 1, "test": 1}
    assert report.dropped_err == 1
    assert len(report.missing_images) == 1 and "b02-010-01.png" in report.missing_images[0]
    assert any("missing image" in m for m in logs)
    train = read_manifest(out / "train.jsonl")
    assert [r.id for r in train] == ["a01-000u-00", "a01-000u-01"]
    r = train[0]
    assert r.modality == "image" and r.speaker == "000" and (r.width, r.height) == (120, 30)
    assert r.text == "A MOVE to stop Mr. Gaitskell from" and os.path.isfile(r.path)
    raw = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert not os.path.isabs(raw["path"])  # relative to the manifest folder
    assert read_manifest(out / "test.jsonl")[0].speaker == "042"


def test_prepare_keep_err_and_aachen(iam_tree, tmp_path):
    report = prepare_iam(iam_tree, tmp_path / "m", split="aachen", keep_err=True,
                         log=lambda m: None)
    assert report.counts == {"train": 3, "valid": 1, "test": 1}
    assert report.dropped_err == 0 and report.unknown_ids == ["zzz-999-00"]


def test_prepare_writers_from_xml(iam_tree, tmp_path):
    (iam_tree / "ascii" / "forms.txt").unlink()
    (iam_tree / "xml").mkdir()
    (iam_tree / "xml" / "a01-000u.xml").write_text(
        '<?xml version="1.0"?>\n<form created="x" id="a01-000u" writer-id="000" width="2479">')
    prepare_iam(iam_tree, tmp_path / "m", log=lambda m: None)
    train = read_manifest(tmp_path / "m" / "train.jsonl")
    assert train[0].speaker == "000"
    assert read_manifest(tmp_path / "m" / "test.jsonl")[0].speaker is None


def test_prepare_errors(tmp_path, iam_tree):
    with pytest.raises(InputError, match="IAM root not found"):
        prepare_iam(tmp_path / "nope", tmp_path / "m")
    with pytest.raises(InputError, match="no split lists"):
        prepare_iam(iam_tree, tmp_path / "m", split=str(tmp_path))
    (iam_tree / "ascii" / "lines.txt").unlink()
    with pytest.raises(InputError, match=r"lines\.txt"):
        prepare_iam(iam_tree, tmp_path / "m")


def _two_fonts() -> list[str]:
    fonts = synth_iam.list_font_files()
    chosen = {}
    for path in fonts:
        family = synth_iam.font_family(path)
        if family in ("DkgHandwriting", "Steve", "Rufscript") and family not in chosen:
            chosen[family] = path
    if len(chosen) < 3:
        pytest.skip("Debian handwriting fonts not installed")
    return list(chosen.values())


def test_synth_tree_roundtrip(tmp_path):
    fonts = _two_fonts()
    out = tmp_path / "synth"
    stats = synth_iam.synthesize(out, train=4, dev=2, test=2, font_size=24, jobs=1,
                                 err_rate=0.3, fonts=fonts, lm_sentences=50, log=lambda m: None)
    assert stats["train"] >= 4 and stats["test"] >= 2
    lines = parse_lines_txt(out / "ascii" / "lines.txt")
    lm_text = (out / "lm-text.txt").read_text().splitlines()
    assert len(lm_text) > 50
    split_of = {}
    for official, name in (("trainset", "train"), ("validationset1", "dev"), ("testset", "test")):
        task = out / "largeWriterIndependentTextLineRecognitionTask" / f"{official}.txt"
        split_of.update({i: name for i in task.read_text().split()})
    by_split = {name: [x.text for x in lines if split_of[x.id] == name]
                for name in set(split_of.values())}
    assert set(by_split["train"]) <= set(lm_text)  # the training lines, then the extra text
    long_held_out = {t for t in by_split["dev"] + by_split["test"] if len(t) > 30}
    assert long_held_out and not long_held_out & set(lm_text[len(by_split["train"]):])
    assert sum(stats.values()) == len(lines)
    for line in lines:
        assert line.image_path(out).is_file()
        assert line.text[:1].isalpha()
    assert any(not x.ok for x in lines)  # err lines are flagged
    writers = synth_iam.read_writer_table(out)
    test_ids = (out / "largeWriterIndependentTextLineRecognitionTask" / "testset.txt"
                ).read_text().split()
    forms = {p.split()[0]: p.split()[1] for p in
             (out / "ascii" / "forms.txt").read_text().splitlines() if not p.startswith("#")}
    test_writers = {forms[i.rsplit("-", 1)[0]] for i in test_ids}
    assert {writers[w] for w in test_writers} == {"Steve"}  # the held-out font only
    before = (out / "ascii" / "lines.txt").read_text()
    image = lines[0].image_path(out)
    mtime = image.stat().st_mtime_ns
    synth_iam.synthesize(out, train=4, dev=2, test=2, font_size=24, jobs=1, err_rate=0.3,
                         fonts=fonts, log=lambda m: None)
    assert (out / "ascii" / "lines.txt").read_text() == before  # idempotent
    assert image.stat().st_mtime_ns == mtime
    report = prepare_iam(out, tmp_path / "m", log=lambda m: None)
    assert report.counts["train"] + report.dropped_err >= 4 and not report.missing_images
    rec = read_manifest(tmp_path / "m" / "test.jsonl")
    assert all(r.speaker in test_writers for r in rec)


def test_synth_render_is_seeded():
    fonts = _two_fonts()
    a = synth_iam.render_line("Hello world.", fonts[0], 24, np.random.default_rng(3))
    b = synth_iam.render_line("Hello world.", fonts[0], 24, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape[1] > a.shape[0] and a.min() < 128 < a.max()


def test_font_problem_detects_missing_characters():
    fonts = _two_fonts()
    assert synth_iam.font_problem(fonts[0], "abc") is None
    assert "misses" in synth_iam.font_problem(fonts[0], "abc\u4e2d")


def test_synth_holds_out_whole_families(tmp_path):
    families = ["Alpha", "Alpha", "Beta", "Steve", "Delphine", "Rufscript", "Kristi", "Gamma"]
    fonts = [synth_iam.Font(f"{i:03d}", f"/fonts/{fam}{i}.ttf", fam)
             for i, fam in enumerate(families)]
    splits = {name: [f"sentence number {k} of {name}" for k in range(40)]
              for name in ("train", "dev", "test")}
    jobs, ids, _ = synth_iam.plan(splits, fonts, root=tmp_path, seed=0, font_size=30,
                                  err_rate=0.0)
    family_of = {f.path: f.family for f in fonts}
    used = {name: {family_of[j.font_path] for j in jobs if j.line_id in set(ids[name])}
            for name in ids}
    assert used["test"] == {"Steve", "Delphine"}
    assert used["dev"] == {"Rufscript", "Kristi"}
    assert used["train"] == {"Alpha", "Beta", "Gamma"}
    with pytest.raises(SystemExit, match="both in test and dev"):
        synth_iam.plan(splits, fonts, root=tmp_path, seed=0, font_size=30, err_rate=0.0,
                       test_families=["Steve"], dev_families=["Steve", "Kristi"])
