"""PAGE-XML (PRImA Page Content, schemas 2013-07-15 and 2019-07-15): reading text lines and
writing recognised text back.

Read (``read_page``): ``PcGts/Page@imageFilename,imageWidth,imageHeight``; every ``TextRegion``
at any depth (regions nest in the 2019 schema, e.g. inside a ``TableRegion``) with its
``TextLine`` children: ``@id``, ``Coords@points`` (the polygon), ``Baseline@points`` and the
text of the ``TextEquiv`` with the lowest ``@index`` ("the text content with the lowest index
should be interpreted as the main text content", TextEquivType in the 2019 schema), else its
``Word``s' texts joined by spaces. Reading order: ``Page/ReadingOrder`` (ordered groups by
``@index``, unordered ones in file order, nested groups flattened), else Transkribus'
``custom="readingOrder {index:N;}"``, else file order. Coordinates are scaled when the image
has another size than ``imageWidth`` x ``imageHeight``.

Written back (``write_page``): in each recognised ``TextLine`` the ``Word`` and ``TextEquiv``
children are replaced by the recognised words (``Word`` with ``Coords``: the word's x range cut
out of the line polygon, and ``TextEquiv@conf``) and the line's ``TextEquiv@conf`` with its
text, at the places the 2019 schema's ``TextLineType`` sequence gives them (after
``AlternativeImage``, ``Coords``, ``Baseline``; before ``TextStyle``, ``UserDefined``,
``Labels``). A region's own ``TextEquiv``, where it has one, gets its lines' texts joined by
line breaks. ``Metadata/LastChange`` is updated and, in the 2019 namespace, a
``MetadataItem type="processingStep"`` added; every other element and attribute is kept as it
was. ``new_page`` writes a fresh 2019 document for lines that came from elsewhere (line images,
ALTO files).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ctc.errors import InputError
from handwriting.documents import (
    Document,
    DocumentLine,
    box_polygon,
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

PAGE_2013 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
PAGE_2019 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGE_NAMESPACES = (PAGE_2013, PAGE_2019)
CREATOR = "carousel htr"
_CUSTOM_ORDER = re.compile(r"readingOrder\s*\{[^}]*index\s*:\s*(\d+)")
_GROUPS = ("OrderedGroup", "UnorderedGroup", "OrderedGroupIndexed", "UnorderedGroupIndexed")
_REFS = ("RegionRef", "RegionRefIndexed")
# TextLineType's sequence (2019 schema): recognised Words and TextEquiv go after these
_BEFORE_WORDS = ("AlternativeImage", "Coords", "Baseline")


def _local(element: Any) -> str:
    from lxml import etree

    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _index_key(position: int, element: Any) -> tuple[int, int]:
    index = element.get("index", "")
    return (0, int(index)) if index.strip().lstrip("-").isdigit() else (1, position)


def reading_order(page: Any) -> list[str]:
    """Region ids in the order of ``Page/ReadingOrder`` (empty without one)."""
    order: list[str] = []

    def walk(group: Any) -> None:
        children = [c for c in group if _local(c) in _GROUPS + _REFS]
        if _local(group).startswith("Ordered"):
            children = [c for _, c in sorted(enumerate(children),
                                             key=lambda pair: _index_key(*pair))]
        for child in children:
            if child.get("regionRef"):
                order.append(child.get("regionRef"))
            if _local(child) in _GROUPS:
                walk(child)

    for ro in (c for c in page if _local(c) == "ReadingOrder"):
        walk(ro)
    return order


def _custom_index(element: Any) -> int | None:
    match = _CUSTOM_ORDER.search(element.get("custom", ""))
    return int(match.group(1)) if match else None


def equiv_text(element: Any) -> str | None:
    """The ``Unicode`` of ``element``'s main ``TextEquiv`` (lowest ``@index``, else the first);
    None without a TextEquiv."""
    equivs = [c for c in element if _local(c) == "TextEquiv"]
    if not equivs:
        return None
    _, main = min(enumerate(equivs), key=lambda pair: _index_key(*pair))
    unicode = next((c for c in main if _local(c) == "Unicode"), None)
    return (unicode.text or "") if unicode is not None else None


def line_text(line: Any) -> str | None:
    """A TextLine's transcription: its own TextEquiv, else its Words' joined by spaces."""
    text = equiv_text(line)
    if text is None:
        words = [equiv_text(w) for w in line if _local(w) == "Word"]
        words = [w for w in words if w]
        text = " ".join(words) if words else None
    return clean_text(text)


def _points(element: Any, child: str, scale: tuple[float, float]) -> np.ndarray | None:
    node = next((c for c in element if _local(c) == child), None)
    if node is None:
        return None
    points = parse_points(node.get("points"))
    return None if points is None else points * np.asarray(scale)


def read_page(path: str | Path) -> Document:
    """Read a PAGE-XML file and find its page image; see the module docstring. InputError
    naming the file when it cannot be used at all; unreadable lines are in ``problems``."""
    path = Path(path)
    tree = parse_xml(path)
    root = tree.getroot()
    from lxml import etree

    namespace = etree.QName(root).namespace or ""
    if "primaresearch.org/PAGE" not in namespace:
        raise InputError(f"{path}: not a PAGE-XML namespace ({namespace or 'none'}; expected "
                         f"{PAGE_2019} or {PAGE_2013})")
    page = next((c for c in root if _local(c) == "Page"), None)
    if page is None:
        raise InputError(f"{path}: no Page element")
    name = page.get("imageFilename", "")
    image_path = resolve_image(path, name)
    size, _ = image_info(image_path)
    try:
        declared = (int(float(page.get("imageWidth", "0"))),
                    int(float(page.get("imageHeight", "0"))))
    except ValueError:
        declared = (0, 0)
    if declared[0] > 0 and declared[1] > 0:
        if size != declared and size[::-1] == declared:
            size = declared  # stored rotated, with an EXIF orientation (read_gray turns it)
        scale = (size[0] / declared[0], size[1] / declared[1])
    else:
        scale = (1.0, 1.0)
    doc = Document(path, "page", namespace, tree, name, image_path, size, scale)
    order = {region: i for i, region in enumerate(reading_order(page))}
    regions = [r for r in page.iter(f"{{{namespace}}}TextRegion")]

    def region_key(pair: tuple[int, Any]) -> tuple[float, float, int]:
        position, region = pair
        for node in [region, *region.iterancestors()]:
            if node.get("id") in order:
                return (0, order[node.get("id")], position)
        if not order and _custom_index(region) is not None:
            return (0, _custom_index(region), position)
        return (1, 0, position)

    taken: set[str] = set()
    for _, region in sorted(enumerate(regions), key=region_key):
        lines = [c for c in region if _local(c) == "TextLine"]
        if lines and all(_custom_index(line) is not None for line in lines):
            lines.sort(key=_custom_index)
        for k, element in enumerate(lines):
            line_id = element.get("id") or f"{region.get('id', 'region')}_l{k + 1}"
            line_id = unique_id(line_id, taken)
            try:
                polygon = _points(element, "Coords", scale)
                baseline = _points(element, "Baseline", scale)
            except ValueError as err:
                doc.problem(line_id, f"bad points ({err})")
                continue
            doc.lines.append(DocumentLine(line_id, line_text(element), polygon, baseline, None,
                                          element, region.get("id")))
    return doc


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _insert_at(line: Any) -> int:
    position = 0
    for i, child in enumerate(line):
        if _local(child) in _BEFORE_WORDS:
            position = i + 1
    return position


def _equiv(ns: str, text: str, conf: float | None) -> Any:
    from lxml import etree

    equiv = etree.Element(f"{{{ns}}}TextEquiv")
    if conf is not None:
        equiv.set("conf", f"{min(max(conf, 0.0), 1.0):.4f}")
    etree.SubElement(equiv, f"{{{ns}}}Unicode").text = text
    return equiv


def _fill_line(element: Any, result: Any, outline: np.ndarray, doc_scale: tuple[float, float],
               taken: set[str]) -> None:
    """Replace ``element``'s Words and TextEquivs by ``result`` (a ``ctc.results.Recognition``
    placed in page pixels); ``outline`` ``(P, 2)``: the line's polygon in page pixels."""
    from lxml import etree

    ns = etree.QName(element).namespace
    tail = next((c.tail for c in element if _local(c) == "Coords"), None)
    for child in list(element):
        if _local(child) in ("Word", "TextEquiv"):
            element.remove(child)
    position = _insert_at(element)
    new = []
    line_id = element.get("id", "line")
    to_file = 1.0 / np.asarray(doc_scale)
    for k, word in enumerate(result.words):
        node = etree.Element(f"{{{ns}}}Word", id=unique_id(f"{line_id}_w{k + 1}", taken))
        polygon = word_polygon(outline, word.start, word.end) * to_file
        etree.SubElement(node, f"{{{ns}}}Coords", points=format_points(polygon))
        node.append(_equiv(ns, word.text, word.confidence))
        new.append(node)
    new.append(_equiv(ns, result.text, result.confidence))
    for offset, node in enumerate(new):
        node.tail = tail
        element.insert(position + offset, node)


def _update_region_text(region: Any) -> None:
    """A region's main TextEquiv (only where it has one) := its lines' texts, one per line."""
    equivs = [c for c in region if _local(c) == "TextEquiv"]
    if not equivs:
        return
    _, main = min(enumerate(equivs), key=lambda pair: _index_key(*pair))
    texts = [equiv_text(line) or "" for line in region if _local(line) == "TextLine"]
    joined = "\n".join(texts)
    main.attrib.pop("conf", None)
    for child in main:
        if _local(child) in ("Unicode", "PlainText"):
            child.text = joined


def _touch_metadata(root: Any, ns: str) -> None:
    from lxml import etree

    metadata = next((c for c in root if _local(c) == "Metadata"), None)
    if metadata is None:
        return
    now = _now()
    last = next((c for c in metadata if _local(c) == "LastChange"), None)
    if last is not None:
        last.text = now
    if ns == PAGE_2019:
        children = list(metadata)
        item = etree.SubElement(metadata, f"{{{ns}}}MetadataItem", type="processingStep",
                                name="recognition", value=CREATOR, date=now)
        if children:
            item.tail, children[-1].tail = children[-1].tail, metadata.text


def write_page(doc: Document, results: Sequence[Any]) -> str:
    """``doc`` (a PAGE document) with ``results`` written into their lines (``meta["index"]``:
    the line's position in ``doc.lines``; ``meta["outline"]``: its polygon in page pixels);
    the text of the updated file."""
    root = doc.tree.getroot()
    taken = {e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    regions = []
    for result in results:
        line = doc.lines[result.meta["index"]]
        _fill_line(line.element, result, np.asarray(result.meta["outline"]), doc.scale, taken)
        parent = line.element.getparent()
        if parent is not None and all(parent is not r for r in regions):
            regions.append(parent)
    for region in regions:
        _update_region_text(region)
    _touch_metadata(root, doc.namespace)
    return serialize_xml(doc.tree)


def new_page(results: Sequence[Any], image_name: str, image_size: tuple[int, int]) -> str:
    """A fresh PAGE 2019 document holding ``results`` (lines placed in pixels of
    ``image_name``, ``meta["outline"]`` and optionally ``meta["baseline"]`` in page pixels),
    one TextRegion around them in reading order."""
    from lxml import etree

    ns = PAGE_2019
    root = etree.Element(f"{{{ns}}}PcGts", nsmap={None: ns})
    metadata = etree.SubElement(root, f"{{{ns}}}Metadata")
    now = _now()
    etree.SubElement(metadata, f"{{{ns}}}Creator").text = CREATOR
    etree.SubElement(metadata, f"{{{ns}}}Created").text = now
    etree.SubElement(metadata, f"{{{ns}}}LastChange").text = now
    width, height = image_size
    page = etree.SubElement(root, f"{{{ns}}}Page", imageFilename=image_name,
                            imageWidth=str(width), imageHeight=str(height))
    outlines = [np.asarray(r.meta["outline"]) for r in results]
    if outlines:
        every = np.vstack(outlines)
        box = box_polygon(*every.min(axis=0), *every.max(axis=0))
    else:
        box = box_polygon(0, 0, max(width - 1, 1), max(height - 1, 1))
    region = etree.SubElement(page, f"{{{ns}}}TextRegion", id="r1")
    etree.SubElement(region, f"{{{ns}}}Coords", points=format_points(box))
    taken = {"r1"}
    for result, outline in zip(results, outlines):
        line_id = unique_id(str(result.meta.get("line") or f"l{len(taken)}"), taken)
        line = etree.SubElement(region, f"{{{ns}}}TextLine", id=line_id)
        etree.SubElement(line, f"{{{ns}}}Coords", points=format_points(outline))
        baseline = result.meta.get("baseline")
        if baseline is not None and len(baseline) >= 2:
            etree.SubElement(line, f"{{{ns}}}Baseline",
                             points=format_points(np.asarray(baseline)))
        _fill_line(line, result, outline, (1.0, 1.0), taken)
    etree.indent(root, space="  ")
    return serialize_xml(root)
