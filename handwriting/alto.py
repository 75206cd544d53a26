"""ALTO (Library of Congress, versions 2 to 4): reading text lines and writing recognised text
back, after the ALTO 4.4 schema (``alto-4-4.xsd``) and its older versions.

Read (``read_alto``): ``Description/MeasurementUnit`` (``pixel``, ``mm10``, ``inch1200``) and
``Description/sourceImageInformation/fileName`` (the page image, relative to the XML); the first
``Layout/Page`` (``WIDTH``/``HEIGHT`` give the scale from file units to image pixels, as the
schema's MeasurementUnitType documentation says; without them a ``pixel`` file is taken as is
and the others use the image's stored resolution); every ``TextBlock`` (also inside
``ComposedBlock`` and the margins) with its ``TextLine``s: ``@ID``, the box ``HPOS``, ``VPOS``,
``WIDTH``, ``HEIGHT``, ``Shape/Polygon@POINTS`` and ``BASELINE`` (a point list since 4.2, a
single y before), and the text: ``String@CONTENT``, ``SP`` as a space, ``HYP@CONTENT``. Point
lists are read with or without commas (the schema does not fix their syntax). Reading order:
the 4.3 ``ReadingOrder`` (``ElementRef@REF`` of blocks or lines), else file order.

Written back (``write_alto``): each recognised ``TextLine`` keeps its attributes and ``Shape``;
its ``String``, ``SP`` and ``HYP`` children are replaced by one ``String`` per recognised word
(``HPOS``, ``VPOS``, ``WIDTH``, ``HEIGHT`` in the file's unit: the word's x range cut out of the
line's outline; ``CONTENT``; ``WC``, the word confidence in [0, 1]; ``CC``, one digit per
character from 0 (sure) to 9 (unsure), as StringType defines them) with an ``SP`` between
words. In the version 4 namespace a ``Description/Processing`` step is added. ``new_alto``
writes a fresh ALTO 4 document for lines that came from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ctc.errors import InputError
from handwriting.documents import (
    Document,
    DocumentLine,
    clean_text,
    format_points,
    image_info,
    parse_points,
    parse_xml,
    resolve_image,
    serialize_xml,
    unique_id,
    word_polygon,
)

ALTO_2 = "http://www.loc.gov/standards/alto/ns-v2#"
ALTO_3 = "http://www.loc.gov/standards/alto/ns-v3#"
ALTO_4 = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_NAMESPACES = (ALTO_2, ALTO_3, ALTO_4)
SOFTWARE = "carousel htr"
# pixels per file unit for each MeasurementUnit, given the image's dots per inch
_PER_INCH = {"mm10": 254.0, "inch1200": 1200.0}


def _local(element: Any) -> str:
    from lxml import etree

    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child(element: Any, name: str) -> Any:
    return next((c for c in element if _local(c) == name), None)


def _float(element: Any, name: str) -> float | None:
    try:
        return float(element.get(name))
    except (TypeError, ValueError):
        return None


def _scale(path: Path, page: Any, unit: str, size: tuple[int, int],
           dpi: tuple[float, float] | None) -> tuple[tuple[float, float], tuple[int, int]]:
    width, height = _float(page, "WIDTH"), _float(page, "HEIGHT")
    if width and height and width > 0 and height > 0:
        if unit == "pixel" and size != (round(width), round(height)) \
                and size[::-1] == (round(width), round(height)):
            size = (round(width), round(height))  # EXIF-rotated image (read_gray turns it)
        return (size[0] / width, size[1] / height), size
    if unit == "pixel":
        return (1.0, 1.0), size
    if unit in _PER_INCH and dpi:
        return (dpi[0] / _PER_INCH[unit], dpi[1] / _PER_INCH[unit]), size
    raise InputError(f"{path}: MeasurementUnit {unit!r} needs Page WIDTH and HEIGHT or an "
                     "image that stores its resolution, to be turned into pixels")


def reading_order(root: Any) -> list[str]:
    """Element ids in the order of the ALTO 4.3 ``ReadingOrder`` (empty without one)."""
    order: list[str] = []

    def walk(group: Any) -> None:
        for child in group:
            name = _local(child)
            if name in ("ElementRef", "OrderedGroup", "UnorderedGroup"):
                order.extend((child.get("REF") or "").split())
                if name != "ElementRef":
                    walk(child)

    ro = _child(root, "ReadingOrder")
    if ro is not None:
        walk(ro)
    return order


def line_text(line: Any) -> str | None:
    """A TextLine's text: its Strings' CONTENT, a space for each SP (and between Strings that
    have none), a HYP's CONTENT at the end; None without any String."""
    parts: list[str] = []
    strings = 0
    for child in line:
        name = _local(child)
        if name == "String":
            if parts and not parts[-1].endswith(" "):
                parts.append(" ")
            parts.append(child.get("CONTENT", ""))
            strings += 1
        elif name == "SP":
            parts.append(" ")
        elif name == "HYP":
            parts.append(child.get("CONTENT", "-"))
    return clean_text("".join(parts)) if strings else None


def _line(element: Any, line_id: str, scale: tuple[float, float], region: str | None
          ) -> DocumentLine:
    sx, sy = scale
    box = None
    hpos, vpos = _float(element, "HPOS"), _float(element, "VPOS")
    width, height = _float(element, "WIDTH"), _float(element, "HEIGHT")
    if None not in (hpos, vpos, width, height):
        box = (hpos * sx, vpos * sy, (hpos + width) * sx, (vpos + height) * sy)
    polygon = None
    shape = _child(element, "Shape")
    if shape is not None and _child(shape, "Polygon") is not None:
        polygon = parse_points(_child(shape, "Polygon").get("POINTS"))
        if polygon is not None:
            polygon = polygon * np.asarray(scale)
    baseline = None
    raw = element.get("BASELINE")
    if raw is not None and raw.strip():
        try:
            baseline = parse_points(raw)
            baseline = None if baseline is None else baseline * np.asarray(scale)
        except ValueError:
            numbers = raw.split()
            if len(numbers) != 1:
                raise
            y = float(numbers[0]) * sy  # before ALTO 4.2: one y for the whole line
            if box is not None:
                baseline = np.array([[box[0], y], [box[2], y]])
            elif polygon is not None:
                baseline = np.array([[polygon[:, 0].min(), y], [polygon[:, 0].max(), y]])
    return DocumentLine(line_id, line_text(element), polygon, baseline, box, element, region)


def read_alto(path: str | Path) -> Document:
    """Read an ALTO file and find its page image; see the module docstring. InputError naming
    the file when it cannot be used at all; unreadable lines are in ``problems``."""
    from lxml import etree

    path = Path(path)
    tree = parse_xml(path)
    root = tree.getroot()
    namespace = etree.QName(root).namespace or ""
    description = _child(root, "Description")
    unit, name = "pixel", ""
    if description is not None:
        unit_node = _child(description, "MeasurementUnit")
        if unit_node is not None and (unit_node.text or "").strip():
            unit = unit_node.text.strip()
        info = _child(description, "sourceImageInformation")
        if info is not None and _child(info, "fileName") is not None:
            name = (_child(info, "fileName").text or "").strip()
    if unit not in ("pixel", *_PER_INCH):
        raise InputError(f"{path}: unknown MeasurementUnit {unit!r} (pixel, mm10 or inch1200)")
    layout = _child(root, "Layout")
    pages = [] if layout is None else [c for c in layout if _local(c) == "Page"]
    if not pages:
        raise InputError(f"{path}: no Layout/Page element")
    image_path = resolve_image(path, name)
    size, dpi = image_info(image_path)
    scale, size = _scale(path, pages[0], unit, size, dpi)
    doc = Document(path, "alto", namespace, tree, name, image_path, size, scale)
    if len(pages) > 1:
        doc.problem(None, f"{len(pages)} Page elements for one image: only the first is read")
    order = {ref: i for i, ref in enumerate(reading_order(root))}
    blocks = [b for b in pages[0].iter(f"{{{namespace}}}TextBlock" if namespace
                                       else "TextBlock")]

    def block_key(pair: tuple[int, Any]) -> tuple[int, int, int]:
        position, block = pair
        ids = [block.get("ID"), *(line.get("ID") for line in block if _local(line) == "TextLine")]
        ranks = [order[i] for i in ids if i in order]
        return (0, min(ranks), position) if ranks else (1, 0, position)

    taken: set[str] = set()
    for _, block in sorted(enumerate(blocks), key=block_key):
        lines = [c for c in block if _local(c) == "TextLine"]
        if any(line.get("ID") in order for line in lines):
            lines.sort(key=lambda line: order.get(line.get("ID"), len(order)))
        for k, element in enumerate(lines):
            line_id = unique_id(element.get("ID") or f"{block.get('ID', 'block')}_l{k + 1}",
                                taken)
            try:
                doc.lines.append(_line(element, line_id, scale, block.get("ID")))
            except ValueError as err:
                doc.problem(line_id, f"bad points ({err})")
    return doc


def char_confidences(result: Any) -> list[list[float]]:
    """Per recognised word, one confidence per character: each token's confidence for each
    character it writes (a word's own confidence where tokens and word do not line up)."""
    tokens = iter([t for t in result.tokens if t.text.strip()])
    out = []
    for word in result.words:
        got, confs = "", []
        while len(got) < len(word.text):
            token = next(tokens, None)
            if token is None:
                break
            got += token.text
            confs += [1.0 if token.confidence is None else token.confidence] * len(token.text)
        if got != word.text:
            confs = [1.0 if word.confidence is None else word.confidence] * len(word.text)
        out.append(confs)
    return out


def _cc(confidences: Sequence[float]) -> str:
    """ALTO CC: per character, 0 (sure) to 9 (unsure)."""
    return " ".join(str(round((1.0 - min(max(c, 0.0), 1.0)) * 9)) for c in confidences)


def _number(value: float) -> str:
    return str(round(value))


def _box_attrs(node: Any, polygon: np.ndarray, scale: tuple[float, float]) -> None:
    (x0, y0), (x1, y1) = polygon.min(axis=0), polygon.max(axis=0)
    sx, sy = scale
    node.set("HPOS", _number(x0 / sx))
    node.set("VPOS", _number(y0 / sy))
    node.set("WIDTH", _number((x1 - x0) / sx))
    node.set("HEIGHT", _number((y1 - y0) / sy))


def _fill_line(element: Any, result: Any, outline: np.ndarray, scale: tuple[float, float],
               taken: set[str]) -> None:
    """Replace ``element``'s String, SP and HYP children by ``result``'s words (placed in page
    pixels); ``outline`` ``(P, 2)``: the line's polygon in page pixels."""
    from lxml import etree

    ns = etree.QName(element).namespace
    tag = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
    tail = element.text
    for child in list(element):
        if _local(child) in ("String", "SP", "HYP"):
            element.remove(child)
    line_id = element.get("ID") or "line"
    confidences = char_confidences(result)
    previous: np.ndarray | None = None
    nodes = []
    for k, (word, chars) in enumerate(zip(result.words, confidences)):
        polygon = word_polygon(outline, word.start, word.end)
        if previous is not None:
            space = etree.Element(tag("SP"))
            gap_start = float(previous[:, 0].max())
            gap = np.array([[gap_start, polygon[:, 1].min()],
                            [max(float(polygon[:, 0].min()), gap_start), polygon[:, 1].max()]])
            _box_attrs(space, gap, scale)
            space.attrib.pop("HEIGHT")
            nodes.append(space)
        node = etree.Element(tag("String"), ID=unique_id(f"{line_id}_w{k + 1}", taken))
        _box_attrs(node, polygon, scale)
        node.set("CONTENT", word.text)
        if word.confidence is not None:
            node.set("WC", f"{min(max(word.confidence, 0.0), 1.0):.4f}")
        node.set("CC", _cc(chars))
        nodes.append(node)
        previous = polygon
    if not nodes:  # the schema wants at least one String in a TextLine
        node = etree.Element(tag("String"), ID=unique_id(f"{line_id}_w1", taken), CONTENT="")
        _box_attrs(node, outline, scale)
        nodes.append(node)
    for node in nodes:
        node.tail = tail
        element.append(node)


def _add_processing(root: Any, namespace: str, taken: set[str]) -> None:
    from lxml import etree

    description = _child(root, "Description")
    if description is None or namespace != ALTO_4:
        return
    tag = lambda name: f"{{{namespace}}}{name}"  # noqa: E731
    step = etree.Element(tag("Processing"), ID=unique_id("carousel_recognition", taken))
    etree.SubElement(step, tag("processingCategory")).text = "contentGeneration"
    etree.SubElement(step, tag("processingDateTime")).text = \
        datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    software = etree.SubElement(step, tag("processingSoftware"))
    etree.SubElement(software, tag("softwareName")).text = SOFTWARE
    # Description's sequence: MeasurementUnit, sourceImageInformation, OCRProcessing*,
    # Processing*: the new step goes after the last of them
    position = max((i + 1 for i, c in enumerate(description)
                    if _local(c) in ("MeasurementUnit", "sourceImageInformation",
                                     "OCRProcessing", "Processing")), default=0)
    step.tail = description.text
    description.insert(position, step)


def write_alto(doc: Document, results: Sequence[Any]) -> str:
    """``doc`` (an ALTO document) with ``results`` written into their lines (``meta["index"]``:
    the line's position in ``doc.lines``; ``meta["outline"]``: its polygon in page pixels);
    the text of the updated file."""
    root = doc.tree.getroot()
    taken = {e.get("ID") for e in root.iter() if isinstance(e.tag, str) and e.get("ID")}
    for result in results:
        line = doc.lines[result.meta["index"]]
        _fill_line(line.element, result, np.asarray(result.meta["outline"]), doc.scale, taken)
    _add_processing(root, doc.namespace, taken)
    return serialize_xml(doc.tree)


def new_alto(results: Sequence[Any], image_name: str, image_size: tuple[int, int]) -> str:
    """A fresh ALTO 4 document (pixel units) holding ``results`` (``meta["outline"]`` and
    optionally ``meta["baseline"]`` in pixels of ``image_name``), one TextBlock in reading
    order."""
    from lxml import etree

    ns = ALTO_4
    tag = lambda name: f"{{{ns}}}{name}"  # noqa: E731
    root = etree.Element(tag("alto"), nsmap={None: ns})
    description = etree.SubElement(root, tag("Description"))
    etree.SubElement(description, tag("MeasurementUnit")).text = "pixel"
    info = etree.SubElement(description, tag("sourceImageInformation"))
    etree.SubElement(info, tag("fileName")).text = image_name
    width, height = image_size
    layout = etree.SubElement(root, tag("Layout"))
    page = etree.SubElement(layout, tag("Page"), ID="page1", PHYSICAL_IMG_NR="1",
                            WIDTH=str(width), HEIGHT=str(height))
    space = etree.SubElement(page, tag("PrintSpace"), HPOS="0", VPOS="0", WIDTH=str(width),
                             HEIGHT=str(height))
    outlines = [np.asarray(r.meta["outline"]) for r in results]
    block = etree.SubElement(space, tag("TextBlock"), ID="b1")
    if outlines:
        _box_attrs(block, np.vstack(outlines), (1.0, 1.0))
    taken = {"page1", "b1"}
    for result, outline in zip(results, outlines):
        line_id = unique_id(str(result.meta.get("line") or f"l{len(taken)}"), taken)
        line = etree.SubElement(block, tag("TextLine"), ID=line_id)
        _box_attrs(line, outline, (1.0, 1.0))
        baseline = result.meta.get("baseline")
        if baseline is not None and len(baseline) >= 2:
            line.set("BASELINE", format_points(np.asarray(baseline)))
        shape = etree.SubElement(line, tag("Shape"))
        etree.SubElement(shape, tag("Polygon"), POINTS=format_points(outline))
        _fill_line(line, result, outline, (1.0, 1.0), taken)
    _add_processing(root, ns, taken)
    etree.indent(root, space="  ")
    return serialize_xml(root)
