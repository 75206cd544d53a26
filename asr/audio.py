"""Audio input: any file soundfile reads (wav, flac, ogg, ...), any rate, any channel count.

Everything returns mono float32 waveforms in ``[-1, 1]`` at the requested rate: channels are
averaged (downmix) and the rate is converted with soxr's polyphase resampler. Unreadable, corrupt
or empty files raise ``InputError`` with a one-line message naming the file.

A path ending in ``|`` is a command whose standard output is the audio (Kaldi's ``wav.scp``
"extended filename" convention, e.g. ``sox in.sph -t wav - |``): it is run by the shell, as Kaldi
does, with a time limit (``CAROUSEL_PIPE_TIMEOUT`` seconds, default 600), its standard error
captured and its exit status checked; a failure is one line naming the command, its status and
the last line it wrote to standard error. The bytes are decoded with soundfile like a file. The
last command's output is kept (up to ``PIPE_CACHE_BYTES``) so that the segments of one recording,
read one after another, run it once.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ctc.errors import InputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64")
PIPE_TIMEOUT = 600.0  # seconds; CAROUSEL_PIPE_TIMEOUT overrides
PIPE_CACHE_BYTES = 256 * 2**20


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
    reason = text[-1] if text else type(err).__name__
    return re.sub(r"^Error opening <[^>]*>: ", "", reason)  # a pipe's bytes have no name


def is_pipe(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a command writing audio to stdout (Kaldi's ``cmd |``)."""
    return isinstance(path, str) and path.rstrip().endswith("|")


def pipe_command(path: str) -> str:
    """The shell command of a ``cmd |`` path (the trailing ``|`` removed)."""
    return path.rstrip()[:-1].strip()


def _pipe_timeout() -> float:
    value = os.environ.get("CAROUSEL_PIPE_TIMEOUT")
    try:
        return float(value) if value else PIPE_TIMEOUT
    except ValueError:
        raise InputError(f"CAROUSEL_PIPE_TIMEOUT must be a number of seconds, got {value!r}"
                         ) from None


_PIPE_LOCK = threading.Lock()
_PIPE_CACHE: dict[str, bytes] = {}


def run_pipe(path: str) -> bytes:
    """Run the command of a ``cmd |`` path and return its standard output.

    The shell runs it (``/bin/sh -c``, as Kaldi's ``popen``), with standard input closed and a
    time limit; InputError naming the command when it cannot start, times out, exits non-zero
    or writes nothing. The latest output is cached (see the module docstring).
    """
    with _PIPE_LOCK:
        if path in _PIPE_CACHE:
            return _PIPE_CACHE[path]
    command = pipe_command(path)
    if not command:
        raise InputError(f"{path!r}: empty command before '|'")
    timeout = _pipe_timeout()
    try:
        proc = subprocess.run(command, shell=True, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"command '{command} |' did not finish within {timeout:g} s "
                         "(CAROUSEL_PIPE_TIMEOUT)") from None
    except OSError as err:
        raise InputError(f"command '{command} |' could not run ({err.strerror})") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        said = f": {lines[-1].strip()}" if lines else ""
        status = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
                  else f"exit status {proc.returncode}")
        raise InputError(f"command '{command} |' failed ({status}){said}")
    if not proc.stdout:
        raise InputError(f"command '{command} |' wrote no audio to its standard output")
    if len(proc.stdout) <= PIPE_CACHE_BYTES:
        with _PIPE_LOCK:
            _PIPE_CACHE.clear()
            _PIPE_CACHE[path] = proc.stdout
    return proc.stdout


def _open(path: str | os.PathLike) -> sf.SoundFile:
    """A SoundFile on ``path``, or on the output of its command for a ``cmd |`` path."""
    if is_pipe(path):
        return sf.SoundFile(io.BytesIO(run_pipe(str(path))))
    return sf.SoundFile(str(path))


def _check_exists(path: str | os.PathLike) -> None:
    if not is_pipe(path) and not Path(path).is_file():
        raise InputError(f"{path}: no such audio file")


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read the header of ``path`` (a pipe is run); InputError if missing, unreadable or without
    samples."""
    _check_exists(path)
    try:
        if is_pipe(path):
            with _open(path) as handle:
                frames, rate, channels = handle.frames, handle.samplerate, handle.channels
        else:
            info = sf.info(str(path))
            frames, rate, channels = info.frames, info.samplerate, info.channels
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise InputError(f"{path}: cannot read audio ({_reason(err)})") from None
    if frames <= 0 or rate <= 0:
        raise InputError(f"{path}: empty audio (no samples)")
    return AudioInfo(str(path), int(frames), int(rate), int(channels))


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
        with _open(path) as handle:
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
        with _open(path) as handle:
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
