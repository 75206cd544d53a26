"""Manifests: one JSON object per line describing one utterance (audio) or text line (image).

Fields: ``id`` (unique), ``modality`` (``audio`` | ``image``), ``path``, ``text``, and optionally
``duration`` (seconds) and ``sample_rate`` for audio, ``start``/``end`` (seconds: the record is
the segment ``[start, end)`` of the recording at ``path``, read alone), ``width``/``height``
(pixels) for images, ``speaker`` (speaker or writer id). Corpus readers (``prepare``) write
manifests; everything reads them here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ctc.errors import InputError
from ctc.io import atomic_open

MODALITIES = ("audio", "image")


@dataclass(frozen=True)
class Record:
    """One utterance or text line."""

    id: str
    modality: str
    path: str
    text: str
    duration: float | None = None
    sample_rate: int | None = None
    width: int | None = None
    height: int | None = None
    speaker: str | None = None
    start: float | None = None
    end: float | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None},
                          ensure_ascii=False)


_FIELDS = {f.name for f in fields(Record)}


def validate_record(obj: dict, where: str) -> Record:
    """Build a Record from a decoded JSON object; raise InputError naming ``where`` if invalid."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in ("id", "modality", "path", "text") if k not in obj]
    if missing:
        raise InputError(f"{where}: missing field(s) {', '.join(missing)}")
    if obj["modality"] not in MODALITIES:
        raise InputError(f"{where}: modality must be one of {MODALITIES}, got {obj['modality']!r}")
    if not isinstance(obj["text"], str):
        raise InputError(f"{where}: field 'text' must be a string")
    for key in ("duration", "start", "end"):
        value = obj.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value) or value < 0):
            raise InputError(f"{where}: field {key!r} must be a number >= 0, got {value!r}")
    start, end = obj.get("start"), obj.get("end")
    if (start is None) != (end is None):
        raise InputError(f"{where}: a segment needs both 'start' and 'end'")
    if start is not None and not end > start:
        raise InputError(f"{where}: segment end {end} is not after its start {start}")
    return Record(**{k: v for k, v in obj.items() if k in _FIELDS})


def iter_located(path: str | os.PathLike, problems: list[str] | None = None
                 ) -> Iterator[tuple[str, Record]]:
    """``(file:line, record)`` for each record of a JSONL manifest, lazily, relative paths
    resolved against its folder (not commands: a ``path`` ending in ``|``, as Kaldi's wav.scp
    pipes). A bad line (not UTF-8, not JSON, not a valid record, a repeated id) raises
    InputError naming ``file:line``, or, when ``problems`` is a list, is appended to it and
    skipped. A missing manifest always raises."""
    from ctc.io import read_text_lines

    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    seen: dict[str, str] = {}
    for lineno, line in read_text_lines(path, strict=problems is None, bad=problems):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{where}: invalid JSON ({err.msg})") from None
            record = validate_record(obj, where)
            if record.id in seen:
                raise InputError(f"{where}: duplicate id {record.id!r} "
                                 f"(first at {seen[record.id]})")
        except InputError as err:
            if problems is None:
                raise
            problems.append(str(err))
            continue
        seen[record.id] = where
        if not os.path.isabs(record.path) and not record.path.rstrip().endswith("|"):
            record = Record(**{**asdict(record), "path": str(path.parent / record.path)})
        yield where, record


def iter_manifest(path: str | os.PathLike) -> Iterator[Record]:
    """Yield the records of a JSONL manifest lazily (see :func:`iter_located`; any bad line
    raises InputError naming it)."""
    for _, record in iter_located(path):
        yield record


def read_manifest(path: str | os.PathLike) -> list[Record]:
    """Read a whole JSONL manifest (see iter_manifest)."""
    return list(iter_manifest(path))


def write_manifest(path: str | os.PathLike, records: Iterable[Record]) -> int:
    """Write records as JSONL atomically; return how many were written."""
    count = 0
    with atomic_open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.to_json() + "\n")
            count += 1
    return count
