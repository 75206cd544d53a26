"""NeMo ASR manifests: read one into our manifest, write ours as one.

NeMo's format (``nemo.collections.asr.data``; docs "ASR datasets"): JSON lines
``{"audio_filepath": ..., "duration": seconds, "text": ...}``, optional ``offset`` (seconds into
the file), ``speaker``, ``lang``; relative paths are relative to the manifest's folder. NeMo reads
``duration`` seconds from ``offset``, so a line with an ``offset`` is a segment
``[offset, offset + duration)`` of its file; a line without one is the whole file.

Reading goes on past bad lines, each skipped with one line naming ``file:line`` (invalid JSON,
no ``audio_filepath`` or ``text``, a missing file, a negative duration, a segment past the end
of its file). A line without ``duration`` (NeMo needs one) is measured from the audio header
and named in a note. Writing gives every line ``audio_filepath`` (absolute), ``duration`` and
``text``, plus ``offset`` for segments and ``speaker`` when known; NeMo cannot run commands, so
records whose audio is a ``cmd |`` pipe are skipped.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from asr.audio import audio_info, is_pipe
from asr.dataio import Outcome, manifest_path, record_seconds
from ctc.data.manifest import Record, iter_located, write_manifest
from ctc.errors import InputError
from ctc.io import atomic_open, read_text_lines

SEGMENT_SLACK = 0.01  # seconds a segment may overrun its file (rounding)


def _seconds(obj: dict[str, Any], key: str, where: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < 0:
        raise InputError(f"{where}: {key!r} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _record(obj: Any, where: str, base: Path, notes: list[str], index: int) -> Record:
    """The record of one NeMo line; InputError naming ``where`` when it cannot be one."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    path_value = obj.get("audio_filepath")
    if not isinstance(path_value, str) or not path_value.strip():
        raise InputError(f"{where}: no 'audio_filepath'")
    text = obj.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: no 'text' (a string)")
    path = Path(path_value) if os.path.isabs(path_value) else base / path_value
    if not path.is_file():
        raise InputError(f"{where}: no such audio file {path}")
    offset = _seconds(obj, "offset", where)
    duration = _seconds(obj, "duration", where)
    info = None
    if duration is None or offset:
        info = audio_info(path)  # InputError names the file
    if duration is None:
        duration = info.duration - (offset or 0.0)
        notes.append(f"{where}: no 'duration'; {duration:.3f} s measured from {path.name}")
        if duration <= 0:
            raise InputError(f"{where}: offset {offset} lies past the end of {path}")
    if duration <= 0:
        raise InputError(f"{where}: duration {duration} is not positive")
    speaker = obj.get("speaker")
    speaker = str(speaker) if speaker not in (None, "") else None
    utt_id = str(obj.get("utt_id") or obj.get("id") or f"{path.stem}-{index:06d}")
    fields: dict[str, Any] = {"id": utt_id, "modality": "audio", "path": str(path.resolve()),
                              "text": " ".join(text.split()), "duration": round(duration, 4),
                              "speaker": speaker}
    if offset is not None:
        end = offset + duration
        if info is not None and end > info.duration + SEGMENT_SLACK:
            raise InputError(f"{where}: segment [{offset:g}, {end:g}) lies past the end of "
                             f"{path} ({info.duration:.3f} s)")
        fields.update(start=round(offset, 4), end=round(min(end, info.duration) if info
                                                          else end, 4))
        fields["duration"] = round(fields["end"] - fields["start"], 4)
    if info is not None:
        fields["sample_rate"] = info.sample_rate
    return Record(**fields)


def prepare_nemo(manifest: str | os.PathLike, out: str | os.PathLike) -> Outcome:
    """Write our manifest for a NeMo manifest (see the module docstring); ``out`` is the file,
    or a folder to hold ``<name>.jsonl``. Ids are the lines' ``utt_id`` / ``id`` when present,
    else ``<file stem>-<line index>``."""
    source = Path(manifest)
    if not source.is_file():
        raise InputError(f"NeMo manifest not found: {source}")
    target = manifest_path(out, source.stem)
    outcome = Outcome(str(target))
    records: list[Record] = []
    seen: dict[str, str] = {}
    for index, (lineno, line) in enumerate(
            read_text_lines(source, strict=False, bad=outcome.problems)):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            record = _record(json.loads(line), where, source.parent, outcome.notes, index)
        except json.JSONDecodeError as err:
            outcome.problems.append(f"{where}: invalid JSON ({err.msg})")
            continue
        except InputError as err:
            message = str(err)
            outcome.problems.append(message if message.startswith(where) else
                                    f"{where}: {message}")
            continue
        if record.id in seen:
            outcome.problems.append(f"{where}: repeated id {record.id!r} (first at "
                                    f"{seen[record.id]})")
            continue
        seen[record.id] = where
        records.append(record)
    if not records:
        raise InputError(f"{source}: no line could be prepared"
                         + (f" ({outcome.problems[0]}, ...)" if outcome.problems else ""))
    outcome.records = write_manifest(target, records)
    outcome.seconds = sum(r.duration or 0.0 for r in records)
    return outcome


def export_nemo(manifest: str | os.PathLike, out: str | os.PathLike) -> Outcome:
    """Write the records of our ``manifest`` as a NeMo manifest ``out`` (JSON lines), in
    manifest order; durations missing from the manifest are read from the audio header."""
    outcome = Outcome(str(out))
    lines: list[str] = []
    for where, record in iter_located(manifest, outcome.problems):
        if is_pipe(record.path):
            outcome.problems.append(f"{where}: {record.id!r} is read through a command, which "
                                    "NeMo cannot run; write the audio to a file")
            continue
        try:
            seconds = record_seconds(record)
        except InputError as err:
            outcome.problems.append(f"{where}: {err}")
            continue
        obj: dict[str, Any] = {"audio_filepath": str(Path(record.path).resolve()),
                               "duration": round(float(seconds or 0.0), 4), "text": record.text}
        if record.start is not None:
            obj["offset"] = round(record.start, 4)
        if record.speaker is not None:
            obj["speaker"] = record.speaker
        obj["utt_id"] = record.id
        lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
        outcome.seconds += float(seconds or 0.0)
    if not lines:
        raise InputError(f"{manifest}: no record could be exported"
                         + (f" ({outcome.problems[0]}, ...)" if outcome.problems else ""))
    with atomic_open(out, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    outcome.records = len(lines)
    return outcome
