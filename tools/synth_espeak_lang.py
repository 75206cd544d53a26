"""Generate telephone-band espeak-ng speech in one language, in the LibriSpeech layout.

For pretraining (or mixing into) a model of a small real corpus in that language, such as the
Asterisk prompts of ``tools/build_asterisk.py``. Many voices speak:

- the training transcripts (``--text``, one per line, e.g. the corpus's ``lm-text.txt``);
- new word sequences drawn from a bigram chain over those transcripts ("shuffled n-grams");
- more text of the language (``--more-text FILE``, repeatable; ``--more-text mo`` takes the
  translated messages of the gettext catalogues installed under
  ``/usr/share/locale/LANG/LC_MESSAGES``, ``--more-text man`` the installed manual pages of
  the language, ``/usr/share/man/LANG``; whole sentences of 3 to 14 words without digits,
  symbols or format codes).

No line that is, or contains, a held-out text (``--exclude FILE``, e.g. ``heldout-text.txt``)
is spoken: a sentence equal to a held-out text, or holding one of at least three words, is
dropped. Texts are normalised like the corpus (``ctc.data.normalize``) and restricted to the
characters of the training text and the language's alphabet.

Voices: the language's espeak-ng voices (es: es, es-419; fr: fr-fr, fr-be, fr-ch; it: it) with
variants (``+m1`` ... ``+f5``, ``+klatt`` ...), each speaker with its own rate and pitch. The
audio is made to sound like a telephone: resampled to 8 kHz, band-passed to 300-3400 Hz (4th
order Butterworth), with a random level, low noise, and for a share of the utterances
8-bit mu-law coding. Subsets: ``train-espeak`` and a small ``dev-espeak`` of held-out voices.
Synthesis runs in a process pool; existing files are kept (a rerun resumes).

Usage: ``python tools/synth_espeak_lang.py --lang es --root data/espeak-es --utterances 3000
--text data/asterisk-es/lm-text.txt --exclude data/asterisk-es/heldout-text.txt --more-text mo``.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from espeak import render
from lang_text import (
    add_text_arguments,
    clean_texts,
    held_out_filter,
    held_out_texts,
    language_chars,
    more_texts,
    read_lines,
)

from ctc.errors import InputError
from ctc.io import atomic_write_text

ACCENTS = {"es": ["es", "es-419"], "fr": ["fr-fr", "fr-be", "fr-ch"], "it": ["it"],
           "en": ["en-us", "en-gb"], "de": ["de"], "pt": ["pt", "pt-br"]}
VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4"]
SAMPLE_RATE = 8000
BAND = (300.0, 3400.0)
PER_CHAPTER = 50


@dataclass(frozen=True)
class Job:
    path: str
    text: str
    voice: str
    rate: int
    pitch: int
    gain: float
    noise_db: float
    mulaw: bool
    seed: int


def bigram_sentences(texts: list[str], count: int, rng: random.Random,
                     max_words: int = 16) -> list[str]:
    """``count`` word sequences from a bigram random walk over ``texts`` (sentence starts
    drawn from the texts' first words; a walk ends at a sentence end or ``max_words``)."""
    follow: dict[str, list[str]] = defaultdict(list)
    starts = []
    for text in texts:
        words = text.split()
        starts.append(words[0])
        for a, b in zip(words, [*words[1:], "</s>"]):
            follow[a].append(b)
    out = []
    for _ in range(count * 3):
        if len(out) >= count or not starts:
            break
        words = [rng.choice(starts)]
        while len(words) < max_words:
            nxt = rng.choice(follow[words[-1]]) if follow[words[-1]] else "</s>"
            if nxt == "</s>":
                break
            words.append(nxt)
        if len(words) >= 3:
            out.append(" ".join(words))
    return out


def telephone(wave: np.ndarray, rate: int, job: Job) -> np.ndarray:
    """Resample to 8 kHz, band-pass 300-3400 Hz, level, noise and optional mu-law coding."""
    from scipy.signal import butter, sosfilt

    wave = soxr.resample(wave.astype(np.float32), rate, SAMPLE_RATE, quality="HQ")
    sos = butter(4, BAND, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    wave = sosfilt(sos, wave).astype(np.float32)
    peak = float(np.abs(wave).max()) or 1.0
    wave = wave * (job.gain / peak)
    rng = np.random.default_rng(job.seed)
    rms = float(np.sqrt(np.mean(wave ** 2))) or 1e-3
    wave = wave + rng.normal(0.0, rms * 10 ** (-job.noise_db / 20), size=wave.shape)
    wave = np.clip(wave, -1.0, 1.0)
    if job.mulaw:
        mu = 255.0
        coded = np.sign(wave) * np.log1p(mu * np.abs(wave)) / np.log1p(mu)
        coded = np.round((coded + 1) / 2 * mu) / mu * 2 - 1
        wave = np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu
    return wave.astype(np.float32)


def synthesize(job: Job) -> str | None:
    """Render one utterance (unless its file exists); an error line or None."""
    return render(job.path, job.voice, job.rate, job.pitch, job.text,
                  lambda wave, rate: telephone(wave, rate, job), SAMPLE_RATE)


def plan_voices(lang: str, train: int, dev: int, rng: random.Random
                ) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """(voice, rate, pitch) speakers for training and dev: dev voices are never heard in
    training; a language with fewer voices than training speakers reuses them with other rates
    and pitches (Italian has one accent: 17 voices)."""
    combos = [(f"{a}+{v}" if v else a) for a in ACCENTS[lang] for v in VARIANTS]
    rng.shuffle(combos)
    if dev >= len(combos):
        raise InputError(f"at most {len(combos) - 1} dev voices for {lang}; {dev} requested")
    held, rest = combos[:dev], combos[dev:]

    def speaker(voice: str) -> tuple[str, int, int]:
        return voice, rng.randint(110, 170), rng.randint(20, 80)

    return ([speaker(rest[i % len(rest)]) for i in range(train)],
            [speaker(voice) for voice in held])


def build(lang: str, root: Path, *, utterances: int, dev_utterances: int = 100,
          text: Path, more_text: list[str], exclude: list[Path], seed: int = 1,
          speakers: int = 30, dev_speakers: int = 4, repeat_share: float = 0.4,
          bigram_share: float = 0.2, mulaw_prob: float = 0.5, jobs: int = 0,
          log=print) -> dict[str, int]:
    """Write the corpus under ``root/LibriSpeech``; return utterances per subset."""
    if lang not in ACCENTS:
        raise InputError(f"--lang {lang}: espeak-ng voices known for {', '.join(ACCENTS)}")
    if shutil.which("espeak-ng") is None:
        raise InputError("espeak-ng not found: install it (apt-get install espeak-ng)")
    rng = random.Random(seed)
    raw_train = read_lines(text)
    allowed_chars = language_chars(lang, raw_train)
    train_texts = clean_texts(raw_train, allowed_chars, 1, 1000)
    held = held_out_texts(exclude, allowed_chars)
    may_speak = held_out_filter(held)
    extra = [t for t in clean_texts(more_texts(lang, more_text), allowed_chars, 3, 14)
             if may_speak(t)]
    train_texts = [t for t in train_texts if may_speak(t)]
    n_repeat = round(repeat_share * utterances) if extra else round(
        (repeat_share + (1 - repeat_share - bigram_share)) * utterances)
    n_bigram = round(bigram_share * utterances)
    n_extra = utterances - n_repeat - n_bigram
    sentences = [train_texts[i % len(train_texts)] for i in range(n_repeat)] if train_texts \
        else []
    sentences += [t for t in bigram_sentences(train_texts, n_bigram * 2, rng) if may_speak(t)
                  ][:n_bigram]
    rng.shuffle(extra)
    if len(extra) > dev_utterances:  # dev: other text, by held-out voices
        dev_texts, pool = extra[:dev_utterances], extra[dev_utterances:]
    else:
        dev_texts, pool = rng.sample(train_texts, min(dev_utterances, len(train_texts))), extra
    sentences += pool[:n_extra]
    while len(sentences) < utterances and train_texts:  # not enough other text: repeat
        sentences.append(rng.choice(train_texts))
    rng.shuffle(sentences)
    train_voices, dev_voices = plan_voices(lang, speakers, dev_speakers, rng)
    plan = {"train-espeak": (train_voices, sentences), "dev-espeak": (dev_voices, dev_texts)}
    corpus = root / "LibriSpeech"
    job_list: list[Job] = []
    transcripts: dict[Path, list[str]] = defaultdict(list)
    for s, (subset, (spk_voices, texts)) in enumerate(plan.items()):
        counts: dict[int, int] = defaultdict(int)
        for i, sentence in enumerate(texts):
            k = i % len(spk_voices)
            voice, rate, pitch = spk_voices[k]
            spk = 1000 + 100 * s + k
            n = counts[spk]
            counts[spk] += 1
            chapter = spk * 10 + n // PER_CHAPTER
            utt = f"{spk}-{chapter}-{n % PER_CHAPTER:04d}"
            folder = corpus / subset / str(spk) / str(chapter)
            transcripts[folder / f"{spk}-{chapter}.trans.txt"].append(f"{utt} {sentence}\n")
            job_list.append(Job(str(folder / f"{utt}.flac"), sentence, voice,
                                rate + rng.randint(-10, 10), pitch + rng.randint(-5, 5),
                                rng.uniform(0.3, 0.95), rng.uniform(25.0, 45.0),
                                rng.random() < mulaw_prob, rng.randrange(2**31)))
    errors = []
    with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool_ex:
        errors = [e for e in pool_ex.map(synthesize, job_list, chunksize=16) if e]
    for line in errors:
        log(f"warning: {line}")
    failed = {Path(e.split(":", 1)[0]).stem for e in errors}
    for path, lines in transcripts.items():
        atomic_write_text(path, "".join(sorted(ln for ln in lines
                                               if ln.split(" ", 1)[0] not in failed)))
    atomic_write_text(corpus / "SPEAKERS.TXT", "".join(
        f"{1000 + 100 * s + k} | {subset} | {v} | {r} | {p}\n"
        for s, (subset, (spk_voices, _)) in enumerate(plan.items())
        for k, (v, r, p) in enumerate(spk_voices)))
    atomic_write_text(root / "text.txt", "".join(f"{t}\n" for t in sentences))
    stats = {"train-espeak": len(sentences) - len(failed), "dev-espeak": len(dev_texts)}
    log(f"espeak-ng {lang} corpus at {corpus}: {stats} ({n_repeat} training transcripts, "
        f"{n_bigram} bigram sequences, {len(pool[:n_extra])} other sentences of "
        f"{len(extra)} available; {len(held)} held-out texts excluded)")
    if errors:
        raise InputError(f"{len(errors)} utterances failed to synthesize")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", required=True, help=f"language ({', '.join(ACCENTS)})")
    parser.add_argument("--root", type=Path, required=True, help="output root")
    parser.add_argument("--utterances", type=int, default=3000, help="training utterances")
    parser.add_argument("--dev-utterances", type=int, default=100)
    add_text_arguments(parser, "speak")
    parser.add_argument("--speakers", type=int, default=30)
    parser.add_argument("--dev-speakers", type=int, default=4)
    parser.add_argument("--repeat-share", type=float, default=0.4,
                        help="share of the utterances that speak the training transcripts")
    parser.add_argument("--bigram-share", type=float, default=0.2,
                        help="share of bigram word sequences of the training transcripts")
    parser.add_argument("--mulaw-prob", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        build(args.lang, args.root, utterances=args.utterances,
              dev_utterances=args.dev_utterances, text=args.text, more_text=args.more_text,
              exclude=args.exclude, seed=args.seed, speakers=args.speakers,
              dev_speakers=args.dev_speakers, repeat_share=args.repeat_share,
              bigram_share=args.bigram_share, mulaw_prob=args.mulaw_prob, jobs=args.jobs)
    except InputError as err:
        print(f"synth_espeak_lang: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
