"""Generate a speech corpus in exactly the LibriSpeech layout with espeak-ng.

Layout (as in openslr.org/12): ``<root>/LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>
.flac`` (16 kHz, 16-bit FLAC) with one ``<spk>-<chapter>.trans.txt`` per chapter holding lines
``<spk>-<chapter>-<utt> TEXT IN UPPER CASE``, plus ``SPEAKERS.TXT``. The text comes from
``tools/corpus_text.py`` (sentence-disjoint splits; ``--text FILE`` for your own sentences).

Speakers are espeak-ng voices: an accent (en-us, en-gb, en-gb-scotland, en-029, ...) with a voice
variant (``+m3``, ``+f2``, ``+klatt``, ...), a speaking rate and a pitch. Subsets are
speaker-disjoint and dev/test hold out whole voices: no accent+variant combination of dev or test
is heard in training. Synthesis runs in a process pool and is idempotent: existing files are
kept, so an interrupted run resumes. ``lm-text.txt`` (training sentences plus ``--lm-sentences``
extra sentences, none from dev or test) is written for the language model.

Usage: ``python tools/synth_librispeech.py --root data/synth --train 3000 --dev 200 --test 200``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_text import split_sentences
from espeak import render

ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4"]
SAMPLE_RATE = 16000
UTTERANCES_PER_CHAPTER = 25


@dataclass(frozen=True)
class Speaker:
    id: int
    accent: str
    variant: str
    rate: int  # words per minute
    pitch: int  # 0..99
    subset: str

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}" if self.variant else self.accent

    @property
    def sex(self) -> str:
        return "F" if self.variant.startswith("f") else "M"


@dataclass(frozen=True)
class Job:
    path: str
    text: str
    voice: str
    rate: int
    pitch: int
    gain: float


def plan_speakers(counts: dict[str, int], seed: int) -> list[Speaker]:
    """Speaker-disjoint voices per subset; held-out subsets get unseen accent+variant pairs."""
    rng = random.Random(seed)
    combos = [(a, v) for a in ACCENTS for v in VARIANTS]
    rng.shuffle(combos)
    needed = sum(counts.values())
    if needed > len(combos):
        raise SystemExit(f"at most {len(combos)} distinct voices; {needed} speakers requested")
    speakers, start, next_id = [], 0, 100
    for subset, n in counts.items():
        for accent, variant in combos[start:start + n]:
            speakers.append(Speaker(next_id, accent, variant, rng.randint(135, 185),
                                    rng.randint(25, 75), subset))
            next_id += rng.randint(1, 40)
        start += n
    return speakers


def plan_jobs(corpus: Path, subsets: dict[str, tuple[list[Speaker], list[str]]],
              seed: int) -> tuple[list[Job], dict[Path, list[str]]]:
    """Assign sentences round-robin to speakers and chapters; return jobs and transcripts."""
    rng = random.Random(seed + 1)
    jobs: list[Job] = []
    transcripts: dict[Path, list[str]] = defaultdict(list)
    for subset, (speakers, sentences) in subsets.items():
        per_speaker: dict[int, int] = defaultdict(int)
        for i, sentence in enumerate(sentences):
            spk = speakers[i % len(speakers)]
            k = per_speaker[spk.id]
            per_speaker[spk.id] += 1
            chapter = spk.id * 10 + k // UTTERANCES_PER_CHAPTER
            utt = f"{spk.id}-{chapter}-{k % UTTERANCES_PER_CHAPTER:04d}"
            folder = corpus / subset / str(spk.id) / str(chapter)
            text = sentence.upper()
            transcripts[folder / f"{spk.id}-{chapter}.trans.txt"].append(f"{utt} {text}")
            jobs.append(Job(str(folder / f"{utt}.flac"), text.lower(), spk.voice,
                            spk.rate + rng.randint(-8, 8), spk.pitch + rng.randint(-4, 4),
                            rng.uniform(0.5, 1.0)))
    return jobs, transcripts


def synthesize(job: Job) -> str | None:
    """Render one utterance to 16 kHz FLAC; returns an error line or None. Skips existing files."""

    def shape(wave: np.ndarray, rate: int) -> np.ndarray:
        wave = soxr.resample(wave, rate, SAMPLE_RATE, quality="HQ")
        peak = float(np.abs(wave).max()) or 1.0
        return np.clip(wave * (job.gain / peak), -1.0, 1.0)

    return render(job.path, job.voice, job.rate, job.pitch, job.text, shape, SAMPLE_RATE)


def _write_text(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = "".join(f"{line}\n" for line in lines)
    if path.exists() and path.read_text(encoding="utf-8") == content:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


def build_corpus(root: Path, sizes: dict[str, int], speakers: dict[str, int], seed: int = 1,
                 jobs: int = 0, lm_sentences: int = 0, lm_text: Path | None = None,
                 text_file: str | None = None, progress: bool = True) -> dict[str, int]:
    """Create (or complete) the corpus under ``root/LibriSpeech``; return utterances per subset.

    ``sizes`` maps subset name -> utterances, ``speakers`` subset name -> voices (the first
    subset is the training one: the LM text holds its sentences).
    """
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: install it (apt-get install espeak-ng)")
    corpus = root / "LibriSpeech"
    counts = dict(sizes)
    counts["__lm__"] = lm_sentences
    sentences = split_sentences(counts, seed, text_file)
    voice_plan = plan_speakers(speakers, seed)
    subsets = {name: ([s for s in voice_plan if s.subset == name], sentences[name])
               for name in sizes}
    job_list, transcripts = plan_jobs(corpus, subsets, seed)
    workers = jobs or os.cpu_count() or 1
    errors: list[str] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(synthesize, job_list, chunksize=16)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(job_list), desc="synthesizing", unit="utt")
        errors = [r for r in results if r]
    for line in errors:
        print(f"warning: {line}", file=sys.stderr)
    for path, lines in transcripts.items():
        _write_text(path, sorted(lines))
    _write_text(corpus / "SPEAKERS.TXT",
                [";ID  |SEX| SUBSET | VOICE (espeak-ng) | RATE | PITCH"]
                + [f"{s.id:<5}| {s.sex} | {s.subset} | {s.voice} | {s.rate} | {s.pitch}"
                   for s in voice_plan])
    train = next(iter(sizes))
    lm_lines = [s.upper() for s in sentences[train] + sentences["__lm__"]]
    _write_text(lm_text or corpus / "lm-text.txt", lm_lines)
    if errors:
        raise SystemExit(f"{len(errors)} utterances failed to synthesize")
    return {name: len(sentences[name]) for name in sizes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a LibriSpeech-layout corpus with espeak-ng voices.")
    parser.add_argument("--root", type=Path, required=True,
                        help="output root; the corpus goes to ROOT/LibriSpeech/<subset>/...")
    parser.add_argument("--train", type=int, default=3000, help="training utterances")
    parser.add_argument("--dev", type=int, default=200, help="dev utterances")
    parser.add_argument("--test", type=int, default=200, help="test utterances")
    parser.add_argument("--train-speakers", type=int, default=48)
    parser.add_argument("--dev-speakers", type=int, default=8)
    parser.add_argument("--test-speakers", type=int, default=8)
    parser.add_argument("--prefix", default="espeak",
                        help="subset names are train-PREFIX, dev-PREFIX, test-PREFIX")
    parser.add_argument("--lm-sentences", type=int, default=20000,
                        help="extra training-only sentences for the LM text")
    parser.add_argument("--lm-text", type=Path, default=None,
                        help="where to write the LM text (default ROOT/LibriSpeech/lm-text.txt)")
    parser.add_argument("--text", default=None,
                        help="your own sentences (one per line) instead of the grammar")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default: all CPUs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    names = [f"train-{args.prefix}", f"dev-{args.prefix}", f"test-{args.prefix}"]
    sizes = dict(zip(names, (args.train, args.dev, args.test)))
    speakers = dict(zip(names, (args.train_speakers, args.dev_speakers, args.test_speakers)))
    done = build_corpus(args.root, sizes, speakers, args.seed, args.jobs, args.lm_sentences,
                        args.lm_text, args.text, progress=not args.quiet)
    summary = ", ".join(f"{k}: {v}" for k, v in done.items())
    print(f"corpus at {args.root / 'LibriSpeech'} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
