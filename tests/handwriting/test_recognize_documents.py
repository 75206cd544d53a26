"""htr recognize on PAGE/ALTO files: the documents written back (every original element kept,
line and word text with confidences, word coordinates on the page, the published PAGE 2019
schema where a package ships it), json and txt, bad lines, bare page images, batching, and
vocabularies without a space."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from lxml import etree

from ctc.recognizer import Recognizer
from handwriting import cli
from handwriting.recognize import document_posteriorgrams, find_inputs

PAGE = "{http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15}"
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"


def _page_schema() -> etree.XMLSchema:
    """The PAGE 2019 schema as the ocrd-validators package ships it (skip without it)."""
    spec = importlib.util.find_spec("ocrd_validators")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("ocrd-validators (which ships the PAGE 2019 schema) is not installed: "
                    "pip install --no-deps ocrd-validators")
    xsd = Path(next(iter(spec.submodule_search_locations))) / "page.xsd"
    if not xsd.is_file():
        pytest.skip(f"{xsd} not found")
    return etree.XMLSchema(etree.parse(str(xsd)))


def _valid_page(tree) -> None:
    schema = _page_schema()
    assert schema.validate(tree), schema.error_log


def _check_alto(tree) -> None:
    """What alto-4-4.xsd prescribes for the parts we write (no installable package ships the
    ALTO schema): TextLine children ``Shape? (String SP?)+ HYP?``; String ``CONTENT``
    required, ``WC`` a float in [0, 1], ``CC`` digits; positions floats; Page ``ID`` and
    ``PHYSICAL_IMG_NR``; Description starting with MeasurementUnit."""
    import re

    root = tree.getroot() if hasattr(tree, "getroot") else tree
    description = root.find(f"{ALTO}Description")
    if description is not None:
        assert etree.QName(description[0]).localname == "MeasurementUnit"
    for page in root.iter(f"{ALTO}Page"):
        assert page.get("ID") and float(page.get("PHYSICAL_IMG_NR")) >= 0
    for line in root.iter(f"{ALTO}TextLine"):
        names = "".join({"Shape": "s", "String": "S", "SP": "p", "HYP": "h"}[
            etree.QName(c).localname] for c in line)
        assert re.fullmatch(r"s?(Sp?)+h?", names), names
        for string in line.iter(f"{ALTO}String"):
            assert string.get("CONTENT") is not None
            if string.get("WC") is not None:
                assert 0.0 <= float(string.get("WC")) <= 1.0
            if string.get("CC") is not None:
                assert re.fullmatch(r"[0-9]( [0-9])*", string.get("CC"))
            for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT"):
                float(string.get(name, "0"))


def _elements(tree, skip_under_lines=("Word", "TextEquiv", "String", "SP", "HYP")) -> list:
    """(path of local names with ids, attributes) of every element, leaving out what
    recognition replaces inside lines."""
    out = []
    for element in tree.getroot().iter():
        if not isinstance(element.tag, str):
            continue
        names = [etree.QName(e).localname for e in [*reversed(list(element.iterancestors())),
                                                     element]]
        if any(n in skip_under_lines for n in names) and "TextLine" in names:
            continue
        if names[-1] == "TextEquiv" and "TextRegion" == names[-2]:
            continue
        ident = element.get("id") or element.get("ID") or ""
        attrs = {k: v for k, v in element.attrib.items()}
        if names[-1] in ("LastChange",):
            attrs = {}
        out.append(("/".join(names), ident, tuple(sorted(attrs.items()))))
    return out


def _recognize(argv, capsys):
    code = cli.main(["recognize", *argv, "--model", "m", "--quiet"])
    return code, capsys.readouterr()


def test_page_written_back(documents, tmp_path, fake_recognizer, capsys):
    _, lines = documents.page_image("scan.png")
    xml = documents.page_xml("page/scan.xml", "scan.png", (1000, 1000), lines,
                             reading_order=["r1", "r2"])
    code, _ = _recognize([str(xml), "--format", "page", "--output", str(tmp_path / "out")],
                         capsys)
    assert code == 0
    written = etree.parse(str(tmp_path / "out" / "scan.page.xml"))
    original = etree.parse(str(xml))
    _valid_page(written)
    assert set(_elements(original)) <= set(_elements(written))
    for drawn in lines:
        line = written.find(f".//{PAGE}TextLine[@id='{drawn.id}']")
        equiv = line.findall(f"{PAGE}TextEquiv")
        assert len(equiv) == 1 and equiv[0].findtext(f"{PAGE}Unicode") == "ab cd"
        assert 0.0 <= float(equiv[0].get("conf")) <= 1.0
        words = line.findall(f"{PAGE}Word")
        assert [w.findtext(f"{PAGE}TextEquiv/{PAGE}Unicode") for w in words] == ["ab", "cd"]
        x0, y0, x1, y1 = drawn.box
        previous_right = x0
        for word in words:
            points = np.array([p.split(",") for p in
                               word.find(f"{PAGE}Coords").get("points").split()], int)
            assert x0 <= points[:, 0].min() and points[:, 0].max() <= x1 + 1
            assert y0 <= points[:, 1].min() and points[:, 1].max() <= y1 + 1
            assert points[:, 0].min() >= previous_right - 1  # words left to right
            previous_right = points[:, 0].max()
        # the schema's order: Coords, Baseline, Word*, TextEquiv, TextStyle
        order = [etree.QName(c).localname for c in line]
        assert order == ["Coords", "Baseline", "Word", "Word", "TextEquiv", "TextStyle"]
    region = written.find(f".//{PAGE}TextRegion[@id='r1']")
    assert region.findtext(f"{PAGE}TextEquiv/{PAGE}Unicode") == "ab cd\nab cd"
    assert written.findtext(f".//{PAGE}LastChange") != "2024-01-01T00:00:00"
    assert written.find(f".//{PAGE}MetadataItem").get("type") == "processingStep"


def test_page_2013_stays_2013(documents, tmp_path, fake_recognizer, capsys):
    _, lines = documents.page_image("scan.png")
    xml = documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines, version=2013)
    code, captured = _recognize([str(xml), "--format", "page"], capsys)
    assert code == 0
    root = etree.fromstring(captured.out.encode())
    assert etree.QName(root).namespace.endswith("2013-07-15")
    assert not root.findall(".//{*}MetadataItem")
    assert len(root.findall(".//{*}Word")) == 6


def test_alto_written_back_in_its_units(documents, tmp_path, fake_recognizer, capsys):
    _, lines = documents.page_image("scan.png")
    xml = documents.alto_xml("scan.xml", "scan.png", (1000, 1000), lines, unit="mm10",
                             scale=0.5)
    code, _ = _recognize([str(xml), "--format", "alto", "--output", str(tmp_path / "out")],
                         capsys)
    assert code == 0
    written = etree.parse(str(tmp_path / "out" / "scan.alto.xml"))
    _check_alto(written)
    assert set(_elements(etree.parse(str(xml)))) <= set(_elements(written))
    for drawn in lines:
        line = written.find(f".//{ALTO}TextLine[@ID='{drawn.id}']")
        assert [etree.QName(c).localname for c in line] == ["Shape", "String", "SP", "String"]
        strings = line.findall(f"{ALTO}String")
        assert [s.get("CONTENT") for s in strings] == ["ab", "cd"]
        x0, _, x1, _ = drawn.box
        for string in strings:
            assert 0.0 <= float(string.get("WC")) <= 1.0
            digits = string.get("CC").split()
            assert len(digits) == len(string.get("CONTENT"))
            assert all(d in "0123456789" for d in digits)
            # mm10 at half a unit per pixel
            hpos, width = float(string.get("HPOS")), float(string.get("WIDTH"))
            assert x0 / 2 - 1 <= hpos and hpos + width <= x1 / 2 + 1
    assert written.find(f".//{ALTO}Processing/{ALTO}processingSoftware") is not None


def test_alto_cc_digits_follow_confidence(documents, tmp_path, fake_recognizer, capsys):
    _, lines = documents.page_image("scan.png")
    xml = documents.alto_xml("scan.xml", "scan.png", (1000, 1000), lines[:1])
    code, captured = _recognize([str(xml), "--format", "alto"], capsys)
    string = etree.fromstring(captured.out.encode()).find(f".//{ALTO}String")
    # the fake's spikes: exp(-0.05), exp(-0.10): sure, so 0 (sure) .. 9 (unsure) gives 0 or 1
    assert code == 0 and string.get("CC") in ("0 1", "0 0", "1 1")
    assert float(string.get("WC")) == pytest.approx(np.exp(-0.10), abs=1e-3)


def test_other_format_makes_a_new_document(documents, tmp_path, fake_recognizer, capsys):
    _, lines = documents.page_image("scan.png")
    alto = documents.alto_xml("scan.xml", "scan.png", (1000, 1000), lines)
    code, captured = _recognize([str(alto), "--format", "page"], capsys)
    assert code == 0
    tree = etree.ElementTree(etree.fromstring(captured.out.encode()))
    _valid_page(tree)
    assert [e.get("id") for e in tree.iter(f"{PAGE}TextLine")] == ["l1", "l2", "l3"]
    line_png = documents.line_folder("lines", ["abc"])[0]
    code, captured = _recognize([str(line_png), "--format", "page"], capsys)
    tree = etree.ElementTree(etree.fromstring(captured.out.encode()))
    _valid_page(tree)
    assert tree.find(f".//{PAGE}Page").get("imageFilename") == "line000.png"
    code, captured = _recognize([str(line_png), "--format", "alto"], capsys)
    root = etree.fromstring(captured.out.encode())
    assert code == 0 and root.find(f".//{ALTO}String") is not None
    _check_alto(root)
    code, captured = _recognize([str(documents.page_xml("p.xml", "scan.png", (1000, 1000),
                                                        lines)), "--format", "alto"], capsys)
    _check_alto(etree.fromstring(captured.out.encode()))


def test_json_and_txt(documents, tmp_path, fake_recognizer, capsys):
    _, lines = documents.page_image("scan.png")
    xml = documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines,
                             reading_order=["r2", "r1"])
    code, captured = _recognize([str(xml), "--format", "json"], capsys)
    rows = [json.loads(r) for r in captured.out.splitlines()]
    assert code == 0 and [r["line"] for r in rows] == ["l3", "l1", "l2"]
    for row in rows:
        drawn = next(d for d in lines if d.id == row["line"])
        x0, _, x1, _ = row["box"]
        assert row["box"] == pytest.approx(drawn.box, abs=0.5) and row["text"] == "ab cd"
        assert [c["char"] for c in row["chars"]] == list("ab cd")
        assert all(x0 <= c["x0"] <= c["x1"] <= x1 + 1 for c in row["chars"])
        assert all(0 <= c["confidence"] <= 1 for c in row["chars"])
        assert [w["word"] for w in row["words"]] == ["ab", "cd"]
        assert row["document"] == str(xml)
    code, captured = _recognize([str(xml)], capsys)
    assert captured.out == "ab cd\n" * 3


def test_bad_lines_reported_document_still_written(documents, tmp_path, fake_recognizer,
                                                    capsys):
    _, lines = documents.page_image("scan.png")
    extra = """<TextRegion id="rb"><Coords points="1,1 5,1 5,5"/>
      <TextLine id="flat"><Coords points="10,10 60,10 90,10"/></TextLine></TextRegion>"""
    xml = documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines, extra=extra)
    code, captured = _recognize([str(xml), "--format", "page", "--output",
                                 str(tmp_path / "out")], capsys)
    assert code == 1
    assert f"{xml}: line flat: degenerate polygon" in captured.err
    assert "Traceback" not in captured.err
    written = etree.parse(str(tmp_path / "out" / "scan.page.xml"))
    flat = written.find(f".//{PAGE}TextLine[@id='flat']")
    assert flat is not None and not flat.findall(f"{PAGE}TextEquiv")
    assert len(written.findall(f".//{PAGE}Word")) == 6


def test_bare_page_image_asks_for_xml(documents, tmp_path, fake_recognizer, capsys):
    image, lines = documents.page_image("scans/scan.png")
    code, captured = _recognize([str(image)], capsys)
    assert code == 1 and "a page image (1000x1000 pixels)" in captured.err
    assert "PAGE-XML or ALTO" in captured.err
    documents.page_xml("scans/page/scan.xml", "scan.png", (1000, 1000), lines)
    code, captured = _recognize([str(image)], capsys)
    assert code == 1 and "recognise its PAGE/ALTO file instead" in captured.err
    # through the folder, the page image is read through its XML only
    assert find_inputs([str(tmp_path / "scans")]) == [str(tmp_path / "scans/page/scan.xml")]
    code, captured = _recognize([str(tmp_path / "scans")], capsys)
    assert code == 0 and captured.out == "ab cd\n" * 3


def test_folder_mixes_line_images_and_documents(documents, tmp_path, fake_recognizer, capsys):
    documents.line_folder("in/lines", ["abc", "dab"])
    _, lines = documents.page_image("in/scan.png")
    documents.alto_xml("in/scan.xml", "scan.png", (1000, 1000), lines)
    (tmp_path / "in" / "mets.xml").write_text("<mets/>")
    found = find_inputs([str(tmp_path / "in")])
    assert [Path(f).name for f in found] == ["line000.png", "line001.png", "scan.xml"]
    code, captured = _recognize([str(tmp_path / "in")], capsys)
    assert code == 0 and len(captured.out.splitlines()) == 5
    assert fake_recognizer.calls == [5]  # one forward pass for all five lines (batch 8)


def test_batched_equals_one_at_a_time(documents, random_model):
    recognizer = Recognizer.load(random_model)
    _, lines = documents.page_image("scan.png", texts=("a", "ab cd ef", "abc de", "gh"))
    xml = documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines)
    line_images = documents.line_folder("lines", ["one", "three words here", "xy"])
    inputs = [str(xml), *map(str, line_images)]
    single = [g for _, grams in document_posteriorgrams(recognizer, inputs, batch_size=1)
              for g in grams]
    batched = [g for _, grams in document_posteriorgrams(recognizer, inputs, batch_size=8)
               for g in grams]
    assert len(single) == len(batched) == 7
    for a, b in zip(single, batched):
        assert a.log_probs.shape == b.log_probs.shape
        torch.testing.assert_close(a.log_probs, b.log_probs, atol=1e-4, rtol=1e-4)
        assert a.position(3) == b.position(3) and a.meta.get("line") == b.meta.get("line")


def test_real_checkpoint_writes_both_formats(documents, tmp_path, random_model, capsys):
    _, lines = documents.page_image("scan.png")
    xml = documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines)
    for fmt in ("page", "alto"):
        assert cli.main(["recognize", str(xml), "--model", str(random_model), "--format", fmt,
                         "--output", str(tmp_path / "out"), "--batch-size", "2",
                         "--quiet"]) == 0
    _valid_page(etree.parse(str(tmp_path / "out" / "scan.page.xml")))
    alto = etree.parse(str(tmp_path / "out" / "scan.alto.xml"))
    assert len(alto.findall(f".//{ALTO}TextLine")) == 3


def test_vocabulary_without_space(documents, tmp_path, fake_recognizer, capsys):
    from ctc.data.tokens import CharTokenizer

    fake_recognizer.tokenizer = CharTokenizer.build(["0123456789"])  # digit fields
    fake_recognizer.text = "4711"
    assert fake_recognizer.tokenizer.word_delimiter is None
    _, lines = documents.page_image("scan.png", texts=("4711", "0815"))
    page = documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines)
    alto = documents.alto_xml("scan_alto.xml", "scan.png", (1000, 1000), lines)
    code, captured = _recognize([str(page), "--format", "page"], capsys)
    tree = etree.ElementTree(etree.fromstring(captured.out.encode()))
    _valid_page(tree)
    words = tree.findall(f".//{PAGE}Word")
    assert code == 0 and [w.findtext(f"{PAGE}TextEquiv/{PAGE}Unicode") for w in words] == \
        ["4711", "4711"]
    code, captured = _recognize([str(alto), "--format", "alto"], capsys)
    root = etree.fromstring(captured.out.encode())
    _check_alto(root)
    strings = root.findall(f".//{ALTO}String")
    assert code == 0 and [s.get("CONTENT") for s in strings] == ["4711", "4711"]
    assert all(len(s.get("CC").split()) == 4 for s in strings)
    code, captured = _recognize([str(page), "--format", "json"], capsys)
    row = json.loads(captured.out.splitlines()[0])
    assert row["text"] == "4711" and len(row["chars"]) == 4 and len(row["words"]) == 1


def test_batch_size_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        cli.main(["recognize", "x.png", "--model", "m", "--batch-size", "0"])
    assert "must be at least 1" in capsys.readouterr().err
