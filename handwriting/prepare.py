"""Training data from users' own documents: line folders and PAGE/ALTO exports -> manifests.

- **Line folders** (the Kraken ``-f path``, Calamari and PyLaia convention): every
  ``NAME.png|jpg|tif|...`` with a ``NAME.gt.txt`` beside it (also ``NAME.bin.png`` /
  ``NAME.nrm.png`` for ``NAME.gt.txt``, as OCRopus writes them), searched recursively; the
  manifest points at the images where they are.
- **PAGE-XML / ALTO** files (searched recursively) with their page images: each line with text
  is cut out by its polygon (outside it set to the paper's grey), else its box, else a band
  around its baseline, and saved once as ``OUT/lines/<document>/<line id>.png``; a rerun reuses
  a crop that is newer than its XML and page image, so neither epochs nor reruns cut pages
  again. Reading order is kept (record order, ``OUT/<split>.txt``).

Splits: ``--valid-list``/``--test-list`` files (one name per line: a line image's path under
``--root`` without suffix, or its stem; a document's path without ``.xml``, its stem, or
``DOC/LINE-ID`` for one line) or, for the splits without a list, ``--valid-fraction`` and
``--test-fraction`` of the units drawn with ``--seed``: whole documents when there are at least
``MIN_DOCUMENTS_TO_SPLIT`` of them (no page in two splits), else lines. Writes
``OUT/{train,valid[,test]}.jsonl`` (``ctc.data.manifest``), ``OUT/<split>.txt`` (the texts, for
an LM) and ``OUT/skipped.txt`` (every line left out, and why).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ctc.data.manifest import Record, write_manifest
from ctc.errors import InputError
from ctc.io import atomic_open, atomic_write_text, read_text_lines
from handwriting.documents import (
    Document,
    clean_text,
    cut_line,
    line_spacing,
    read_document,
    sniff,
)
from handwriting.images import IMAGE_SUFFIXES, image_size, read_gray

GT_SUFFIX = ".gt.txt"
_OCROPUS_STAGES = (".bin", ".nrm", ".raw")
MIN_DOCUMENTS_TO_SPLIT = 10
SHOWN = 20  # problems printed per kind; all of them go to OUT/skipped.txt


@dataclass(frozen=True)
class Item:
    """One line for a manifest: ``id``, its image and text, the ``unit`` it is split with (its
    document, or itself) and the ``names`` a split list may call it by."""

    id: str
    image: Path
    text: str
    unit: str
    names: tuple[str, ...]


@dataclass
class PrepareReport:
    """What was written (lines per split) and what was left out: ``no_text`` (lines or images
    without a transcription: expected in real exports) and ``failed`` (unreadable files, bad
    geometry: the command exits 1)."""

    counts: dict[str, int] = field(default_factory=dict)
    no_text: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{name}: {n} lines" for name, n in self.counts.items()]
        parts.append(f"{len(self.no_text)} without text")
        parts.append(f"{len(self.failed)} unreadable")
        return "; ".join(parts)


def _normal_name(name: str) -> str:
    name = name.strip().replace("\\", "/").removeprefix("./")
    for suffix in (GT_SUFFIX, ".xml", *IMAGE_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _strip_image_suffix(name: str) -> str:
    return name[: -len(Path(name).suffix)]


def line_items(root: Path, report: PrepareReport) -> list[Item]:
    """Every image under ``root`` with its ``.gt.txt``, in path order; images without one go
    to ``report.no_text``, unreadable images and texts to ``report.failed``."""
    items, used = [], set()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if not name.lower().endswith(IMAGE_SUFFIXES):
                continue
            image = Path(folder) / name
            stem = _strip_image_suffix(name)
            candidates = [stem]
            if Path(stem).suffix in _OCROPUS_STAGES:
                candidates.append(_strip_image_suffix(stem))
            gt = next((Path(folder) / f"{c}{GT_SUFFIX}" for c in candidates
                       if (Path(folder) / f"{c}{GT_SUFFIX}").is_file()), None)
            if gt is None:
                report.no_text.append(f"{image}: no {candidates[-1]}{GT_SUFFIX} beside it")
                continue
            if gt in used:
                report.no_text.append(f"{image}: {gt.name} already used for another image")
                continue
            used.add(gt)
            try:
                text = clean_text(" ".join(line for _, line in read_text_lines(gt)))
                if text is None:
                    report.no_text.append(f"{gt}: empty transcription")
                    continue
                image_size(image)
            except InputError as err:
                report.failed.append(str(err))
                continue
            key = _strip_image_suffix(image.relative_to(root).as_posix())
            items.append(Item(key, image, text, key, (key, Path(key).name)))
    return items


def _cached(crop: Path, sources: Sequence[Path]) -> bool:
    try:
        made = crop.stat().st_mtime
        return all(made >= s.stat().st_mtime for s in sources)
    except OSError:
        return False


def _save_png(gray: np.ndarray, path: Path) -> None:
    with atomic_open(path, "wb") as handle:
        Image.fromarray(gray).save(handle, format="PNG")


def document_lines(doc: Document, key: str, out: Path, report: PrepareReport,
                   log: Callable[[str], None]) -> list[Item]:
    """The lines of one document with text, each cut out once to
    ``out/lines/<key>/<line id>.png`` (reused while newer than the XML and the page image)."""
    report.failed += doc.problems
    items: list[Item] = []
    page: np.ndarray | None = None
    spacing = 0.0
    for line in doc.lines:
        if not line.text:
            report.no_text.append(f"{doc.path}: line {line.id}: no text")
            continue
        crop = out / "lines" / key / f"{line.id}.png"
        if not _cached(crop, (doc.path, doc.image_path)):
            try:
                if page is None:
                    page = read_gray(doc.image_path, transpose=None, size=doc.image_size)
                    spacing = line_spacing(doc.lines, page.shape[0])
                _save_png(cut_line(page, line, spacing).gray, crop)
            except InputError as err:
                if page is None:  # the page image itself is unreadable: say it once
                    report.failed.append(str(err))
                    return items
                report.failed.append(f"{doc.path}: line {line.id}: "
                                     f"{str(err).removeprefix('line: ')}")
                continue
        line_key = f"{key}/{line.id}"
        items.append(Item(line_key, crop, line.text, key,
                          (key, Path(key).name, line_key, f"{Path(key).name}/{line.id}")))
    return items


def document_items(root: Path, fmt: str, out: Path, report: PrepareReport,
                   log: Callable[[str], None]) -> list[Item]:
    """The lines of every ``fmt`` (``page`` or ``alto``) file under ``root``, documents in
    path order, lines in reading order; InputError when there is none."""
    found, other = [], []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(".xml"):
                path = Path(folder) / name
                kind = sniff(path)
                (found if kind == fmt else other).append((path, kind))
    if not found:
        kinds = {k for _, k in other if k}
        hint = f" (found {', '.join(sorted(kinds))} files: htr prepare " \
               f"{sorted(kinds)[0]})" if kinds else ""
        raise InputError(f"no {'PAGE-XML' if fmt == 'page' else 'ALTO'} files in {root}{hint}")
    ignored = [p for p, k in other if k]
    if ignored:
        report.notes.append(f"{len(ignored)} XML files of another format ignored, e.g. "
                            f"{ignored[0]}")
    items = []
    for path, _ in found:
        key = path.relative_to(root).with_suffix("").as_posix()
        try:
            doc = read_document(path)
        except InputError as err:
            report.failed.append(str(err))
            continue
        items += document_lines(doc, key, out, report, log)
    return items


def read_list(path: str | os.PathLike) -> set[str]:
    """The names of a split list (one per line; blank lines and ``#`` comments ignored)."""
    names = set()
    for _, raw in read_text_lines(path):
        entry = raw.split("#", 1)[0].strip()
        if entry:
            names.add(_normal_name(entry))
    return names


def assign_splits(items: Sequence[Item], *, lists: dict[str, str | None],
                  fractions: dict[str, float], seed: int = 0, by: str = "auto",
                  report: PrepareReport | None = None) -> dict[str, list[Item]]:
    """``train``/``valid``/``test`` (in item order). A split with a list takes the items it
    names; the others take ``fractions`` of the remaining units (documents or lines, see
    ``by``: ``document``, ``line`` or ``auto``), drawn with ``seed``; the rest is ``train``."""
    chosen: dict[str, str] = {}
    for split, list_path in lists.items():
        if not list_path:
            continue
        names = read_list(list_path)
        matched = set()
        for item in items:
            hit = names.intersection(item.names)
            if hit and item.id not in chosen:
                chosen[item.id] = split
                matched |= hit
        if report is not None and names - matched:
            report.notes.append(f"{list_path}: {len(names - matched)} names match no line, "
                                f"e.g. {sorted(names - matched)[0]!r}")
    free = [item for item in items if item.id not in chosen]
    units = list(dict.fromkeys(item.unit for item in free))
    if by == "line" or (by == "auto" and len(units) < MIN_DOCUMENTS_TO_SPLIT):
        units = [item.id for item in free]
        unit_of = {item.id: item.id for item in free}
    else:
        unit_of = {item.id: item.unit for item in free}
    order = np.random.default_rng(seed).permutation(len(units))
    taken = 0
    unit_split: dict[str, str] = {}
    for split, fraction in fractions.items():
        if lists.get(split) or fraction <= 0:
            continue
        n = round(len(units) * fraction)
        if n == 0 and len(units) - taken >= 2:
            n = 1
        n = min(n, max(len(units) - taken - 1, 0))
        for k in order[taken:taken + n]:
            unit_split[units[int(k)]] = split
        taken += n
    for item in free:
        chosen[item.id] = unit_split.get(unit_of[item.id], "train")
    out: dict[str, list[Item]] = {"train": [], "valid": [], "test": []}
    for item in items:
        out[chosen[item.id]].append(item)
    return out


def write_splits(out: Path, splits: dict[str, list[Item]], *, test: bool) -> dict[str, int]:
    """``out/<split>.jsonl`` and ``out/<split>.txt`` for train, valid (and test when asked or
    not empty), image paths relative to ``out``."""
    counts = {}
    for split, items in splits.items():
        if split == "test" and not items and not test:
            continue
        records = []
        for item in items:
            width, height = image_size(item.image)
            records.append(Record(id=item.id, modality="image",
                                  path=os.path.relpath(item.image, out), text=item.text,
                                  width=width, height=height))
        counts[split] = write_manifest(out / f"{split}.jsonl", records)
        atomic_write_text(out / f"{split}.txt", "".join(i.text + "\n" for i in items))
    return counts


def _report(out: Path, report: PrepareReport, log: Callable[[str], None]) -> None:
    for note in report.notes:
        log(f"note: {note}")
    for kind, messages in (("no text", report.no_text), ("unreadable", report.failed)):
        for message in messages[:SHOWN]:
            log(f"skipped ({kind}): {message}")
        if len(messages) > SHOWN:
            log(f"skipped ({kind}): ... and {len(messages) - SHOWN} more (all in "
                f"{out / 'skipped.txt'})")
    lines = [f"no text\t{m}" for m in report.no_text] + [f"unreadable\t{m}"
                                                         for m in report.failed]
    atomic_write_text(out / "skipped.txt", "".join(line + "\n" for line in lines))
    log(report.summary())


def prepare(root: str | os.PathLike, out: str | os.PathLike, corpus: str, *,
            valid_list: str | None = None, test_list: str | None = None,
            valid_fraction: float = 0.1, test_fraction: float = 0.0, seed: int = 0,
            split_by: str = "auto", log: Callable[[str], None] = print) -> PrepareReport:
    """Write the manifests of ``root`` (``corpus``: ``lines``, ``page`` or ``alto``) under
    ``out``; see the module docstring. InputError when ``root`` holds nothing usable."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError(f"--root {root}: no such folder")
    for name, value in (("--valid-fraction", valid_fraction), ("--test-fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise InputError(f"{name} must be in [0, 1), got {value}")
    report = PrepareReport()
    if corpus == "lines":
        items = line_items(root, report)
        if not items and not report.failed:
            raise InputError(f"no line images with a {GT_SUFFIX} file beside them in {root}")
    else:
        items = document_items(root, corpus, out, report, log)
    splits = assign_splits(items, lists={"valid": valid_list, "test": test_list},
                           fractions={"valid": valid_fraction, "test": test_fraction},
                           seed=seed, by=split_by, report=report)
    report.counts = write_splits(out, splits, test=bool(test_list or test_fraction > 0))
    _report(out, report, log)
    return report
