"""Users' own documents end to end: the IAM recipe with CORPUS=page|lines (prepare stage), and
(slow) pages composed of generated handwriting lines -> htr prepare page -> train -> evaluate
-> recognize --format page|alto: the written XML parses, keeps every original element and holds
the recognised text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from ctc.data.manifest import read_manifest
from handwriting import cli

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ["bash", str(ROOT / "recipes/iam/run.sh")]

TINY = """\
frontend: {height: 24, augment: false}
model: {frontend: line_cnn, cnn_channels: [8, 16], cnn_pooled: 2, layers: 1, hidden: 32}
optim: {lr: 0.003, warmup_steps: 5}
train: {epochs: 3, device: cpu, progress: false, ctc_impl: torch, keep_best: 1,
        average_last: 0, checkpoint_every: 0}
data: {max_frames: 4000}
"""


def _recipe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    return subprocess.run([*RECIPE, *args], env=env, capture_output=True, text=True,
                          timeout=600, check=False, cwd=tmp_path)


def test_recipe_prepares_a_page_export(documents, tmp_path):
    for i in range(3):
        _, lines = documents.page_image(f"export/scan{i}.png", seed=i)
        extra = ('<TextRegion id="rb"><Coords points="1,1 5,1 5,5"/><TextLine id="flat">'
                 '<Coords points="1,1 9,1 20,1"/><TextEquiv><Unicode>x</Unicode></TextEquiv>'
                 "</TextLine></TextRegion>") if i == 0 else ""
        documents.page_xml(f"export/page/scan{i}.xml", f"scan{i}.png", (1000, 1000), lines,
                           extra=extra)
    proc = _recipe(tmp_path, "CORPUS=page", f"CORPUS_ROOT={tmp_path / 'export'}",
                   f"MANIFESTS={tmp_path / 'm'}", f"EXP={tmp_path / 'exp'}", "--stop-stage", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "line flat: degenerate polygon" in proc.stderr
    assert "training on the rest" in proc.stderr
    counts = {s: len(read_manifest(tmp_path / "m" / f"{s}.jsonl"))
              for s in ("train", "valid", "test")}
    assert sum(counts.values()) == 9 and counts["valid"] >= 1 and counts["test"] >= 1
    assert (tmp_path / "exp" / ".done" / "stage1.prepare").is_file()


def test_recipe_rejects_unknown_corpus(tmp_path):
    proc = _recipe(tmp_path, "CORPUS=tiff", "CORPUS_ROOT=x", "--stop-stage", "1")
    assert proc.returncode != 0 and "choose synth, iam, page, alto or lines" in proc.stderr


def _synth_lines(root: Path) -> list[tuple[Path, str]]:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import synth_iam
    finally:
        sys.path.pop(0)
    fonts = [f for f in synth_iam.list_font_files()
             if synth_iam.font_family(f) in ("DkgHandwriting", "Steve", "Rufscript")]
    if len(fonts) < 3:
        pytest.skip("Debian handwriting fonts not installed")
    synth_iam.synthesize(root, train=48, dev=4, test=4, font_size=24, jobs=1, err_rate=0.0,
                         fonts=fonts, log=lambda m: None)
    from handwriting.iam import parse_lines_txt

    return [(line.image_path(root), line.text) for line in parse_lines_txt(
        root / "ascii" / "lines.txt") if line.image_path(root).is_file()]


def _kept(original: Path, written: Path) -> None:
    """Every element of ``original`` is in ``written`` with its attributes, but for what
    recognition replaces inside lines (TextEquiv, Word, String, SP) and LastChange."""
    def elements(path: Path) -> set:
        out = set()
        for element in etree.parse(str(path)).getroot().iter():
            names = [etree.QName(e).localname for e in
                     [*reversed(list(element.iterancestors())), element]]
            if "TextLine" in names and names[-1] != "TextLine" and \
                    any(n in ("TextEquiv", "Word", "String", "SP") for n in names):
                continue
            if names[-1] == "TextEquiv" or names[-1] == "LastChange" or \
                    (len(names) > 1 and names[-2] == "TextEquiv"):
                continue
            out.add(("/".join(names), tuple(sorted(element.attrib.items()))))
        return out

    missing = elements(original) - elements(written)
    assert not missing, sorted(missing)[:5]


@pytest.mark.slow
def test_page_export_round_trip(documents, tmp_path, capsys):
    lines = _synth_lines(tmp_path / "iam")
    pages = []
    for i in range(0, len(lines) - 5, 6):
        chunk = lines[i:i + 6]
        image, drawn = documents.compose_page(f"export/p{i:03d}.png", [p for p, _ in chunk],
                                              [t for _, t in chunk])
        xml = documents.page_xml(f"export/page/p{i:03d}.xml", image.name, _image_size(image),
                                 drawn)
        pages.append((xml, drawn))
    data, exp = tmp_path / "data", tmp_path / "exp"
    assert cli.main(["prepare", "page", "--root", str(tmp_path / "export"), "--out", str(data),
                     "--valid-fraction", "0.15", "--split-by", "line"]) == 0
    conf = tmp_path / "tiny.yaml"
    conf.write_text(TINY)
    assert cli.main(["train", "--config", str(conf), "--train", str(data / "train.jsonl"),
                     "--valid", str(data / "valid.jsonl"), "--out", str(exp)]) == 0
    assert cli.main(["evaluate", "--model", str(exp), "--manifest", str(data / "valid.jsonl"),
                     "--report", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## Character accuracy by script" in report and "| Latin |" in report
    capsys.readouterr()

    xml, drawn = pages[0]
    alto = documents.alto_xml("export/alto/p000.xml", f"../{xml.with_suffix('.png').name}",
                              _image_size(tmp_path / "export" / "p000.png"), drawn)
    out = tmp_path / "recognised"
    for source, fmt in ((xml, "page"), (alto, "alto")):
        assert cli.main(["recognize", str(source), "--model", str(exp), "--format", fmt,
                         "--output", str(out), "--quiet"]) == 0
    written_page = out / "p000.page.xml"
    _kept(xml, written_page)
    tree = etree.parse(str(written_page))
    texts = [e.text for e in tree.iter("{*}Unicode")
             if etree.QName(e.getparent().getparent()).localname == "TextLine"]
    assert len(texts) == len(drawn) and any(texts)
    written_alto = out / "p000.alto.xml"
    _kept(alto, written_alto)
    strings = etree.parse(str(written_alto)).findall(".//{*}String")
    assert strings and all(s.get("WC") is not None or s.get("CONTENT") == "" for s in strings)


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size
