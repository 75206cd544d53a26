"""Reading reference and hypothesis files for scoring.

Formats, chosen by extension and otherwise by content:

- Kaldi ``text``: ``utt-id word word ...`` (first whitespace-separated field is the id; a line
  with only an id is an empty transcript);
- JSONL (``.jsonl``/``.json``/``.ndjson``, or a first line starting with ``{``): one object per
  line with ``id`` and ``text``; a hypotheses file may carry ``hyp`` and ``ref`` instead, and
  ``speaker`` (or ``writer``);
- sclite ``.trn``: ``word word ... (utt-id)``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ctc.errors import InputError

_TRN_LINE = re.compile(r"^(.*?)\s*\(([^()\s]+)\)\s*$")


@dataclass(frozen=True)
class Transcript:
    """One line of a transcript file: its text for the role it was read in, plus what it carries.

    ``ref``: a reference embedded in a hypotheses JSONL record, else None.
    """

    id: str
    text: str
    ref: str | None = None
    speaker: str | None = None


def detect_format(path: Path, first_line: str) -> str:
    """``"jsonl"``, ``"trn"`` or ``"kaldi"``."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".trn":
        return "trn"
    return "jsonl" if first_line.lstrip().startswith("{") else "kaldi"


def _from_json(path: Path, lineno: int, line: str, role: str) -> Transcript:
    where = f"{path}:{lineno}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: invalid JSON ({err.msg})") from None
    if not isinstance(record, dict) or "id" not in record:
        raise InputError(f"{where}: a JSON object with an 'id' field is expected")
    fields = ("ref", "text") if role == "ref" else ("hyp", "text")
    key = next((f for f in fields if f in record), None)
    if key is None:
        raise InputError(f"{where}: no {' or '.join(repr(f) for f in fields)} field")
    text, ref = record[key], record.get("ref") if role == "hyp" else None
    for name, value in ((key, text), ("ref", ref)):
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}: field {name!r} must be a string")
    speaker = record.get("speaker", record.get("writer"))
    return Transcript(str(record["id"]), text, ref, None if speaker is None else str(speaker))


def _from_text(path: Path, lineno: int, line: str, fmt: str) -> Transcript:
    if fmt == "trn":
        match = _TRN_LINE.match(line)
        if match is None:
            raise InputError(f"{path}:{lineno}: expected 'words (utt-id)' in a .trn file")
        return Transcript(match.group(2), match.group(1))
    parts = line.split(maxsplit=1)
    return Transcript(parts[0], parts[1].strip() if len(parts) > 1 else "")


def read_transcripts(path: str | Path, role: str = "hyp") -> dict[str, Transcript]:
    """Transcripts of ``path`` by id, in file order; ``role`` ("ref" or "hyp") picks JSONL fields.

    Raises InputError naming the file (and line) when it is missing, empty, malformed or repeats
    an id.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    first = next((line for line in lines if line.strip()), "")
    fmt = detect_format(path, first)
    out: dict[str, Transcript] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        t = (_from_json(path, lineno, line, role) if fmt == "jsonl"
             else _from_text(path, lineno, line, fmt))
        if t.id in out:
            raise InputError(f"{path}:{lineno}: duplicate id {t.id!r}")
        out[t.id] = t
    if not out:
        raise InputError(f"{path}: no transcripts (empty file)")
    return out


def read_utt2spk(path: str | Path) -> dict[str, str]:
    """Kaldi ``utt2spk``: ``utt-id speaker-id`` per line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError, OSError):
        raise InputError(f"{path}: cannot read the utt2spk file") from None
    out = {}
    for lineno, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise InputError(f"{path}:{lineno}: expected 'utt-id speaker-id'")
        out[parts[0]] = parts[1]
    return out
