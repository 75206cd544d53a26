"""htr prepare lines|page|alto: manifests, cached line crops, splits, and what is skipped."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from ctc.data.manifest import read_manifest
from handwriting import cli


def _ids(path):
    return [r.id for r in read_manifest(path)]


def test_prepare_lines_pairs_gt_files(documents, tmp_path, capsys):
    documents.line_folder("corpus/a", ["first line", "second line", None])
    documents.line_folder("corpus/b", ["third", "  fourth\tline  "])
    ocropus = tmp_path / "corpus" / "b" / "0007.bin.png"
    Image.open(tmp_path / "corpus" / "b" / "line000.png").save(ocropus)
    (tmp_path / "corpus" / "b" / "0007.gt.txt").write_text("seventh\n")
    valid = tmp_path / "valid.lst"
    valid.write_text("# validation\na/line001\nline000.png\n")
    out = tmp_path / "m"
    assert cli.main(["prepare", "lines", "--root", str(tmp_path / "corpus"), "--out", str(out),
                     "--valid-list", str(valid)]) == 0
    err = capsys.readouterr().err
    assert "a/line002.png: no line002.gt.txt beside it" in err
    assert _ids(out / "valid.jsonl") == ["a/line000", "a/line001", "b/line000"]
    assert _ids(out / "train.jsonl") == ["b/0007.bin", "b/line001"]
    assert (out / "train.txt").read_text() == "seventh\nfourth line\n"
    record = read_manifest(out / "train.jsonl")[0]
    assert os.path.samefile(record.path, ocropus) and record.width and record.height
    assert not (out / "test.jsonl").exists()


def test_prepare_lines_fractions_and_bad_text(documents, tmp_path, capsys):
    documents.line_folder("c", [f"line {i}" for i in range(10)])
    (tmp_path / "c" / "line003.gt.txt").write_bytes(b"caf\xe9\n")
    out = tmp_path / "m"
    code = cli.main(["prepare", "lines", "--root", str(tmp_path / "c"), "--out", str(out),
                     "--valid-fraction", "0.2", "--test-fraction", "0.2", "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 1 and "line003.gt.txt:1: not UTF-8" in err
    counts = {s: len(_ids(out / f"{s}.jsonl")) for s in ("train", "valid", "test")}
    assert counts == {"train": 5, "valid": 2, "test": 2}
    every = [i for s in counts for i in _ids(out / f"{s}.jsonl")]
    assert len(set(every)) == 9 and "unreadable\t" in (out / "skipped.txt").read_text()


def test_prepare_lines_empty_root_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["prepare", "lines", "--root", str(tmp_path / "empty"), "--out",
                     str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no line images with a .gt.txt" in err


def _bad_lines() -> str:
    return """<TextRegion id="rb"><Coords points="1,1 5,1 5,5"/>
      <TextLine id="empty"><Coords points="10,10 60,10 60,30"/><TextEquiv><Unicode/></TextEquiv>
      </TextLine>
      <TextLine id="flat"><Coords points="10,10 60,10 90,10"/>
        <TextEquiv><Unicode>flat</Unicode></TextEquiv></TextLine>
      <TextLine id="away"><Coords points="2000,2000 2100,2000 2100,2050"/>
        <TextEquiv><Unicode>away</Unicode></TextEquiv></TextLine></TextRegion>"""


def test_prepare_page_cuts_caches_and_reports(documents, tmp_path, capsys):
    _, lines = documents.page_image("export/scan.png")
    xml = documents.page_xml("export/page/scan.xml", "scan.png", (1000, 1000), lines,
                             reading_order=["r2", "r1"], extra=_bad_lines())
    out = tmp_path / "m"
    argv = ["prepare", "page", "--root", str(tmp_path / "export"), "--out", str(out),
            "--valid-fraction", "0"]
    assert cli.main(argv) == 1  # two lines could not be cut
    err = capsys.readouterr().err
    assert f"{xml}: line flat: degenerate polygon (no area)" in err
    assert f"{xml}: line away: outside the image" in err
    assert f"{xml}: line empty: no text" in err and "Traceback" not in err
    records = read_manifest(out / "train.jsonl")
    assert [r.id for r in records] == ["page/scan/l3", "page/scan/l1", "page/scan/l2"]
    assert [r.text for r in records] == ["a third line", "move to stop", "the lazy dog ran"]
    crop = out / "lines" / "page" / "scan" / "l1.png"
    assert os.path.samefile(records[1].path, crop)
    x0, y0, x1, y1 = lines[0].box
    assert Image.open(crop).size == (x1 - x0 + 1, y1 - y0 + 1)
    skipped = (out / "skipped.txt").read_text()
    assert skipped.count("\n") == 3 and "line empty: no text" in skipped

    # a rerun reuses the crops; a changed XML cuts them again
    stamp = crop.stat().st_mtime_ns
    os.utime(crop, ns=(stamp + 10**9, stamp + 10**9))
    stamp = crop.stat().st_mtime_ns
    cli.main(argv)
    assert crop.stat().st_mtime_ns == stamp
    os.utime(xml, ns=(stamp + 10**9, stamp + 10**9))
    cli.main(argv)
    assert crop.stat().st_mtime_ns != stamp


def test_prepare_alto_and_split_by_document(documents, tmp_path, capsys):
    for i in range(12):
        _, lines = documents.page_image(f"alto/p{i:02d}.png", seed=i)
        documents.alto_xml(f"alto/p{i:02d}.xml", f"p{i:02d}.png", (1000, 1000), lines,
                           unit="inch1200", scale=2.0)
    out = tmp_path / "m"
    assert cli.main(["prepare", "alto", "--root", str(tmp_path / "alto"), "--out", str(out),
                     "--valid-fraction", "0.25", "--test-fraction", "0.2"]) == 0
    splits = {s: read_manifest(out / f"{s}.jsonl") for s in ("train", "valid", "test")}
    documents_of = {s: {r.id.split("/")[0] for r in rs} for s, rs in splits.items()}
    assert [len(documents_of[s]) for s in ("train", "valid", "test")] == [7, 3, 2]
    assert not (documents_of["train"] & documents_of["valid"])
    assert not (documents_of["train"] & documents_of["test"])
    assert sum(len(rs) for rs in splits.values()) == 36
    assert splits["train"][0].text in ("move to stop",)


def test_prepare_page_on_alto_files_says_so(documents, tmp_path, capsys):
    _, lines = documents.page_image("x/scan.png")
    documents.alto_xml("x/scan.xml", "scan.png", (1000, 1000), lines)
    assert cli.main(["prepare", "page", "--root", str(tmp_path / "x"), "--out",
                     str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "no PAGE-XML files" in err and "htr prepare alto" in err


def test_prepare_page_missing_image_goes_on(documents, tmp_path, capsys):
    _, lines = documents.page_image("x/scan.png")
    documents.page_xml("x/scan.xml", "scan.png", (1000, 1000), lines)
    documents.page_xml("x/lost.xml", "lost.png", (1000, 1000), lines)
    (tmp_path / "x" / "broken.xml").write_text(
        "<PcGts xmlns='http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15'><Page")
    out = tmp_path / "m"
    assert cli.main(["prepare", "page", "--root", str(tmp_path / "x"), "--out", str(out),
                     "--valid-fraction", "0"]) == 1
    err = capsys.readouterr().err
    assert "lost.xml: page image 'lost.png' not found" in err
    assert len(read_manifest(out / "train.jsonl")) == 3
    summary = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert all(s["modality"] == "image" for s in summary)


def test_prepared_crops_featurize(documents, tmp_path):
    from handwriting.featurizer import LineImageFeaturizer

    _, lines = documents.page_image("x/scan.png")
    documents.page_xml("x/scan.xml", "scan.png", (1000, 1000), lines)
    out = tmp_path / "m"
    assert cli.main(["prepare", "page", "--root", str(tmp_path / "x"), "--out", str(out),
                     "--valid-fraction", "0"]) == 0
    featurizer = LineImageFeaturizer(height=32, augment=False)
    for record in read_manifest(out / "train.jsonl"):
        features = featurizer(record)
        assert features.shape[0] == 32 and float(features.max()) > 0.5
        assert np.isfinite(features.numpy()).all()


@pytest.mark.parametrize("corpus", ["lines", "page", "alto"])
def test_prepare_help(corpus, capsys):
    with pytest.raises(SystemExit):
        cli.main(["prepare", corpus, "--help"])
    out = capsys.readouterr().out
    assert "--valid-list" in out and "--valid-fraction" in out
