"""Documents of text lines: PAGE-XML and ALTO files with their page images.

A :class:`Document` is what ``handwriting.page`` and ``handwriting.alto`` read from one XML file:
its page image, its text lines in reading order (id, reference text, polygon, baseline, box, in
pixels of the page image) and what could not be read, per line id. This module holds what both
formats share: point lists, finding the page image, the unit scale, cutting a line out of its
page (:func:`cut_line`), placing word boxes back on the page (:func:`clip_polygon_x`), and
telling the formats apart (:func:`sniff`).

Legend: P polygon points, B baseline points; ``(P, 2)`` arrays hold ``(x, y)`` in page-image
pixels (0, 0 at the top left corner).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from ctc.errors import InputError
from handwriting.images import IMAGE_SUFFIXES, check_line_shape

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

# the band cut around a baseline when a line has no polygon: this share of the line spacing
# above the baseline and the rest below it
BAND_ABOVE = 0.75
BAND_BELOW = 0.25
MIN_CROP = 4  # pixels: a narrower or lower crop is reported, not cut


@dataclass
class DocumentLine:
    """One text line of a document, in page-image pixels.

    ``text``: the reference transcription (None when the file has none); ``polygon`` ``(P, 2)``,
    ``baseline`` ``(B, 2)``, ``box`` ``(x0, y0, x1, y1)``: what the file gives (each may be
    None); ``element``: the lxml element, for writing the recognised text back; ``region``: the
    id of its region or block.
    """

    id: str
    text: str | None
    polygon: np.ndarray | None
    baseline: np.ndarray | None
    box: tuple[float, float, float, float] | None
    element: Any = None
    region: str | None = None


@dataclass
class Document:
    """A PAGE or ALTO file read back (see the module docstring).

    ``format``: ``"page"`` or ``"alto"``; ``namespace``: the file's XML namespace (kept when
    writing); ``tree``: the parsed lxml tree (written back with the recognised text);
    ``image_name``: the page image as the file names it; ``image_path``: where it was found;
    ``image_size``: its ``(width, height)`` in pixels; ``scale``: ``(sx, sy)`` from file units
    to image pixels; ``lines``: readable lines in reading order; ``problems``: one message per
    line (or part of the file) that could not be read.
    """

    path: Path
    format: str
    namespace: str
    tree: Any
    image_name: str
    image_path: Path
    image_size: tuple[int, int]
    scale: tuple[float, float] = (1.0, 1.0)
    lines: list[DocumentLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, line_id: str | None, reason: str) -> None:
        """Record that line ``line_id`` (or the file, for None) was left out, and why."""
        where = f"{self.path}: line {line_id}" if line_id is not None else str(self.path)
        self.problems.append(f"{where}: {reason}")

    def to_file_units(self, x: float, y: float) -> tuple[float, float]:
        """Page-image pixels -> the file's units."""
        return x / self.scale[0], y / self.scale[1]


def parse_points(text: str | None) -> np.ndarray | None:
    """A point list ``"x1,y1 x2,y2 ..."`` (PAGE), ``"x1 y1 x2 y2 ..."`` or ``"x1,y1,x2,y2"``
    (ALTO, both seen in the wild; the ALTO schema leaves the syntax open) -> ``(P, 2)`` float64;
    None for an empty or missing attribute. ValueError for an odd count of numbers."""
    if text is None:
        return None
    numbers = [float(n) for n in _NUMBER.findall(text)]
    if not numbers:
        return None
    if len(numbers) % 2:
        raise ValueError(f"odd number of coordinates ({len(numbers)}) in {text[:40]!r}")
    return np.asarray(numbers, dtype=np.float64).reshape(-1, 2)


def format_points(points: np.ndarray, sep: str = ",") -> str:
    """``(P, 2)`` -> ``"x1,y1 x2,y2 ..."`` of non-negative integers (the PAGE PointsType
    pattern ``([0-9]+,[0-9]+ )+([0-9]+,[0-9]+)``; ALTO readers accept it too)."""
    ints = np.maximum(np.rint(points), 0).astype(np.int64)
    return " ".join(f"{x}{sep}{y}" for x, y in ints)


def polygon_area(points: np.ndarray) -> float:
    """Area of a ``(P, 2)`` polygon (shoelace formula; 0 for fewer than 3 points)."""
    if len(points) < 3:
        return 0.0
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def box_polygon(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """The ``(4, 2)`` rectangle ``[x0, x1] x [y0, y1]``, clockwise from the top left."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def baseline_band(baseline: np.ndarray, spacing: float) -> np.ndarray:
    """The ``(2B, 2)`` polygon around a baseline ``(B, 2)``: ``BAND_ABOVE * spacing`` above it
    and ``BAND_BELOW * spacing`` below (ascenders and descenders of one line, not the next)."""
    order = np.argsort(baseline[:, 0], kind="stable")
    line = baseline[order]
    if len(line) == 1:
        line = np.vstack([line, line])
    top = line - np.array([0.0, BAND_ABOVE * spacing])
    bottom = line + np.array([0.0, BAND_BELOW * spacing])
    return np.vstack([top, bottom[::-1]])


def line_spacing(lines: Sequence[DocumentLine], page_height: int) -> float:
    """Typical distance between successive baselines (the median over neighbours in reading
    order), else from line boxes and polygons, else a 25th of the page height."""
    heights = []
    for line in lines:
        if line.box is not None:
            heights.append(line.box[3] - line.box[1])
        elif line.polygon is not None and len(line.polygon) >= 3:
            heights.append(float(np.ptp(line.polygon[:, 1])))
    ys = [float(np.mean(line.baseline[:, 1])) for line in lines if line.baseline is not None]
    gaps = [abs(b - a) for a, b in pairwise(ys) if abs(b - a) > 2]
    if gaps:
        return float(np.median(gaps))
    if heights:
        return float(np.median(heights))
    return max(page_height / 25.0, 16.0)


def clip_polygon_x(polygon: np.ndarray, x0: float, x1: float) -> np.ndarray:
    """The part of ``polygon`` ``(P, 2)`` with ``x0 <= x <= x1`` (Sutherland-Hodgman against the
    two vertical edges of the strip; a concave polygon may give overlapping edges, never points
    outside it). ``(0, 2)`` when nothing is left."""

    def clip(points: np.ndarray, keep_right_of: float, sign: float) -> np.ndarray:
        out: list[np.ndarray] = []
        n = len(points)
        for i in range(n):
            cur, prev = points[i], points[i - 1]
            cur_in = sign * (cur[0] - keep_right_of) >= 0
            prev_in = sign * (prev[0] - keep_right_of) >= 0
            if cur_in != prev_in:
                t = (keep_right_of - prev[0]) / (cur[0] - prev[0])
                out.append(prev + t * (cur - prev))
            if cur_in:
                out.append(cur)
        return np.array(out, dtype=np.float64).reshape(-1, 2)

    if len(polygon) == 0 or x1 < x0:
        return np.zeros((0, 2))
    return clip(clip(polygon, x0, 1.0), x1, -1.0)


def word_polygon(outline: np.ndarray, x0: float, x1: float) -> np.ndarray:
    """A word's outline on the page: its x range ``[x0, x1]`` cut out of the line's outline
    ``(P, 2)``; the strip's bounding box when the cut leaves no area."""
    piece = clip_polygon_x(outline, x0, x1)
    if len(piece) >= 3 and polygon_area(piece) > 0:
        return piece
    y0, y1 = float(outline[:, 1].min()), float(outline[:, 1].max())
    return box_polygon(x0, y0, max(x1, x0 + 1), y1)


@dataclass(frozen=True)
class LineCrop:
    """A line cut out of its page: ``gray`` ``(h, w)`` uint8 (outside its outline set to the
    paper's grey), whose top left pixel is ``(x0, y0)`` on the page, and ``outline``
    ``(P, 2)``, the polygon it was cut by, in page pixels."""

    line: DocumentLine
    gray: np.ndarray
    x0: int
    y0: int
    outline: np.ndarray


def line_outline(line: DocumentLine, spacing: float) -> np.ndarray:
    """The polygon a line is cut by: its polygon, else its box, else a band around its
    baseline. InputError (the reason only) when none is usable."""
    if line.polygon is not None:
        distinct = np.unique(np.rint(line.polygon * 100), axis=0)
        if len(distinct) < 3:
            raise InputError(f"degenerate polygon ({len(distinct)} distinct points)")
        if polygon_area(line.polygon) < 1.0:
            raise InputError("degenerate polygon (no area)")
        return line.polygon
    if line.box is not None:
        x0, y0, x1, y1 = line.box
        if x1 - x0 < 1 or y1 - y0 < 1:
            raise InputError(f"empty box ({x1 - x0:g}x{y1 - y0:g})")
        return box_polygon(x0, y0, x1, y1)
    if line.baseline is not None:
        if np.ptp(line.baseline[:, 0]) < 1:
            raise InputError(f"degenerate baseline ({len(line.baseline)} points, no width)")
        return baseline_band(line.baseline, spacing)
    raise InputError("no polygon, box or baseline")


def cut_line(page: np.ndarray, line: DocumentLine, spacing: float) -> LineCrop:
    """Cut ``line`` out of ``page`` ``(H, W)`` uint8: the bounding box of its outline (clipped
    to the page), pixels outside the outline set to the median grey inside it (the paper).
    InputError with the reason when the outline is degenerate or outside the page, or the crop
    too small or blank."""
    height, width = page.shape
    outline = line_outline(line, spacing)
    left, top = np.floor(outline.min(axis=0)).astype(int)
    right, bottom = np.ceil(outline.max(axis=0)).astype(int) + 1
    x0, y0 = max(int(left), 0), max(int(top), 0)
    x1, y1 = min(int(right), width), min(int(bottom), height)
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"outside the image (x {left}..{right}, y {top}..{bottom} on a "
                         f"{width}x{height} page)")
    if x1 - x0 < MIN_CROP or y1 - y0 < MIN_CROP:
        raise InputError(f"too small ({x1 - x0}x{y1 - y0} pixels inside the image)")
    crop = page[y0:y1, x0:x1]
    mask_image = Image.new("L", (x1 - x0, y1 - y0), 0)
    shifted = [(float(x) - x0, float(y) - y0) for x, y in outline]
    ImageDraw.Draw(mask_image).polygon(shifted, fill=1, outline=1)
    mask = np.asarray(mask_image, dtype=bool)
    if not mask.any():
        raise InputError("outline covers no pixel of the image")
    paper = np.uint8(np.median(crop[mask]))
    gray = np.where(mask, crop, paper).astype(np.uint8)
    check_line_shape(gray, "line")
    return LineCrop(line, gray, x0, y0, outline)


def cut_lines(doc: Document, page: np.ndarray) -> tuple[list[LineCrop], list[str]]:
    """Every line of ``doc`` cut out of its page image ``page`` ``(H, W)``; the lines that
    could not be cut come back as one message each (file, line id, reason)."""
    spacing = line_spacing(doc.lines, page.shape[0])
    crops, problems = [], []
    for line in doc.lines:
        try:
            crops.append(cut_line(page, line, spacing))
        except InputError as err:
            reason = str(err).removeprefix("line: ")
            problems.append(f"{doc.path}: line {line.id}: {reason}")
    return crops, problems


def resolve_image(xml_path: Path, name: str) -> Path:
    """The page image a PAGE or ALTO file names: relative to the XML's folder (as the formats
    mean it), else its parent (Transkribus exports put the XML in ``page/`` beside the images),
    else the bare file name in either; a ``file://`` URL is read as a path. Without a name,
    an image with the XML's stem beside it. InputError naming both when none exists."""
    folder = xml_path.parent
    candidates: list[Path] = []
    if name:
        clean = name.removeprefix("file://")
        given = Path(clean.replace("\\", "/"))
        if given.is_absolute():
            candidates.append(given)
        candidates += [folder / given, folder.parent / given, folder / given.name,
                       folder.parent / given.name]
    else:
        candidates += [folder / f"{xml_path.stem}{s}" for s in IMAGE_SUFFIXES]
        candidates += [folder.parent / f"{xml_path.stem}{s}" for s in IMAGE_SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if not name:
        raise InputError(f"{xml_path}: names no page image and no image {xml_path.stem}.* lies "
                         "beside it")
    raise InputError(f"{xml_path}: page image {name!r} not found (looked in {folder}"
                     f"{' and ' + str(folder.parent) if folder.parent != folder else ''})")


def image_info(path: Path) -> tuple[tuple[int, int], tuple[float, float] | None]:
    """``(width, height)`` of an image file (header only) and its resolution in dots per inch
    when stored; InputError naming the file when unreadable."""
    try:
        with Image.open(path) as image:
            dpi = image.info.get("dpi")
            return tuple(image.size), (float(dpi[0]), float(dpi[1])) if dpi else None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"{path}: unreadable page image ({reason})") from None


PAGE_TAG = "PcGts"
ALTO_TAG = "alto"


def sniff(path: str | os.PathLike) -> str | None:
    """``"page"``, ``"alto"`` or None: what the root element of an XML file is (only its start
    is parsed)."""
    from lxml import etree

    try:
        for _, element in etree.iterparse(os.fspath(path), events=("start",),
                                          resolve_entities=False, no_network=True):
            local = etree.QName(element).localname
            return {PAGE_TAG: "page", ALTO_TAG: "alto"}.get(local)
    except (etree.XMLSyntaxError, OSError):
        return None
    return None


def parse_xml(path: Path) -> Any:
    """The lxml tree of ``path``; InputError naming the file (and the line of a syntax
    error). External entities and the network are off."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True,
                             remove_blank_text=False)
    try:
        return etree.parse(os.fspath(path), parser)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err})") from None
    except etree.XMLSyntaxError as err:
        raise InputError(f"{path}: not well-formed XML ({err.msg}, line {err.lineno})") from None


def read_document(path: str | os.PathLike) -> Document:
    """A PAGE or ALTO file (told apart by its root element) read into a :class:`Document`;
    InputError naming the file when it is neither or cannot be read."""
    from handwriting.alto import read_alto
    from handwriting.page import read_page

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kind = sniff(path)
    if kind == "page":
        return read_page(path)
    if kind == "alto":
        return read_alto(path)
    parse_xml(path)  # a syntax error says where
    raise InputError(f"{path}: neither PAGE-XML (root PcGts) nor ALTO (root alto)")


def serialize_xml(tree_or_root: Any) -> str:
    """The text of a written document: an XML declaration (UTF-8), the tree, a final newline."""
    from lxml import etree

    body = etree.tostring(tree_or_root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def unique_id(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted_2``, ``wanted_3``, ... the first not in ``taken`` (added)."""
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}_{n}"
    taken.add(candidate)
    return candidate


def clean_text(text: str | None) -> str | None:
    """A transcription on one line: whitespace runs (line breaks, tabs) become single spaces,
    the ends are stripped; None or empty stays None."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None
