"""LibriSpeech data preparation: the real corpus layout -> JSONL manifests.

Layout (openslr.org/12): ``<root>/LibriSpeech/<subset>/<speaker>/<chapter>/
<speaker>-<chapter>-<utt>.flac`` and ``<speaker>-<chapter>.trans.txt`` with lines ``ID TEXT``.
Any subset name works (train-clean-100, dev-other, or a generated corpus's names). Audio without a
transcript line and transcript lines without audio are reported, not fatal; unreadable audio is
skipped and reported.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from asr.audio import audio_info
from ctc.data.manifest import Record, write_manifest
from ctc.errors import InputError
from ctc.io import read_text_lines


@dataclass
class SubsetReport:
    """What ``prepare_subset`` found: utterances written and the problems seen."""

    subset: str
    manifest: str
    utterances: int = 0
    hours: float = 0.0
    audio_without_transcript: list[str] = field(default_factory=list)
    transcript_without_audio: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)  # transcript lines that are not UTF-8


def corpus_dir(root: str | os.PathLike) -> Path:
    """``root/LibriSpeech`` if present, else ``root`` itself when it holds subsets."""
    root = Path(root)
    if (root / "LibriSpeech").is_dir():
        return root / "LibriSpeech"
    if root.is_dir():
        return root
    raise InputError(f"{root}: LibriSpeech root not found")


def read_transcripts(subset_dir: Path, report: SubsetReport) -> dict[str, tuple[str, Path]]:
    """All ``*.trans.txt`` of a subset: utterance id -> (text, chapter folder)."""
    out: dict[str, tuple[str, Path]] = {}
    for trans in sorted(subset_dir.glob("*/*/*.trans.txt")):
        for lineno, line in read_text_lines(trans, strict=False, bad=report.undecodable):
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            if not text.strip():
                report.bad_lines.append(f"{trans}:{lineno}: no text for {utt}")
                continue
            out[utt] = (" ".join(text.split()), trans.parent)
    return out


def prepare_subset(corpus: Path, subset: str, out_dir: Path, jobs: int = 8) -> SubsetReport:
    """Write ``out_dir/<subset>.jsonl`` for one subset and return what was found."""
    subset_dir = corpus / subset
    if not subset_dir.is_dir():
        raise InputError(f"{subset_dir}: subset not found")
    report = SubsetReport(subset, str(out_dir / f"{subset}.jsonl"))
    transcripts = read_transcripts(subset_dir, report)
    audio = {p.stem: p for p in sorted(subset_dir.glob("*/*/*.flac"))}
    report.audio_without_transcript = sorted(str(p) for u, p in audio.items()
                                             if u not in transcripts)
    report.transcript_without_audio = sorted(u for u in transcripts if u not in audio)
    ids = sorted(u for u in audio if u in transcripts)

    def info(utt: str):
        try:
            return audio_info(audio[utt])
        except InputError as err:
            return err

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        infos = list(pool.map(info, ids))
    records = []
    for utt, meta in zip(ids, infos):
        if isinstance(meta, InputError):
            report.unreadable.append(str(meta))
            continue
        records.append(Record(id=utt, modality="audio", path=str(audio[utt].resolve()),
                              text=transcripts[utt][0], duration=round(meta.duration, 4),
                              sample_rate=meta.sample_rate, speaker=utt.split("-")[0]))
    report.utterances = write_manifest(report.manifest, records)
    report.hours = sum(r.duration or 0.0 for r in records) / 3600
    return report


def prepare_librispeech(root: str | os.PathLike, subsets: list[str],
                        out_dir: str | os.PathLike) -> list[SubsetReport]:
    """Prepare each subset of the corpus under ``root``; manifests go to ``out_dir``."""
    corpus = corpus_dir(root)
    return [prepare_subset(corpus, subset, Path(out_dir)) for subset in subsets]
