"""PAGE-XML and ALTO reading: namespaces and versions, reading order, texts, point syntaxes,
units and scales, finding the page image, and cutting lines out of their page."""

from __future__ import annotations

import numpy as np
import pytest

from ctc.errors import InputError
from handwriting.documents import (
    DocumentLine,
    clip_polygon_x,
    cut_line,
    cut_lines,
    parse_points,
    polygon_area,
    read_document,
    word_polygon,
)
from handwriting.images import read_gray


@pytest.mark.parametrize("text", ["10,20 30,40 50,60", "10 20 30 40 50 60", "10,20,30,40,50,60",
                                  " 10.0,20  30,40.0 50,60 ", "(10,20) (30,40) (50,60)"])
def test_point_syntaxes(text):
    np.testing.assert_allclose(parse_points(text), [[10, 20], [30, 40], [50, 60]])


def test_points_empty_and_odd():
    assert parse_points(None) is None and parse_points("  ") is None
    with pytest.raises(ValueError, match="odd"):
        parse_points("1,2 3")


def test_clip_polygon_to_a_strip():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    piece = clip_polygon_x(square, 2, 5)
    assert polygon_area(piece) == pytest.approx(30.0)
    assert piece[:, 0].min() == pytest.approx(2) and piece[:, 0].max() == pytest.approx(5)
    assert len(clip_polygon_x(square, 20, 30)) == 0
    box = word_polygon(square, 20, 30)  # nothing left: the strip's box over the line's height
    assert box[:, 1].min() == 0 and box[:, 1].max() == 10


def test_page_2019_reading_order_and_texts(documents):
    image, lines = documents.page_image("scan.png")
    xml = documents.page_xml("page/scan.xml", "scan.png", (1000, 1000), lines,
                             reading_order=["r2", "r1"])
    doc = read_document(xml)
    assert doc.format == "page" and doc.namespace.endswith("2019-07-15")
    assert doc.image_path == image  # imageFilename resolved from page/ to its parent folder
    assert [(line.id, line.region) for line in doc.lines] == [("l3", "r2"), ("l1", "r1"),
                                                              ("l2", "r1")]
    assert [line.text for line in doc.lines] == ["a third line", "move to stop",
                                                 "the lazy dog ran"]
    np.testing.assert_allclose(doc.lines[1].polygon, lines[0].polygon)
    np.testing.assert_allclose(doc.lines[1].baseline, lines[0].baseline)
    assert not doc.problems


def test_page_2013_and_scaled_image(documents):
    _, lines = documents.page_image("scan.png")
    # the XML describes a 500 x 500 page: its coordinates are half those of the image
    half = [type(line)(line.id, line.text, [(x // 2, y // 2) for x, y in line.polygon],
                       [(x // 2, y // 2) for x, y in line.baseline]) for line in lines]
    doc = read_document(documents.page_xml("scan.xml", "scan.png", (500, 500), half,
                                           version=2013))
    assert doc.namespace.endswith("2013-07-15") and doc.scale == (2.0, 2.0)
    np.testing.assert_allclose(doc.lines[0].polygon, np.array(half[0].polygon) * 2)


def test_page_text_from_lowest_index_and_words(documents):
    _, lines = documents.page_image("scan.png")
    extra = """<TextRegion id="r9"><Coords points="1,1 5,1 5,5"/>
      <TextLine id="x1"><Coords points="10,10 60,10 60,30 10,30"/>
        <TextEquiv index="2"><Unicode>second</Unicode></TextEquiv>
        <TextEquiv index="1"><Unicode>  first \n choice </Unicode></TextEquiv></TextLine>
      <TextLine id="x2"><Coords points="10,40 60,40 60,60 10,60"/>
        <Word id="w1"><Coords points="10,40 30,40 30,60"/><TextEquiv><Unicode>only</Unicode>
        </TextEquiv></Word>
        <Word id="w2"><Coords points="30,40 60,40 60,60"/><TextEquiv><Unicode>words</Unicode>
        </TextEquiv></Word></TextLine>
      <TextLine id="x3"><Coords points="10,70 60,70 60,90 10,90"/>
        <TextEquiv><Unicode/></TextEquiv></TextLine></TextRegion>"""
    doc = read_document(documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines,
                                           extra=extra))
    texts = {line.id: line.text for line in doc.lines}
    assert texts["x1"] == "first choice" and texts["x2"] == "only words" and texts["x3"] is None


def test_transkribus_custom_reading_order(documents):
    _, lines = documents.page_image("scan.png")
    xml = documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines)
    text = xml.read_text()
    for line_id, index in (("l1", 1), ("l2", 0)):
        text = text.replace(f'<TextLine id="{line_id}" custom="structure {{type:line;}}"',
                            f'<TextLine id="{line_id}" custom="readingOrder {{index:{index};}}"')
    xml.write_text(text)
    assert [line.id for line in read_document(xml).lines] == ["l2", "l1", "l3"]


def test_missing_image_names_the_places_looked(documents):
    _, lines = documents.page_image("scan.png")
    xml = documents.page_xml("deep/page/scan.xml", "nowhere.tif", (1000, 1000), lines)
    with pytest.raises(InputError, match=r"scan\.xml: page image 'nowhere\.tif' not found"):
        read_document(xml)


def test_file_url_and_windows_path(documents):
    image, lines = documents.page_image("scan.png")
    xml = documents.page_xml("scan.xml", f"file://{image}", (1000, 1000), lines)
    assert read_document(xml).image_path == image
    xml = documents.page_xml("scan2.xml", "C:\\scans\\scan.png", (1000, 1000), lines)
    assert read_document(xml).image_path.name == "scan.png"


@pytest.mark.parametrize("text,match", [
    ("<PcGts xmlns='urn:x'><Page/></PcGts>", "not a PAGE-XML namespace"),
    ("<mets/>", "neither PAGE-XML"),
    ("<PcGts><Page>", "not well-formed XML"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, match):
    path = tmp_path / "x.xml"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_document(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_alto4_mm10_with_polygons(documents):
    image, lines = documents.page_image("scan.png")
    # mm10 at 0.5 units per pixel: Page WIDTH/HEIGHT give the scale back to pixels
    doc = read_document(documents.alto_xml("scan.xml", "scan.png", (1000, 1000), lines,
                                           unit="mm10", scale=0.5))
    assert doc.format == "alto" and doc.scale == (2.0, 2.0) and doc.image_path == image
    assert [line.text for line in doc.lines] == list(line.text for line in lines)
    np.testing.assert_allclose(doc.lines[0].polygon, lines[0].polygon)
    np.testing.assert_allclose(doc.lines[0].baseline, lines[0].baseline)
    np.testing.assert_allclose(doc.lines[0].box, lines[0].box)


def test_alto2_box_and_single_baseline(documents):
    _, lines = documents.page_image("scan.png")
    doc = read_document(documents.alto_xml("scan.xml", "scan.png", (1000, 1000), lines,
                                           version=2, polygons=False, baseline_points=False))
    first = doc.lines[0]
    assert first.polygon is None and first.box == pytest.approx(lines[0].box)
    y = lines[0].baseline[0][1]
    np.testing.assert_allclose(first.baseline, [[first.box[0], y], [first.box[2], y]])


def test_alto_image_by_stem_and_reading_order(documents):
    image, lines = documents.page_image("scan.png")
    xml = documents.alto_xml("scan.xml", None, (1000, 1000), lines)
    text = xml.read_text().replace(
        "<Layout>", '<ReadingOrder><OrderedGroup ID="g1"><ElementRef ID="e1" REF="l3"/>'
                    '<ElementRef ID="e2" REF="l1"/></OrderedGroup></ReadingOrder><Layout>')
    xml.write_text(text)
    doc = read_document(xml)
    assert doc.image_path == image
    assert [line.id for line in doc.lines] == ["l3", "l1", "l2"]


def test_cut_by_polygon_sets_outside_to_paper(documents):
    image, lines = documents.page_image("scan.png")
    doc = read_document(documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines))
    page = read_gray(image)
    crops, problems = cut_lines(doc, page)
    assert not problems and [c.line.id for c in crops] == ["l1", "l2", "l3"]
    crop = crops[0]
    x0, y0, x1, y1 = lines[0].box
    assert (crop.x0, crop.y0) == (x0, y0) and crop.gray.shape == (y1 - y0 + 1, x1 - x0 + 1)
    # the top corners lie outside the six-point polygon: paper grey, no noise
    assert crop.gray[0, 0] == crop.gray[0, -1] == np.median(crop.gray)
    assert crop.gray.min() < 100  # the ink is kept


def test_bad_lines_are_reported_by_id(documents):
    image, lines = documents.page_image("scan.png")
    extra = """<TextRegion id="bad"><Coords points="1,1 5,1 5,5"/>
      <TextLine id="two"><Coords points="10,10 60,10"/><TextEquiv><Unicode>x</Unicode>
      </TextEquiv></TextLine>
      <TextLine id="flat"><Coords points="10,10 60,10 90,10"/></TextLine>
      <TextLine id="away"><Coords points="2000,2000 2100,2000 2100,2050"/></TextLine>
      <TextLine id="odd"><Coords points="10,10 60"/></TextLine>
      <TextLine id="none"/></TextRegion>"""
    doc = read_document(documents.page_xml("scan.xml", "scan.png", (1000, 1000), lines,
                                           extra=extra))
    crops, problems = cut_lines(doc, read_gray(image))
    assert len(crops) == 3
    reasons = "\n".join([*doc.problems, *problems])
    for line_id, reason in (("two", "degenerate polygon (2"),
                            ("flat", "degenerate polygon (no area)"),
                            ("away", "outside the image"), ("odd", "bad points"),
                            ("none", "no polygon")):
        assert f"scan.xml: line {line_id}: {reason}" in reasons


def test_baseline_band_without_polygon(documents):
    image, lines = documents.page_image("scan.png")
    page = read_gray(image)
    line = DocumentLine("b1", "x", None, np.array(lines[1].baseline, float), None)
    crop = cut_line(page, line, spacing=60.0)
    base_y = lines[1].baseline[0][1]
    assert crop.y0 == pytest.approx(base_y - 45, abs=1)
    assert crop.gray.shape[0] == pytest.approx(61, abs=2)
    assert crop.gray.min() < 100
