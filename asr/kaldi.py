"""Kaldi data directories: read one into a manifest, write a manifest as one.

Layout (kaldi-asr.org/doc/data_prep.html; every file is ``<key> <value>`` lines, sorted by key
in ``LC_ALL=C`` byte order):

- ``wav.scp``: ``<recording-id> <path>`` or ``<recording-id> <command> |`` (a pipe writing the
  audio to stdout; run by the shell when the audio is read, see ``asr.audio``);
- ``text``: ``<utterance-id> <transcript>``;
- ``utt2spk``: ``<utterance-id> <speaker-id>`` (``spk2utt`` is its inverse);
- ``segments`` (optional): ``<utterance-id> <recording-id> <start> <end>`` in seconds, the
  utterance being ``[start, end)`` of the recording (``end`` -1: to the end); without it each
  utterance is a whole ``wav.scp`` entry keyed by its utterance id;
- ``reco2dur`` / ``utt2dur`` (optional): durations in seconds.

Reading goes on past bad entries: each is skipped with one line naming ``file:line`` (a missing
``wav.scp`` entry, a segment past the end of its recording, an archive offset we cannot read, a
malformed line). Durations come from ``utt2dur``, ``segments`` and ``reco2dur`` when present,
so that pipes are not run just to measure them; otherwise from the audio header (a pipe without
any duration is run once).

Writing follows the rules of Kaldi's ``utils/validate_data_dir.sh``: every file sorted by key
and unique, the same utterances in ``text``, ``utt2spk`` and ``wav.scp`` (or ``segments``), and
``spk2utt`` the exact inverse of ``utt2spk``. Kaldi wants utterance ids to start with their
speaker id, so that sorting by utterance also groups speakers: an id that does not is written
as ``<speaker>-<id>`` (the command says how many). A record without a speaker is its own
speaker. Non-WAV files are written as ``sox PATH -t wav - |`` pipes (Kaldi reads only WAV)
unless ``plain_paths``.
"""

from __future__ import annotations

import os
import re
import shlex
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from asr.audio import audio_info, is_pipe
from asr.dataio import (
    Outcome,
    fmt_seconds,
    manifest_path,
    no_space_id,
    parse_seconds,
    record_seconds,
    recording_ids,
)
from ctc.data.manifest import Record, iter_located, write_manifest
from ctc.errors import InputError
from ctc.io import atomic_write_text, read_text_lines

SEGMENT_SLACK = 0.01  # seconds a segment may overrun its recording (rounding of the times)
_ARCHIVE = re.compile(r"\.ark:\d+$")


def c_sorted(keys: Iterable[str]) -> list[str]:
    """``keys`` in ``LC_ALL=C sort`` order (by UTF-8 bytes)."""
    return sorted(keys, key=lambda k: k.encode("utf-8"))


@dataclass(frozen=True)
class Entry:
    """One ``<key> <value>`` line of a Kaldi table and where it is (``file:line``)."""

    where: str
    value: str


def read_table(path: Path, problems: list[str], *, need_value: bool = True
               ) -> dict[str, Entry | None]:
    """The ``<key> <value>`` lines of a Kaldi table file, in file order. A line without a value
    (when ``need_value``) goes to ``problems`` and its key maps to None (so that what refers to
    it is skipped without a second message); a repeated key too (the first entry is kept);
    lines that are not UTF-8 are left out and reported. InputError when the file cannot be
    read."""
    out: dict[str, Entry | None] = {}
    for lineno, line in read_text_lines(path, strict=False, bad=problems):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        parts = line.strip().split(maxsplit=1)
        key, value = parts[0], parts[1].strip() if len(parts) > 1 else ""
        if key in out:
            first = out[key]
            problems.append(f"{where}: repeated key {key!r}"
                            + (f" (first at {first.where})" if first else ""))
            continue
        if need_value and not value:
            problems.append(f"{where}: no value after the key {key!r}")
            out[key] = None
            continue
        out[key] = Entry(where, value)
    return out


@dataclass(frozen=True)
class Segment:
    """A ``segments`` line: its utterance is ``[start, end)`` of ``recording`` (end -1: to
    the end of the recording)."""

    where: str
    recording: str
    start: float
    end: float


def read_segments(path: Path, problems: list[str]) -> dict[str, Segment | None]:
    """The ``segments`` file; a malformed line goes to ``problems`` and its utterance maps to
    None."""
    out: dict[str, Segment | None] = {}
    for utt, entry in read_table(path, problems).items():
        out[utt] = None
        if entry is None:
            continue
        fields = entry.value.split()
        if len(fields) != 3:
            problems.append(f"{entry.where}: expected '<utt> <recording> <start> <end>', got "
                            f"{len(fields) + 1} field(s)")
            continue
        try:
            start = parse_seconds(fields[1], entry.where, "start")
            end = parse_seconds(fields[2], entry.where, "end", allow_minus_one=True)
        except InputError as err:
            problems.append(str(err))
            continue
        if end != -1 and not end > start:
            problems.append(f"{entry.where}: segment end {fields[2]} is not after its start "
                            f"{fields[1]}")
            continue
        out[utt] = Segment(entry.where, fields[0], start, end)
    return out


def read_durations(path: Path, problems: list[str]) -> dict[str, float]:
    """A ``reco2dur`` / ``utt2dur`` file (empty when absent)."""
    if not path.is_file():
        return {}
    out: dict[str, float] = {}
    for key, entry in read_table(path, problems).items():
        if entry is None:
            continue
        try:
            out[key] = parse_seconds(entry.value, entry.where, "duration")
        except InputError as err:
            problems.append(str(err))
    return out


def _audio_path(entry: Entry, recording: str, root: Path, problems: list[str]) -> str | None:
    """The manifest path of a ``wav.scp`` value: a command (kept), or a file resolved against
    ``root``; None (and a problem) for what we cannot read."""
    value = entry.value
    if is_pipe(value):
        return value
    if _ARCHIVE.search(value):
        problems.append(f"{entry.where}: recording {recording!r} is an archive offset ({value}); "
                        "write the audio out (wav-copy) or use a 'command |' entry")
        return None
    if value == "-":
        problems.append(f"{entry.where}: recording {recording!r} reads standard input ('-')")
        return None
    path = Path(value) if os.path.isabs(value) else root / value
    if not path.is_file():
        problems.append(f"{entry.where}: recording {recording!r}: no such audio file {path}")
        return None
    return str(path.resolve())


def prepare_kaldi(data_dir: str | os.PathLike, out: str | os.PathLike,
                  root: str | os.PathLike | None = None, jobs: int = 8) -> Outcome:
    """Write the manifest of a Kaldi data folder (see the module docstring).

    ``out``: the manifest file, or a folder to hold ``<data-dir name>.jsonl``; ``root``: the
    folder relative ``wav.scp`` paths are relative to (default: the current folder, as when
    Kaldi's scripts run). Records are in utterance-id order. InputError when the folder lacks
    ``wav.scp`` or ``text``, or when nothing can be prepared.
    """
    data = Path(data_dir)
    if not data.is_dir():
        raise InputError(f"{data}: Kaldi data folder not found")
    for name in ("wav.scp", "text"):
        if not (data / name).is_file():
            raise InputError(f"{data}: no {name} (a Kaldi data folder needs wav.scp and text)")
    root = Path(root) if root is not None else Path.cwd()
    target = manifest_path(out, data.resolve().name)
    outcome = Outcome(str(target))
    problems = outcome.problems
    wav = read_table(data / "wav.scp", problems)
    text = read_table(data / "text", problems, need_value=False)
    utt2spk = read_table(data / "utt2spk", problems) if (data / "utt2spk").is_file() else None
    if utt2spk is None:
        outcome.notes.append(f"{data}: no utt2spk; speakers left out")
    segments = read_segments(data / "segments", problems) if (data / "segments").is_file() \
        else None
    reco2dur = read_durations(data / "reco2dur", problems)
    utt2dur = read_durations(data / "utt2dur", problems)
    paths = {reco: entry and _audio_path(entry, reco, root, problems)
             for reco, entry in wav.items()}

    if utt2spk is not None:
        for utt, entry in utt2spk.items():
            if entry is not None and utt not in text:
                problems.append(f"{entry.where}: utterance {utt!r} has no line in text")

    # lengths we need and lack, measured once per recording from its header: a whole
    # utterance's without utt2dur/reco2dur; a segmented recording's (to check the segments)
    # when it is a file, or a command with a segment running to its end (-1)
    to_measure: set[str] = set()
    for utt in text:
        if segments is None:
            if utt not in utt2dur and utt not in reco2dur and paths.get(utt):
                to_measure.add(utt)
            continue
        seg = segments.get(utt)
        if seg is not None and seg.recording not in reco2dur and paths.get(seg.recording):
            if not is_pipe(paths[seg.recording] or "") or seg.end == -1:
                to_measure.add(seg.recording)

    def measure(reco: str) -> tuple[str, float | None, int | None, str | None]:
        try:
            info = audio_info(paths[reco])
            return reco, info.duration, info.sample_rate, None
        except InputError as err:
            entry = wav[reco]
            return reco, None, None, f"{entry.where if entry else data / 'wav.scp'}: {err}"

    lengths: dict[str, float] = dict(reco2dur)
    rates: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for reco, seconds, rate, error in pool.map(measure, c_sorted(to_measure)):
            if error is not None:
                problems.append(error)
                paths[reco] = None
            else:
                lengths[reco], rates[reco] = seconds, rate

    records: list[Record] = []
    for utt in c_sorted(text):
        line = text[utt]
        if line is None:
            continue  # a repeated key, reported
        where = line.where
        speaker = None
        if utt2spk is not None:
            if utt not in utt2spk:
                problems.append(f"{where}: utterance {utt!r} has no utt2spk entry")
                continue
            spk_entry = utt2spk[utt]
            if spk_entry is None:
                continue  # its utt2spk line was reported
            speaker = spk_entry.value
        transcript = " ".join(line.value.split())
        if segments is None:
            if utt not in wav:
                problems.append(f"{where}: utterance {utt!r} has no wav.scp entry")
                continue
            path = paths[utt]
            if path is None:
                continue  # its wav.scp line was reported
            duration = utt2dur.get(utt, lengths.get(utt))
            records.append(Record(id=utt, modality="audio", path=path, text=transcript,
                                  duration=round(duration, 4) if duration else None,
                                  sample_rate=rates.get(utt), speaker=speaker))
            continue
        if utt not in segments:
            problems.append(f"{where}: utterance {utt!r} is not in {data / 'segments'}")
            continue
        seg = segments[utt]
        if seg is None:
            continue  # its segments line was reported
        if seg.recording not in wav:
            problems.append(f"{seg.where}: recording {seg.recording!r} has no wav.scp entry")
            continue
        path = paths[seg.recording]
        if path is None:
            continue
        length = lengths.get(seg.recording)
        end = seg.end
        if end == -1:
            if length is None:
                problems.append(f"{seg.where}: end -1 (to the end) needs the length of "
                                f"{seg.recording!r}: add reco2dur")
                continue
            end = length
        if length is not None and end > length + SEGMENT_SLACK:
            problems.append(f"{seg.where}: segment [{fmt_seconds(seg.start)}, {fmt_seconds(end)})"
                            f" of {utt!r} lies past the end of recording {seg.recording!r} "
                            f"({fmt_seconds(length)} s)")
            continue
        if length is not None:
            end = min(end, length)
        if not end > seg.start:
            problems.append(f"{seg.where}: segment of {utt!r} is empty")
            continue
        records.append(Record(id=utt, modality="audio", path=path, text=transcript,
                              duration=round(end - seg.start, 4),
                              sample_rate=rates.get(seg.recording), speaker=speaker,
                              start=round(seg.start, 4), end=round(end, 4)))
    if not records:
        raise InputError(f"{data}: no utterance could be prepared"
                         + (f" ({problems[0]}, ...)" if problems else ""))
    outcome.records = write_manifest(target, records)
    outcome.seconds = sum(r.duration or 0.0 for r in records)
    return outcome


# --------------------------------------------------------------------------- export


KALDI_OUTPUTS = ("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur", "reco2dur")


def _kaldi_id(text: str) -> str:
    """An id Kaldi accepts (no whitespace): runs of whitespace become ``_``."""
    return no_space_id(text)


def _wav_value(path: str, plain_paths: bool) -> str:
    """What ``wav.scp`` says for an audio path: itself (WAV or a command) or a sox pipe."""
    if is_pipe(path) or plain_paths or Path(path).suffix.lower() == ".wav":
        return path
    return f"sox {shlex.quote(path)} -t wav - |"


def _starts_with_speaker(utt: str, speaker: str) -> bool:
    """Whether ``utt`` is ``speaker`` or starts with it followed by a separator (``1089-...``)."""
    return utt == speaker or (utt.startswith(speaker) and not utt[len(speaker)].isalnum())


def _lines(table: dict[str, str]) -> str:
    return "".join(f"{key} {table[key]}".rstrip() + "\n" for key in c_sorted(table))


def export_kaldi(manifest: str | os.PathLike, out_dir: str | os.PathLike, *,
                 plain_paths: bool = False) -> Outcome:
    """Write the records of ``manifest`` as the Kaldi data folder ``out_dir`` (see the module
    docstring): ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``utt2dur``, and
    ``segments`` + ``reco2dur`` when a record is a segment (then every record is one: a whole
    file is ``[0, duration)``). Durations are read from the audio header where the manifest
    lacks them; a command's is left out of ``utt2dur`` unless a segment needs it. Files of an
    earlier export that this one does not write are removed.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    outcome = Outcome(str(out))
    problems = outcome.problems
    located = list(iter_located(manifest, problems))
    with_segments = any(r.start is not None for _, r in located)
    texts: dict[str, str] = {}
    utt2spk: dict[str, str] = {}
    wav: dict[str, str] = {}
    segments: dict[str, str] = {}
    utt2dur: dict[str, float] = {}
    reco2dur: dict[str, float] = {}
    renamed = 0
    reco_ids = recording_ids(list(dict.fromkeys(r.path for _, r in located)))
    origin: dict[str, str] = {}
    for where, record in located:
        if not record.id.strip() or record.id != _kaldi_id(record.id):
            problems.append(f"{where}: id {record.id!r} holds whitespace (Kaldi ids cannot)")
            continue
        speaker = _kaldi_id(record.speaker) if record.speaker else record.id
        utt = record.id if _starts_with_speaker(record.id, speaker) else f"{speaker}-{record.id}"
        if utt in origin:
            problems.append(f"{where}: utterance id {utt!r} is already used by {origin[utt]}")
            continue
        try:
            seconds = record_seconds(record, run_pipes=with_segments)
        except InputError as err:
            problems.append(f"{where}: {err}")
            continue
        renamed += utt != record.id
        origin[utt] = where
        texts[utt] = " ".join(record.text.split())
        utt2spk[utt] = speaker
        if seconds is not None:
            utt2dur[utt] = seconds
        if not with_segments:
            wav[utt] = _wav_value(record.path, plain_paths)
            continue
        reco = reco_ids[record.path]
        wav[reco] = _wav_value(record.path, plain_paths)
        start = record.start if record.start is not None else 0.0
        assert seconds is not None
        segments[utt] = f"{reco} {fmt_seconds(start)} {fmt_seconds(start + seconds)}"
        if record.start is None:  # a whole file: its length is known
            reco2dur[reco] = seconds
    if not texts:
        raise InputError(f"{manifest}: no record could be exported"
                         + (f" ({problems[0]}, ...)" if problems else ""))
    if with_segments:
        for path, reco in reco_ids.items():
            if reco in wav and reco not in reco2dur and not is_pipe(path):
                try:
                    reco2dur[reco] = audio_info(path).duration
                except InputError as err:
                    outcome.notes.append(f"reco2dur left out: {err}")
                    reco2dur.clear()
                    break
        if set(reco2dur) != set(wav):
            reco2dur.clear()  # all or none
    spk2utt: dict[str, list[str]] = defaultdict(list)
    for utt in c_sorted(utt2spk):
        spk2utt[utt2spk[utt]].append(utt)
    check_speaker_order(utt2spk)
    files = {"wav.scp": _lines(wav), "text": _lines(texts), "utt2spk": _lines(utt2spk),
             "spk2utt": _lines({s: " ".join(u) for s, u in spk2utt.items()})}
    if segments:
        files["segments"] = _lines(segments)
    if len(utt2dur) == len(texts):
        files["utt2dur"] = _lines({u: fmt_seconds(d) for u, d in utt2dur.items()})
    if reco2dur:
        files["reco2dur"] = _lines({r: fmt_seconds(d) for r, d in reco2dur.items()})
    for name, content in files.items():
        atomic_write_text(out / name, content)
    for name in KALDI_OUTPUTS:
        if name not in files and (out / name).is_file():
            (out / name).unlink()
    stale = [n for n in ("feats.scp", "cmvn.scp") if (out / n).is_file()]
    if stale:
        outcome.notes.append(f"{out}: {' and '.join(stale)} are from an earlier run and no "
                             "longer match; remove them")
    if renamed:
        outcome.notes.append(f"{renamed} utterance id(s) did not start with their speaker id "
                             "and were written as SPEAKER-ID (Kaldi sorts utterances and "
                             "speakers alike)")
    outcome.records = len(texts)
    outcome.seconds = sum(utt2dur.values())
    return outcome


def check_speaker_order(utt2spk: dict[str, str]) -> None:
    """InputError unless sorting by utterance id groups the speakers in speaker-id order (what
    ``validate_data_dir.sh`` checks by comparing ``utt2spk`` with ``spk2utt``)."""
    speakers = [utt2spk[u] for u in c_sorted(utt2spk)]
    runs = [s for i, s in enumerate(speakers) if i == 0 or s != speakers[i - 1]]
    if runs != c_sorted(dict.fromkeys(speakers)):
        bad = next(s for a, s in zip(runs, c_sorted(dict.fromkeys(speakers))) if a != s)
        raise InputError(f"speaker {bad!r}: its utterance ids do not sort together with "
                         "the speaker ids (Kaldi needs utterance ids prefixed by speaker ids "
                         "that do not prefix each other); rename the speakers")
