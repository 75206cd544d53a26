"""Lhotse manifests (``pip install 'carousel[lhotse]'``): read cuts, or recordings with
supervisions, into our manifest; write ours as Lhotse recordings, supervisions and cuts.

Lhotse (lhotse.readthedocs.io, "Representing a corpus"): a ``Recording`` has ``id``,
``sources`` (each a ``file`` path, a ``command`` writing the audio, a ``url`` ...),
``sampling_rate``, ``num_samples`` and ``duration``; a ``SupervisionSegment`` has ``id``,
``recording_id``, ``start``, ``duration`` (seconds), ``text`` and ``speaker``; a ``MonoCut``
spans ``[start, start + duration)`` of a recording and holds supervisions whose ``start`` is
relative to the cut. Manifests are JSON lines, often gzipped (``.jsonl.gz``); each line is turned
into its object by ``lhotse.serialization.deserialize_item``, so that messages name ``file:line``.

Every supervision becomes one record: the segment ``[start, end)`` of its recording in recording
time (a supervision covering its whole recording becomes a whole-file record), its id the
supervision's. ``file`` sources are read as paths, ``command`` sources as ``cmd |`` pipes
(``asr.audio``); a recording with several sources, a ``url`` or in-memory source, or an audio
transform other than resampling, and a mix of recordings (``MixedCut``), are skipped with one
line each, as are supervisions without text or lying past the end of their recording.
Channels are averaged, as for any file.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asr.audio import audio_info, is_pipe, pipe_command
from asr.dataio import Outcome, manifest_path, record_seconds, recording_ids
from ctc.data.manifest import Record, iter_located, write_manifest
from ctc.errors import InputError
from ctc.io import atomic_open

SLACK = 0.01  # seconds of rounding a supervision may overrun its recording by


def _lhotse() -> Any:
    try:
        import lhotse
    except ImportError:
        raise InputError("Lhotse manifests need the lhotse package: "
                         "pip install 'carousel[lhotse]' (or pip install lhotse)") from None
    return lhotse


def jsonl_lines(path: Path, problems: list[str]) -> Iterator[tuple[str, Any]]:
    """``(file:line, decoded object)`` of a ``.jsonl`` or ``.jsonl.gz`` file; lines that are not
    UTF-8 JSON go to ``problems``. InputError when the file is missing or not gzip."""
    if not path.is_file():
        raise InputError(f"Lhotse manifest not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for lineno, raw in enumerate(handle, 1):
                where = f"{path}:{lineno}"
                if not raw.strip():
                    continue
                try:
                    yield where, json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as err:
                    problems.append(f"{where}: not UTF-8 text (byte {err.start + 1})")
                except json.JSONDecodeError as err:
                    problems.append(f"{where}: invalid JSON ({err.msg})")
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise InputError(f"{path}: cannot read ({err})") from None


def _audio_path(recording: Any) -> str:
    """The manifest path of a Lhotse recording; InputError saying why it has none."""
    sources = list(recording.sources)
    if len(sources) != 1:
        raise InputError(f"recording {recording.id!r} has {len(sources)} sources (one file per "
                         "channel); only single-source recordings are read")
    for transform in recording.transforms or []:
        name = type(transform).__name__ if not isinstance(transform, dict) else \
            transform.get("name", "?")
        if name != "Resample":
            raise InputError(f"recording {recording.id!r} has a {name} transform, which is not "
                             "applied here")
    source = sources[0]
    if source.type == "file":
        path = Path(str(source.source))
        if not path.is_file():
            raise InputError(f"recording {recording.id!r}: no such audio file {path}")
        return str(path.resolve())
    if source.type == "command":
        return f"{source.source} |"
    raise InputError(f"recording {recording.id!r} has a {source.type!r} source; only 'file' "
                     "and 'command' sources are read")


def _segment_record(supervision: Any, recording: Any, start: float, path: str) -> Record:
    """The record of a supervision whose absolute start in ``recording`` is ``start``."""
    if not isinstance(supervision.text, str):
        raise InputError(f"supervision {supervision.id!r} has no text")
    end = start + float(supervision.duration)
    length = float(recording.duration)
    if start < -SLACK or end > length + SLACK:
        raise InputError(f"supervision {supervision.id!r} [{start:.3f}, {end:.3f}) lies outside "
                         f"its recording {recording.id!r} ({length:.3f} s)")
    start, end = max(0.0, start), min(end, length)
    if not end > start:
        raise InputError(f"supervision {supervision.id!r} is empty")
    fields: dict[str, Any] = {"id": str(supervision.id), "modality": "audio", "path": path,
                              "text": " ".join(supervision.text.split()),
                              "sample_rate": int(recording.sampling_rate),
                              "speaker": supervision.speaker or None}
    if start <= SLACK and end >= length - SLACK:
        fields["duration"] = round(length, 4)
    else:
        fields.update(start=round(start, 4), end=round(end, 4),
                      duration=round(end - start, 4))
    return Record(**fields)


def _collect(records: list[Record], seen: dict[str, str], record: Record, where: str,
             outcome: Outcome) -> None:
    if record.id in seen:
        if seen[record.id] != where:  # the same supervision in another cut: once is enough
            outcome.notes.append(f"{where}: supervision {record.id!r} already read at "
                                 f"{seen[record.id]}; kept once")
        return
    seen[record.id] = where
    records.append(record)


def read_cuts(cuts: str | os.PathLike, outcome: Outcome) -> list[Record]:
    """Records of the supervisions of a CutSet manifest, in file order."""
    lhotse = _lhotse()
    from lhotse.serialization import deserialize_item

    records: list[Record] = []
    seen: dict[str, str] = {}
    for where, obj in jsonl_lines(Path(cuts), outcome.problems):
        try:
            cut = deserialize_item(obj)
        except Exception as err:  # lhotse raises what its dataclasses raise
            outcome.problems.append(f"{where}: not a Lhotse cut ({type(err).__name__}: {err})"
                                    .splitlines()[0])
            continue
        if isinstance(cut, lhotse.cut.MixedCut):
            outcome.problems.append(f"{where}: cut {cut.id!r} mixes several recordings, which "
                                    "is not supported")
            continue
        recording = getattr(cut, "recording", None)
        if not isinstance(cut, lhotse.cut.Cut) or recording is None:
            outcome.problems.append(f"{where}: not a cut with a recording")
            continue
        try:
            path = _audio_path(recording)
        except InputError as err:
            outcome.problems.append(f"{where}: {err}")
            continue
        for supervision in cut.supervisions:
            try:
                record = _segment_record(supervision, recording,
                                         float(cut.start) + float(supervision.start), path)
            except InputError as err:
                outcome.problems.append(f"{where}: {err}")
                continue
            _collect(records, seen, record, where, outcome)
    return records


def read_recordings_supervisions(recordings: str | os.PathLike,
                                 supervisions: str | os.PathLike,
                                 outcome: Outcome) -> list[Record]:
    """Records of a SupervisionSet manifest whose recordings are in a RecordingSet manifest,
    in supervision-file order."""
    _lhotse()
    from lhotse import Recording, SupervisionSegment

    by_id: dict[str, tuple[Any, str | InputError]] = {}
    for where, obj in jsonl_lines(Path(recordings), outcome.problems):
        try:
            recording = Recording.from_dict(obj)
        except Exception as err:
            outcome.problems.append(f"{where}: not a Lhotse recording ({type(err).__name__}: "
                                    f"{err})".splitlines()[0])
            continue
        try:
            path: str | InputError = _audio_path(recording)
        except InputError as err:
            path = InputError(f"{where}: {err}")
        by_id[recording.id] = (recording, path)
    records: list[Record] = []
    seen: dict[str, str] = {}
    for where, obj in jsonl_lines(Path(supervisions), outcome.problems):
        try:
            supervision = SupervisionSegment.from_dict(obj)
        except Exception as err:
            outcome.problems.append(f"{where}: not a Lhotse supervision ({type(err).__name__}: "
                                    f"{err})".splitlines()[0])
            continue
        if supervision.recording_id not in by_id:
            outcome.problems.append(f"{where}: recording {supervision.recording_id!r} is not "
                                    f"in {recordings}")
            continue
        recording, path = by_id[supervision.recording_id]
        if isinstance(path, InputError):
            outcome.problems.append(f"{where}: {path}")
            continue
        try:
            record = _segment_record(supervision, recording, float(supervision.start), path)
        except InputError as err:
            outcome.problems.append(f"{where}: {err}")
            continue
        _collect(records, seen, record, where, outcome)
    return records


def prepare_lhotse(out: str | os.PathLike, *, cuts: str | os.PathLike | None = None,
                   recordings: str | os.PathLike | None = None,
                   supervisions: str | os.PathLike | None = None) -> Outcome:
    """Write our manifest from Lhotse cuts, or from recordings and supervisions (see the module
    docstring); ``out`` is the file, or a folder to hold ``<name>.jsonl``."""
    if cuts is None and (recordings is None or supervisions is None):
        raise InputError("give --cuts, or both --recordings and --supervisions")
    source = Path(cuts if cuts is not None else supervisions)  # type: ignore[arg-type]
    name = source.name.split(".")[0]
    target = manifest_path(out, name)
    outcome = Outcome(str(target))
    if cuts is not None:
        records = read_cuts(cuts, outcome)
    else:
        records = read_recordings_supervisions(recordings, supervisions, outcome)  # type: ignore[arg-type]
    if not records:
        raise InputError(f"{source}: no supervision could be prepared"
                         + (f" ({outcome.problems[0]}, ...)" if outcome.problems else ""))
    outcome.records = write_manifest(target, records)
    outcome.seconds = sum(r.duration or 0.0 for r in records)
    return outcome


def _write_jsonl_gz(path: Path, items: list[dict[str, Any]]) -> None:
    with atomic_open(path, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb",
                                                          mtime=0) as gz:
        for item in items:
            gz.write((json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8"))


def export_lhotse(manifest: str | os.PathLike, out_dir: str | os.PathLike) -> Outcome:
    """Write our ``manifest`` as ``recordings.jsonl.gz``, ``supervisions.jsonl.gz`` and
    ``cuts.jsonl.gz`` (one cut per recording holding its supervisions, as
    ``CutSet.from_manifests`` makes) in ``out_dir``. Each audio file's header is read for its
    rate and length (a command is run once)."""
    lhotse = _lhotse()
    from lhotse.audio import AudioSource

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    outcome = Outcome(str(out))
    located = list(iter_located(manifest, outcome.problems))
    ids = recording_ids(list(dict.fromkeys(r.path for _, r in located)))
    recordings: dict[str, Any] = {}
    supervisions = []
    for where, record in located:
        reco_id = ids[record.path]
        if reco_id not in recordings:
            try:
                info = audio_info(record.path)
            except InputError as err:
                outcome.problems.append(f"{where}: {err}")
                continue
            source = (AudioSource("command", list(range(info.channels)),
                                  pipe_command(record.path)) if is_pipe(record.path)
                      else AudioSource("file", list(range(info.channels)),
                                       str(Path(record.path).resolve())))
            recordings[reco_id] = lhotse.Recording(
                id=reco_id, sources=[source], sampling_rate=info.sample_rate,
                num_samples=info.frames, duration=info.duration)
        recording = recordings[reco_id]
        seconds = record_seconds(record)
        start = record.start or 0.0
        if start + (seconds or 0.0) > recording.duration + SLACK:
            outcome.problems.append(f"{where}: {record.id!r} lies past the end of "
                                    f"{record.path} ({recording.duration:.3f} s)")
            continue
        supervisions.append(lhotse.SupervisionSegment(
            id=record.id, recording_id=reco_id, start=start,
            duration=min(seconds or 0.0, recording.duration - start), channel=0,
            text=record.text, speaker=record.speaker))
    if not supervisions:
        raise InputError(f"{manifest}: no record could be exported"
                         + (f" ({outcome.problems[0]}, ...)" if outcome.problems else ""))
    recording_set = lhotse.RecordingSet.from_recordings(recordings.values())
    supervision_set = lhotse.SupervisionSet.from_segments(supervisions)
    cut_set = lhotse.CutSet.from_manifests(recordings=recording_set, supervisions=supervision_set)
    _write_jsonl_gz(out / "recordings.jsonl.gz", [r.to_dict() for r in recording_set])
    _write_jsonl_gz(out / "supervisions.jsonl.gz", [s.to_dict() for s in supervision_set])
    _write_jsonl_gz(out / "cuts.jsonl.gz", [c.to_dict() for c in cut_set])
    outcome.records = len(supervisions)
    outcome.seconds = sum(float(s.duration) for s in supervisions)
    return outcome
