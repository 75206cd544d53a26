"""Audio input: any file soundfile reads (wav, flac, ogg, ...), any rate, any channel count.

Everything returns mono float32 waveforms in ``[-1, 1]`` at the requested rate: channels are
averaged (downmix) and the rate is converted with soxr's polyphase resampler. Unreadable, corrupt
or empty files raise ``InputError`` with a one-line message naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ctc.errors import InputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64")


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file: ``frames`` samples per channel at ``sample_rate``."""

    path: str
    frames: int
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def _check_exists(path: str | os.PathLike) -> None:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such audio file")


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read the header of ``path``; InputError if missing, unreadable or without samples."""
    _check_exists(path)
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise InputError(f"{path}: cannot read audio ({_reason(err)})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise InputError(f"{path}: empty audio (no samples)")
    return AudioInfo(str(path), int(info.frames), int(info.samplerate), int(info.channels))


def _downmix(block: np.ndarray) -> np.ndarray:
    """``(S, C)`` -> ``(S,)`` float32 by averaging channels."""
    if block.ndim == 2:
        block = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
    return np.ascontiguousarray(block, dtype=np.float32)


def resample(wave: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Resample a mono float32 waveform ``(S,)`` from ``orig_rate`` to ``new_rate`` (soxr HQ)."""
    if orig_rate == new_rate:
        return wave
    return soxr.resample(wave, orig_rate, new_rate, quality="HQ").astype(np.float32, copy=False)


def load_audio(path: str | os.PathLike, sample_rate: int = 16000, start: float | None = None,
               end: float | None = None) -> np.ndarray:
    """Load ``path`` (or its segment ``[start, end)`` seconds, read by seeking) as a mono float32
    waveform ``(S,)`` at ``sample_rate``.

    int16/int24/int32/float files of any rate and channel count; InputError naming the file when
    it is missing, unreadable, corrupt, empty or holds non-finite samples, or when the segment
    lies past the end of the recording.
    """
    _check_exists(path)
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            first, stop = 0, handle.frames
            if start is not None and end is not None:
                first, stop = round(start * rate), round(end * rate)
                length = handle.frames / rate
                if stop > handle.frames + round(0.01 * rate):  # 10 ms of slack for rounding
                    raise InputError(f"{path}: segment [{start:.3f}, {end:.3f}) s lies past the "
                                     f"end of the recording ({length:.3f} s)")
                stop = min(stop, handle.frames)
                handle.seek(first)
            data = handle.read(stop - first, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise InputError(f"{path}: cannot read audio ({_reason(err)})") from None
    if data.shape[0] == 0:
        raise InputError(f"{path}: empty audio (no samples)")
    wave = resample(_downmix(data), int(rate), sample_rate)
    if not np.isfinite(wave).all():
        raise InputError(f"{path}: audio holds NaN or infinite samples")
    return wave


def iter_audio_blocks(path: str | os.PathLike, sample_rate: int = 16000,
                      block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """Stream ``path`` as consecutive mono float32 blocks ``(S_b,)`` at ``sample_rate``.

    Memory stays bounded by one block whatever the file length: the file is read with
    ``SoundFile.blocks`` and resampled by a stateful ``soxr.ResampleStream``, so the concatenated
    blocks equal a streamed resampling of the whole file.
    """
    info = audio_info(path)
    block_frames = max(1, int(block_seconds * info.sample_rate))
    stream = None
    if info.sample_rate != sample_rate:
        stream = soxr.ResampleStream(info.sample_rate, sample_rate, 1, dtype="float32",
                                     quality="HQ")
    try:
        with sf.SoundFile(str(path)) as handle:
            while True:
                data = handle.read(block_frames, dtype="float32", always_2d=True)
                last = data.shape[0] < block_frames
                mono = _downmix(data)
                if stream is not None:
                    mono = stream.resample_chunk(mono, last=last).astype(np.float32, copy=False)
                if not np.isfinite(mono).all():
                    raise InputError(f"{path}: audio holds NaN or infinite samples")
                if mono.size:
                    yield mono
                if last:
                    break
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise InputError(f"{path}: cannot read audio ({_reason(err)})") from None


def find_audio_files(inputs: list[str]) -> list[Path]:
    """Expand files and directories (searched recursively for audio extensions), keeping order.

    Missing paths are returned as given so that the caller reports them like any bad file.
    """
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*")
                              if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS))
        else:
            out.append(path)
    return list(dict.fromkeys(out))
