"""What the corpus readers and writers of other toolkits' layouts share (``asr.kaldi``,
``asr.nemo``, ``asr.lhotse_io``): problem lists, the manifest read line by line (so that every
message names ``file:line``), output paths and durations.

A reader or writer goes on past a bad entry: it records one line naming the file and line (or
the record) in :class:`Outcome.problems`, skips the entry, and the command exits 1 at the end.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asr.audio import audio_info, is_pipe
from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.io import unique_names

SHOWN_NOTES = 20  # notes printed one by one; the rest are counted


@dataclass
class Outcome:
    """What a prepare or export wrote and what it skipped.

    ``written``: the manifest file or the data folder; ``records``: how many it holds;
    ``seconds``: their total duration (when known); ``problems``: skipped entries, one line
    each (``file:line: message``); ``notes``: facts worth a line that skip nothing.
    """

    written: str
    records: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def report(outcome: Outcome, prog: str, what: str, stream) -> int:
    """Print ``outcome`` (the summary on stdout, problems and notes on ``stream``); return the
    exit status (1 when anything was skipped)."""
    seconds = outcome.seconds
    hours = (f", {seconds / 3600:.2f} h" if seconds >= 360 else f", {seconds:.1f} s"
             if seconds else "")
    print(f"{outcome.records} {what}{hours} -> {outcome.written}")
    for note in outcome.notes[:SHOWN_NOTES]:
        print(f"{prog}: note: {note}", file=stream)
    if len(outcome.notes) > SHOWN_NOTES:
        print(f"{prog}: note: ... and {len(outcome.notes) - SHOWN_NOTES} more like these",
              file=stream)
    for problem in outcome.problems:  # every one: each names its file and line
        print(f"{prog}: skipped: {problem}", file=stream)
    if outcome.problems:
        count = len(outcome.problems)
        print(f"{prog}: error: {count} entr{'y' if count == 1 else 'ies'} skipped (listed above)",
              file=stream)
        return 1
    return 0


def manifest_path(out: str | os.PathLike, name: str) -> Path:
    """Where ``--out`` asks a manifest to go: ``out`` itself, or ``out/NAME.jsonl`` when ``out``
    is an existing folder or ends with a slash."""
    text = str(out)
    path = Path(out)
    if path.is_dir() or text.endswith(("/", os.sep)):
        return path / f"{name}.jsonl"
    return path


def record_seconds(record: Record, *, run_pipes: bool = True) -> float | None:
    """The duration of what ``record`` covers: its segment, its ``duration`` field, or the
    audio header (a pipe is run only with ``run_pipes``; None otherwise). InputError when the
    audio cannot be read."""
    if record.start is not None and record.end is not None:
        return record.end - record.start
    if record.duration:
        return float(record.duration)
    if is_pipe(record.path) and not run_pipes:
        return None
    return audio_info(record.path).duration


def parse_seconds(text: str, where: str, what: str, *, allow_minus_one: bool = False) -> float:
    """A time in seconds from a text field; InputError naming ``where`` unless it is a finite
    number >= 0 (or exactly -1 with ``allow_minus_one``: Kaldi's "to the end")."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {what} {text!r} is not a number") from None
    if allow_minus_one and value == -1:
        return value
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{where}: {what} must be a number >= 0, got {text!r}")
    return value


def fmt_seconds(value: float) -> str:
    """Seconds as short text with up to 4 decimals (``1.5``, ``12.3456``, ``0``)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def no_space_id(text: str) -> str:
    """An id without whitespace (Kaldi's and Lhotse's ids): runs of whitespace become ``_``."""
    return "_".join(text.split())


def recording_ids(paths: Sequence[str]) -> dict[str, str]:
    """A unique recording id per audio path: its file stem (``rec`` for a command),
    numbered when two collide."""
    stems = ["rec" if is_pipe(path) else no_space_id(Path(path).stem) or "rec" for path in paths]
    return dict(zip(paths, unique_names(stems), strict=True))
