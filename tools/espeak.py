"""One espeak-ng rendering, shared by the corpus synthesisers (tools/synth_*.py)."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

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


def render(path: str, voice: str, rate: int, pitch: int, text: str,
           shape: Callable[[np.ndarray, int], np.ndarray], sample_rate: int) -> str | None:
    """Speak ``text`` into a 16-bit FLAC at ``path`` (nothing when it exists), the wave passed
    through ``shape(wave, espeak's rate)``, which returns it at ``sample_rate``; written
    atomically. An error line naming the file, or None."""
    target = Path(path)
    if target.exists():
        return None
    try:
        wave, spoken_rate = speak(voice, rate, pitch, text)
    except RuntimeError as err:
        return f"{target.name}: {err}"
    wave = shape(wave, spoken_rate)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    sf.write(tmp, wave, sample_rate, subtype="PCM_16", format="FLAC")
    os.replace(tmp, target)
    return None
