"""Recognising line images and the lines of PAGE/ALTO documents: posteriors placed on the
original pixels, batched forward passes, and the output formats.

Positions: output frame ``f`` spans normalised columns ``[f * s, (f + 1) * s)`` with ``s`` the
model's ``output_frame_shift`` (columns per output frame), mapped back to the pixels of the line
image by its :class:`~handwriting.images.LineGeometry`, plus, for a line cut out of a page, the
crop's left edge on the page (:func:`placed`); ``ctc.results`` places the characters and words.

Batching: the lines of a window of inputs are sorted by width and run ``batch_size`` at a time
(the line CNN and the recurrent encoder are exact on padded batches in eval mode, so the result
does not depend on the batch); results come back per input, in input order.

Formats: ``txt`` (one line of text per line), ``json`` (one object per line: text, confidence,
each character's and word's x range and confidence, the line id and box for a document line),
``page`` and ``alto`` (the input document written back with the recognised text, see
``handwriting.page`` and ``handwriting.alto``; a new document for line images or the other
format).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ctc.errors import InputError
from ctc.modality import Posteriorgram
from ctc.results import Recognition
from handwriting.images import IMAGE_SUFFIXES, LineGeometry, check_line_shape, read_gray

FORMATS = ("txt", "json", "page", "alto")
DEFAULT_BATCH_SIZE = 8  # the fastest on 2 CPU cores (make bench-recognize); GPUs want more
XML_SUFFIXES = (".xml",)
# an image at least this tall and less than PAGE_MAX_ASPECT times as wide is a page, not a line
PAGE_MIN_HEIGHT = 800
PAGE_MAX_ASPECT = 3.0


def placed(source: str, log_probs: torch.Tensor, geometry: LineGeometry, frame_shift: float,
           offset: float = 0.0, extent: float | None = None,
           meta: dict[str, Any] | None = None) -> Posteriorgram:
    """A line's ``(T', V)`` posteriors placed on the original image's columns (``frame_shift``:
    normalised columns per output frame). ``offset``: where the line image's column 0 lies in
    the source (a crop's left edge on its page); ``extent``: the source's width there (default
    ``offset`` + the line image's width)."""
    width = float(extent) if extent is not None else offset + float(geometry.width)
    return Posteriorgram(source, log_probs,
                         lambda frame: offset + geometry.to_original(frame * frame_shift),
                         width, dict(meta or {}))


def looks_like_page(width: int, height: int) -> bool:
    """Whether an image of this size is a page (or a paragraph), not a text line."""
    return height >= PAGE_MIN_HEIGHT and width < PAGE_MAX_ASPECT * height


def is_document(path: str) -> bool:
    return path.lower().endswith(XML_SUFFIXES)


@dataclass
class _Line:
    """One line to run: normalised ink ``(H, W)``, its geometry in its line image, where that
    image lies in the source (``offset``, ``extent``) and the writers' ``meta``."""

    ink: np.ndarray
    geometry: LineGeometry
    offset: float
    extent: float | None
    meta: dict[str, Any]


@dataclass
class _Input:
    """One input file's lines, the lines it lost (``problems``) or why it failed entirely."""

    source: str
    lines: list[_Line] = field(default_factory=list)
    problems: list[InputError] = field(default_factory=list)
    failure: InputError | None = None


def _sibling_document(path: Path) -> Path | None:
    for candidate in (path.with_suffix(".xml"), path.parent / "page" / f"{path.stem}.xml",
                      path.parent / "alto" / f"{path.stem}.xml"):
        if candidate.is_file():
            return candidate
    return None


def _read_image(featurizer: Any, path: str) -> _Input:
    item = _Input(path)
    try:
        gray = read_gray(path)
        height, width = gray.shape[:2]
        if looks_like_page(width, height):
            found = _sibling_document(Path(path))
            hint = (f"recognise its PAGE/ALTO file instead ({found})" if found else
                    "supply its PAGE-XML or ALTO file with the lines (finding lines on a bare "
                    "page is not supported), or cut it into line images")
            raise InputError(f"{path}: a page image ({width}x{height} pixels), not a text "
                             f"line: {hint}")
        check_line_shape(gray, path)
        ink, geometry = featurizer.normalize_gray(gray)
    except InputError as err:
        item.failure = err
        return item
    outline = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    item.lines.append(_Line(ink, geometry, 0.0, None,
                            {"outline": outline, "image": os.path.basename(path),
                             "image_size": (width, height)}))
    return item


def _read_document(featurizer: Any, path: str) -> _Input:
    from handwriting.documents import cut_lines, read_document

    item = _Input(path)
    try:
        doc = read_document(path)
        page = read_gray(doc.image_path, transpose=None, size=doc.image_size)
    except InputError as err:
        item.failure = err
        return item
    crops, problems = cut_lines(doc, page)
    item.problems += [InputError(p) for p in [*doc.problems, *problems]]
    index = {id(line): i for i, line in enumerate(doc.lines)}
    for crop in crops:
        try:
            ink, geometry = featurizer.normalize_gray(crop.gray)
        except InputError as err:
            item.problems.append(InputError(f"{path}: line {crop.line.id}: {err}"))
            continue
        x0, y0 = crop.outline.min(axis=0)
        x1, y1 = crop.outline.max(axis=0)
        meta = {"document": str(doc.path), "line": crop.line.id, "doc": doc,
                "index": index[id(crop.line)], "outline": crop.outline,
                "baseline": crop.line.baseline,
                "box": [round(float(v), 1) for v in (x0, y0, x1, y1)],
                "image": doc.image_name, "image_size": doc.image_size}
        item.lines.append(_Line(ink, geometry, float(crop.x0),
                                float(crop.x0 + crop.gray.shape[1]), meta))
    return item


def read_input(featurizer: Any, path: str) -> _Input:
    """An input file's lines ready to run: a line image, or every line of a PAGE/ALTO file
    cut out of its page image."""
    return _read_document(featurizer, path) if is_document(path) else _read_image(featurizer,
                                                                                   path)


def run_lines(recognizer: Any, inks: Sequence[np.ndarray], batch_size: int
              ) -> list[torch.Tensor]:
    """``(T', V)`` posteriors of each ``(H, W)`` ink, computed ``batch_size`` lines of similar
    width per forward pass; in the order given."""
    order = sorted(range(len(inks)), key=lambda k: inks[k].shape[1])
    out: list[torch.Tensor | None] = [None] * len(inks)
    step = max(1, int(batch_size))
    for start in range(0, len(order), step):
        group = order[start:start + step]
        with torch.no_grad():
            batch, lengths = recognizer.log_probs([torch.from_numpy(inks[k]) for k in group])
        batch = batch.float().cpu()  # (N, T', V)
        for row, k in enumerate(group):
            out[k] = batch[row, : int(lengths[row])].clone()
    return out  # type: ignore[return-value]


def document_posteriorgrams(recognizer: Any, paths: Sequence[str],
                            on_progress: Callable[[float], Any] | None = None,
                            batch_size: int = DEFAULT_BATCH_SIZE
                            ) -> Iterator[tuple[str, list[Posteriorgram] | InputError]]:
    """Per input, in order: one ``(path, InputError)`` per line it lost (a document still
    yields its other lines after them), then ``(path, posteriorgrams of its lines)``, or
    ``(path, InputError)`` when nothing of it could be read.

    ``recognizer``: a ``ctc.recognizer.Recognizer`` (``featurizer.normalize_gray``,
    ``log_probs(list of (H, W))``, ``output_frame_shift``).
    """
    featurizer = recognizer.featurizer
    shift = float(recognizer.output_frame_shift)
    window = max(256, 16 * max(1, int(batch_size)))  # lines sorted together by width

    def flush(items: list[_Input]) -> Iterator[tuple[str, list[Posteriorgram] | InputError]]:
        lines = [line for item in items for line in item.lines]
        posteriors = iter(run_lines(recognizer, [line.ink for line in lines], batch_size))
        for item in items:
            yield from ((item.source, problem) for problem in item.problems)
            if item.failure is not None:
                yield item.source, item.failure
            else:
                yield item.source, [placed(item.source, next(posteriors), line.geometry, shift,
                                           line.offset, line.extent, line.meta)
                                    for line in item.lines]
            if on_progress is not None:
                on_progress(1)

    pending: list[_Input] = []
    count = 0
    for path in paths:
        item = read_input(featurizer, path)
        pending.append(item)
        count += len(item.lines)
        if count >= window:
            yield from flush(pending)
            pending, count = [], 0
    yield from flush(pending)


def line_posteriorgrams(recognizer: Any, paths: Sequence[str],
                        on_progress: Callable[[float], Any] | None = None,
                        batch_size: int = 1
                        ) -> Iterator[tuple[str, Posteriorgram | InputError]]:
    """Each line's posteriorgram (one per line image, one per line of a document), or the
    InputError that kept a file or line from being read, in order (see
    :func:`document_posteriorgrams`)."""
    for source, grams in document_posteriorgrams(recognizer, paths, on_progress, batch_size):
        if isinstance(grams, InputError):
            yield source, grams
        else:
            yield from ((source, gram) for gram in grams)


def _document_image(path: str) -> str | None:
    """The page image a PAGE/ALTO file names, resolved; None when it cannot be found."""
    from handwriting.documents import parse_xml, resolve_image, sniff

    kind = sniff(path)
    if kind is None:
        return None
    try:
        root = parse_xml(Path(path)).getroot()
    except InputError:
        return None
    if kind == "page":
        name = next((e.get("imageFilename", "") for e in root.iter("{*}Page")), "")
    else:
        name = next(((e.text or "").strip() for e in root.iter("{*}fileName")), "")
    try:
        return os.path.realpath(resolve_image(Path(path), name))
    except InputError:
        return None


def find_inputs(inputs: Sequence[str]) -> list[str]:
    """Files and folders -> input files. Folders are searched recursively (sorted) for line
    images and PAGE/ALTO files; the page images those files name are left out (their lines
    are read through the XML), and so are XML files of other kinds. Named files pass through."""
    out: list[str] = []
    for path in inputs:
        if not os.path.isdir(path):
            out.append(path)
            continue
        images, documents = [], []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                if name.lower().endswith(IMAGE_SUFFIXES):
                    images.append(full)
                elif is_document(name):
                    documents.append(full)
        from handwriting.documents import sniff

        documents = [d for d in documents if sniff(d) is not None]
        pages = {_document_image(d) for d in documents}
        out += sorted([i for i in images if os.path.realpath(i) not in pages] + documents)
    return out


def format_line(result: Recognition, fmt: str) -> str:
    """``txt``: the text; ``json``: path, text, score, confidence, and each character's and
    word's x range ``[x0, x1)`` in original pixels with its confidence (and the n-best list);
    for a document line also its ``document``, ``line`` id and ``box`` ``[x0, y0, x1, y1]``
    on the page."""
    if fmt == "txt":
        return result.text + "\n"
    if fmt == "json":
        obj: dict[str, Any] = {"path": result.source, "text": result.text,
                               "score": round(result.score, 4),
                               "confidence": result.confidence}
        obj.update({k: v for k, v in result.meta.items() if k in ("document", "line", "box")})
        obj["chars"] = [{"char": c.text, "x0": round(c.start, 1), "x1": round(c.end, 1),
                         "confidence": c.confidence} for c in result.tokens]
        obj["words"] = [{"word": w.text, "x0": round(w.start, 1), "x1": round(w.end, 1),
                         "confidence": w.confidence} for w in result.words]
        if result.alternatives:
            obj["nbest"] = [{"text": a.text, "score": a.score} for a in result.alternatives]
        return json.dumps(obj, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def _document(source: str, results: Sequence[Recognition]) -> Any:
    """The document ``results`` came from (read again when none of its lines was
    recognised); None for a line image."""
    if results and "doc" in results[0].meta:
        return results[0].meta["doc"]
    if is_document(source):
        from handwriting.documents import read_document

        return read_document(source)
    return None


def write_document(source: str, results: Sequence[Recognition], fmt: str) -> str:
    """``page`` or ``alto``: the input document with the recognised text, or a new document of
    that format holding the lines (line images, a document of the other format)."""
    from handwriting.alto import new_alto, write_alto
    from handwriting.page import new_page, write_page

    doc = _document(source, results)
    if doc is not None and doc.format == fmt:
        return (write_page if fmt == "page" else write_alto)(doc, results)
    if doc is not None:
        image, size = doc.image_name, doc.image_size
    elif results:
        image, size = results[0].meta["image"], results[0].meta["image_size"]
    else:
        image, size = os.path.basename(source), (1, 1)
    return (new_page if fmt == "page" else new_alto)(results, image, size)


def write_output(source: str, results: Sequence[Recognition], fmt: str) -> str:
    """One input's output file in format ``fmt`` (see the module docstring)."""
    if fmt in ("page", "alto"):
        return write_document(source, results, fmt)
    return "".join(format_line(r, fmt) for r in results)
