"""tools/synth_espeak_lang.py: bigram sequences, the telephone channel, and a tiny corpus with
espeak-ng when installed (the text selection it shares: tests/tools/test_lang_text.py)."""

from __future__ import annotations

import itertools
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import synth_espeak_lang as synth  # noqa: E402

sys.path.pop(0)

TRAIN = ["por favor ingrese su contraseña", "la conferencia ha sido bloqueada",
         "gracias", "ingrese su número de agente seguido de la tecla numeral"]


def test_bigram_sequences_follow_the_training_text():
    out = synth.bigram_sentences(TRAIN, 30, random.Random(0))
    assert len(out) == 30
    pairs = {(a, b) for t in TRAIN for a, b in zip(t.split(), t.split()[1:])}
    for sentence in out:
        words = sentence.split()
        assert len(words) >= 3 and all(p in pairs for p in itertools.pairwise(words))


def test_telephone_channel_is_band_limited_8khz():
    rate = 22050
    t = np.arange(rate) / rate
    wave = (np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t)
            + np.sin(2 * np.pi * 3900 * t)).astype(np.float32)
    job = synth.Job("x", "", "es", 150, 50, 0.9, 60.0, False, 0)
    out = synth.telephone(wave, rate, job)
    assert len(out) == pytest.approx(8000, abs=2) and np.abs(out).max() <= 1.0
    spectrum = np.abs(np.fft.rfft(out[1000:]))
    freqs = np.fft.rfftfreq(len(out) - 1000, 1 / 8000)

    def power(f: float) -> float:
        return float(spectrum[np.abs(freqs - f) < 10].max())

    assert power(1000) > 10 * power(100) and power(1000) > 5 * power(3900)
    coded = synth.telephone(wave, rate, synth.Job("x", "", "es", 150, 50, 0.9, 60.0, True, 0))
    assert np.abs(coded - out).max() < 0.05  # mu-law coding: small quantisation error


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_tiny_corpus(tmp_path):
    text = tmp_path / "train.txt"
    text.write_text("\n".join(TRAIN) + "\n")
    held = tmp_path / "held.txt"
    held.write_text("gracias\n")
    more = tmp_path / "more.txt"
    more.write_text("el archivo no existe todavía\nintente de nuevo más tarde por favor\n"
                    "gracias por su llamada hoy\n" * 2)
    stats = synth.build("es", tmp_path / "out", utterances=8, dev_utterances=1, text=text,
                        more_text=[str(more)], exclude=[held], speakers=3, dev_speakers=1,
                        jobs=1, log=lambda *_: None)
    assert stats == {"train-espeak": 8, "dev-espeak": 1}
    flac = sorted((tmp_path / "out/LibriSpeech/train-espeak").rglob("*.flac"))
    assert len(flac) == 8 and {sf.info(str(p)).samplerate for p in flac} == {8000}
    spoken = (tmp_path / "out/text.txt").read_text().splitlines()
    assert "gracias" not in spoken
    assert all("gracias" not in line.split() or len(line.split()) > 1 for line in spoken)
    from asr.librispeech import prepare_librispeech

    reports = prepare_librispeech(tmp_path / "out", ["train-espeak", "dev-espeak"],
                                  tmp_path / "m")
    assert [r.utterances for r in reports] == [8, 1]


def test_dev_voices_are_never_heard_in_training_even_with_few_voices():
    train, dev = synth.plan_voices("it", 30, 4, random.Random(0))
    assert len(train) == 30 and len(dev) == 4
    assert not {v for v, _, _ in train} & {v for v, _, _ in dev}
    assert len({(v, r, p) for v, r, p in train}) > 17 - 4  # voices reused with other settings
    with pytest.raises(synth.InputError, match="dev voices"):
        synth.plan_voices("it", 3, 17, random.Random(0))
