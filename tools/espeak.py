"""One espeak-ng rendering, shared by the corpus synthesisers (tools/synth_*.py)."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import soundfile as sf


def speak(voice: str, rate: int, pitch: int, text: str) -> tuple[np.ndarray, int]:
    """espeak-ng's rendering of ``text``: ``(wave (samples,) float32 mono, sample rate)``.

    Raises:
        RuntimeError: espeak-ng failed or wrote no audio (its message).
    """
    cmd = ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or len(proc.stdout) < 100:
        raise RuntimeError(f"espeak-ng failed ({proc.stderr.decode(errors='replace').strip()})")
    wave, sample_rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    return wave, sample_rate
