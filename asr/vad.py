"""Voice-activity detection for long audio: find the speech, cut the file at pauses into chunks
of bounded length, and transcribe only those (``asr transcribe --vad``).

Two detectors, both run over the file as a stream of blocks (memory bounded by a block):

- ``silero`` (``pip install 'carousel[vad]'``): Silero VAD (Silero Team 2024, github
  snakers4/silero-vad), a small recurrent network whose TorchScript model ships inside the
  ``silero-vad`` package and loads from it offline. It gives a speech probability for each
  32 ms window of 16 kHz audio, its state carried from window to window (within segments of
  6 s run as a batch, each warmed up on the second before it); the package's
  ``get_speech_timestamps_from_probs`` turns them into speech regions (on above ``threshold``,
  default 0.5, off below ``threshold - 0.15``, regions under 250 ms dropped, pauses shorter than
  ``min_silence`` bridged).
- ``energy`` (no dependency): the log energy of 10 ms frames; the file's noise floor is the
  10th percentile of its frame energies and its speech level the 95th; a frame is speech when
  it is more than ``threshold`` (default 0.3) of the way from the floor to the speech level,
  and at least 6 dB above the floor. Pauses shorter than ``min_silence`` are bridged and regions
  under 200 ms dropped. It works on speech in stationary noise; babble or music above the
  speech level defeat it (use silero there).

``auto`` takes silero when the package is installed, else energy.

Chunking (:func:`plan_chunks`): each speech region is widened by ``pad`` seconds on both sides
(the model hears the onsets and offsets); regions are merged, in order, while the merged chunk
stays within ``max_seconds`` and the pause between them is under ``max_gap``; a region longer
than ``max_seconds`` is cut at its quietest 10 ms frame in the second half of the allowed span;
a chunk shorter than ``min_seconds`` is widened to it (never into its neighbours). Audio
outside every chunk (long pauses, noise) is not transcribed.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from asr.audio import audio_info, iter_audio_blocks, load_audio
from ctc.errors import InputError
from ctc.modality import Posteriorgram

BACKENDS = ("auto", "silero", "energy")
VAD_RATE = 16000  # both detectors look at 16 kHz audio
FRAME = 160  # samples per 10 ms energy frame at VAD_RATE
SILERO_WINDOW = 512  # samples per Silero window at 16 kHz (32 ms)


@dataclass(frozen=True)
class VadConfig:
    """Detector and chunking settings (see the module docstring).

    ``backend``: ``auto``, ``silero`` or ``energy``; ``threshold``: silero's speech probability
    or the energy detector's fraction of the floor-to-speech range (None: 0.5 / 0.3);
    ``min_silence``: pauses shorter than this (seconds) do not end a region; ``pad``: seconds of
    audio kept around each region; ``max_seconds`` / ``min_seconds``: chunk length bounds;
    ``max_gap``: longest pause kept inside a chunk.
    """

    backend: str = "auto"
    threshold: float | None = None
    min_silence: float = 0.3
    pad: float = 0.2
    max_seconds: float = 30.0
    min_seconds: float = 1.0
    max_gap: float = 1.0

    def validate(self) -> None:
        """InputError for settings outside their domain."""
        if self.backend not in BACKENDS:
            raise InputError(f"--vad-backend must be one of {', '.join(BACKENDS)}, got "
                             f"{self.backend!r}")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise InputError(f"--vad-threshold must be in (0, 1), got {self.threshold}")
        if not 1 <= self.max_seconds <= 600:
            raise InputError(f"--vad-max-seconds must be in [1, 600], got {self.max_seconds}")
        if not 0 <= self.min_seconds <= self.max_seconds:
            raise InputError(f"--vad-min-seconds must be in [0, --vad-max-seconds], got "
                             f"{self.min_seconds}")
        if not 0 <= self.pad <= 5:
            raise InputError(f"--vad-pad-seconds must be in [0, 5], got {self.pad}")
        if not 0 <= self.min_silence <= 10 or not 0 <= self.max_gap <= 60:
            raise InputError("--vad-min-silence must be in [0, 10] and --vad-max-gap in [0, 60]")


# --------------------------------------------------------------------------- detectors


_SILERO: Any = None


def silero_available() -> bool:
    """Whether the ``silero-vad`` package is installed."""
    import importlib.util

    return importlib.util.find_spec("silero_vad") is not None


def _silero_model() -> Any:
    """Silero's TorchScript model from the package's own files (no download), loaded once.

    Importing ``silero_vad`` sets torch's thread count to 1; the caller's count is restored.
    """
    global _SILERO
    if _SILERO is None:
        threads = torch.get_num_threads()
        try:
            import silero_vad
        except ImportError:
            raise InputError("--vad-backend silero needs the silero-vad package: pip install "
                             "'carousel[vad]' (or use --vad-backend energy)") from None
        finally:
            torch.set_num_threads(threads)
        with warnings.catch_warnings():  # its loader uses deprecated importlib/torch calls
            warnings.simplefilter("ignore", DeprecationWarning)
            _SILERO = silero_vad.load_silero_vad()
    return _SILERO


def resolve_backend(name: str) -> str:
    """``auto`` -> ``silero`` when installed, else ``energy``."""
    if name == "auto":
        return "silero" if silero_available() else "energy"
    return name


@dataclass
class Activity:
    """What one pass over a file found: ``duration`` (seconds), ``energy_db`` (one value per
    10 ms frame) and, for silero, ``probs`` (one speech probability per 32 ms window)."""

    duration: float
    energy_db: np.ndarray
    probs: np.ndarray | None = None


def _frame_energy(wave: np.ndarray) -> np.ndarray:
    """Log energy (dB) of consecutive 10 ms frames of ``(S,)`` (S a multiple of FRAME)."""
    frames = wave.reshape(-1, FRAME).astype(np.float64)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10)


class _SileroStream:
    """Silero's speech probabilities of a stream of 16 kHz blocks, computed in batches.

    The audio is cut into segments of ``SEGMENT_WINDOWS`` windows (6.1 s), each preceded by
    ``CONTEXT_WINDOWS`` windows (1 s) of the audio before it, whose outputs are discarded: the
    model's state warms up on them. Up to ``GROUP`` segments (6.5 min) run as one batch, one
    window at a time, which is about 6x faster than one window per call (measured on the demo's
    long recordings, speech decisions differing in under 0.5% of the windows); memory stays
    bounded by a group.
    """

    SEGMENT_WINDOWS = 192
    CONTEXT_WINDOWS = 32
    GROUP = 64

    def __init__(self, model: Any) -> None:
        self.model = model
        self.segment = self.SEGMENT_WINDOWS * SILERO_WINDOW
        self.context = self.CONTEXT_WINDOWS * SILERO_WINDOW
        self.pending = np.zeros(0, np.float32)
        self.tail = np.zeros(self.context, np.float32)  # the audio before the next segment
        self.probs: list[np.ndarray] = []

    def feed(self, block: np.ndarray) -> None:
        self.pending = np.concatenate([self.pending, block])
        group = self.GROUP * self.segment
        while self.pending.size >= group:
            self._run(self.pending[:group])
            self.pending = self.pending[group:]

    def finish(self) -> np.ndarray:
        if self.pending.size:
            self._run(self.pending)
            self.pending = np.zeros(0, np.float32)
        return np.concatenate(self.probs) if self.probs else np.zeros(0, np.float32)

    def _run(self, audio: np.ndarray) -> None:
        windows = -(-audio.size // SILERO_WINDOW)
        count = -(-audio.size // self.segment)
        full = np.zeros(self.context + count * self.segment, np.float32)
        full[:self.context] = self.tail
        full[self.context:self.context + audio.size] = audio
        batch = np.stack([full[k * self.segment:k * self.segment + self.context + self.segment]
                          for k in range(count)])
        self.tail = full[-self.context:].copy()
        inputs = torch.from_numpy(batch)
        self.model.reset_states()
        outs = []
        for w in range(self.CONTEXT_WINDOWS + self.SEGMENT_WINDOWS):
            chunk = inputs[:, w * SILERO_WINDOW:(w + 1) * SILERO_WINDOW]
            outs.append(self.model(chunk, VAD_RATE).reshape(-1).float().numpy())
        probs = np.stack(outs, axis=1)[:, self.CONTEXT_WINDOWS:].reshape(-1)
        self.probs.append(probs[:windows].astype(np.float32))


def measure_activity(blocks: Iterator[np.ndarray], silero: bool) -> Activity:
    """One pass over 16 kHz blocks: frame energies and, with ``silero``, speech probabilities
    (see :class:`_SileroStream`)."""
    stream = _SileroStream(_silero_model()) if silero else None
    energies: list[np.ndarray] = []
    carry = np.zeros(0, np.float32)
    total = 0
    with torch.inference_mode():
        for block in blocks:
            total += block.size
            buf = np.concatenate([carry, block])
            usable = buf.size - buf.size % FRAME
            energies.append(_frame_energy(buf[:usable]))
            carry = buf[usable:]
            if stream is not None:
                stream.feed(block)
        if carry.size:
            energies.append(_frame_energy(np.pad(carry, (0, FRAME - carry.size))))
        probs = stream.finish() if stream is not None else None
    energy = np.concatenate(energies) if energies else np.zeros(0)
    return Activity(total / VAD_RATE, energy, probs)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index runs where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _bridge(regions: list[tuple[float, float]], min_silence: float, min_speech: float
            ) -> list[tuple[float, float]]:
    """Join regions separated by less than ``min_silence``; drop those under ``min_speech``."""
    out: list[tuple[float, float]] = []
    for start, end in regions:
        if out and start - out[-1][1] < min_silence:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return [(s, e) for s, e in out if e - s >= min_speech]


def energy_regions(energy_db: np.ndarray, threshold: float = 0.3, min_silence: float = 0.3,
                   min_speech: float = 0.2) -> list[tuple[float, float]]:
    """Speech regions (seconds) from 10 ms frame energies (see the module docstring)."""
    if energy_db.size == 0:
        return []
    floor = float(np.percentile(energy_db, 10))
    level = float(np.percentile(energy_db, 95))
    cut = max(floor + threshold * (level - floor), floor + 6.0)
    step = FRAME / VAD_RATE
    regions = [(a * step, b * step) for a, b in _runs(energy_db > cut)]
    return _bridge(regions, min_silence, min_speech)


def silero_regions(probs: np.ndarray, duration: float, threshold: float = 0.5,
                   min_silence: float = 0.3) -> list[tuple[float, float]]:
    """Speech regions (seconds) from Silero's window probabilities, by the package's own
    hysteresis (``get_speech_timestamps_from_probs``)."""
    from silero_vad import get_speech_timestamps_from_probs

    stamps = get_speech_timestamps_from_probs(
        probs.tolist(), sampling_rate=VAD_RATE, threshold=threshold,
        min_speech_duration_ms=250, min_silence_duration_ms=round(min_silence * 1000),
        speech_pad_ms=0, audio_length_samples=round(duration * VAD_RATE))
    return [(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in stamps]


def speech_regions(activity: Activity, config: VadConfig) -> list[tuple[float, float]]:
    """The speech regions of a measured file, by the detector ``activity`` was measured for."""
    if activity.probs is not None:
        threshold = config.threshold if config.threshold is not None else 0.5
        return silero_regions(activity.probs, activity.duration, threshold, config.min_silence)
    threshold = config.threshold if config.threshold is not None else 0.3
    return energy_regions(activity.energy_db, threshold, config.min_silence)


# --------------------------------------------------------------------------- chunking


def _quietest_cut(energy_db: np.ndarray, start: float, lo: float, hi: float) -> float:
    """The time in ``[lo, hi]`` of the quietest 10 ms frame (``hi`` when none is measured)."""
    step = FRAME / VAD_RATE
    a, b = int(np.ceil(lo / step)), int(np.floor(hi / step))
    if b <= a or a >= energy_db.size:
        return hi
    frames = energy_db[a:min(b, energy_db.size)]
    return max(start + 1e-3, (a + int(np.argmin(frames))) * step)


def plan_chunks(regions: Sequence[tuple[float, float]], duration: float, energy_db: np.ndarray,
                config: VadConfig) -> list[tuple[float, float]]:
    """``[start, end)`` chunks (seconds, in order, not overlapping) covering the speech
    ``regions`` of a file of ``duration`` seconds (see the module docstring)."""
    padded = [(max(0.0, s - config.pad), min(duration, e + config.pad)) for s, e in regions]
    merged: list[tuple[float, float]] = []
    for start, end in padded:
        if merged and (start <= merged[-1][1] or (
                start - merged[-1][1] < config.max_gap
                and end - merged[-1][0] <= config.max_seconds)):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    chunks: list[tuple[float, float]] = []
    for start, end in merged:
        while end - start > config.max_seconds:
            cut = _quietest_cut(energy_db, start, start + config.max_seconds / 2,
                                start + config.max_seconds)
            chunks.append((start, cut))
            start = cut
        chunks.append((start, end))
    widened: list[tuple[float, float]] = []
    for i, (start, end) in enumerate(chunks):
        missing = config.min_seconds - (end - start)
        if missing > 0:
            lo = widened[-1][1] if widened else 0.0
            hi = chunks[i + 1][0] if i + 1 < len(chunks) else duration
            start = max(lo, start - missing / 2)
            end = min(hi, start + config.min_seconds)
            start = max(lo, end - config.min_seconds)
        widened.append((start, end))
    return [(round(s, 3), round(e, 3)) for s, e in widened if e - s > 0.03]


# --------------------------------------------------------------------------- transcription


def vad_chunks(path: str | os.PathLike, config: VadConfig) -> tuple[list[tuple[float, float]],
                                                                      float]:
    """The chunks of one file and its duration; InputError naming it if unreadable."""
    backend = resolve_backend(config.backend)
    activity = measure_activity(iter_audio_blocks(path, VAD_RATE, block_seconds=30.0),
                                silero=backend == "silero")
    regions = speech_regions(activity, config)
    return plan_chunks(regions, activity.duration, activity.energy_db, config), \
        activity.duration


def vad_posteriorgrams(recognizer: Any, path: str | os.PathLike, config: VadConfig,
                       batch_size: int = 4, on_progress: Callable[[float], Any] | None = None
                       ) -> list[Posteriorgram]:
    """The posteriors of each speech chunk of one file, placed in the file's time (encoder
    frame ``f`` of a chunk starting at ``c`` lies at ``c + f * output_frame_shift``), run
    through the model ``batch_size`` chunks at a time; ``meta["chunk"]`` is ``(start, end)``.
    A file without speech gives no posteriorgram. InputError naming the file if unreadable."""
    info = audio_info(path)
    chunks, _ = vad_chunks(path, config)
    feat = recognizer.featurizer
    shift = recognizer.output_frame_shift
    grams: list[Posteriorgram] = []
    done = 0.0
    for first in range(0, len(chunks), max(1, batch_size)):
        batch = chunks[first:first + batch_size]
        feats = []
        for start, end in batch:
            wave = load_audio(path, feat.sample_rate, start, min(end, info.duration))
            feats.append(feat.from_waveform(wave, name=str(path)))
        with torch.inference_mode():
            log_probs, lengths = recognizer.log_probs(feats)
        log_probs, lengths = log_probs.float().cpu(), lengths.cpu()
        for i, (start, end) in enumerate(batch):
            grams.append(Posteriorgram(
                str(path), log_probs[i, :int(lengths[i])].clone(),
                lambda frame, start=start: round(start + frame * shift, 3), info.duration,
                {"chunk": (start, end)}))
        if on_progress is not None:
            on_progress(batch[-1][1] - done)
            done = batch[-1][1]
    if on_progress is not None and info.duration > done:
        on_progress(info.duration - done)
    return grams


def vad_config(args: Any) -> VadConfig:
    """The :class:`VadConfig` of the command line's ``--vad*`` options, validated; says on
    stderr once when ``auto`` falls back to the energy detector."""
    config = VadConfig(backend=args.vad_backend, threshold=args.vad_threshold,
                       min_silence=args.vad_min_silence, pad=args.vad_pad_seconds,
                       max_seconds=args.vad_max_seconds, min_seconds=args.vad_min_seconds,
                       max_gap=args.vad_max_gap)
    config.validate()
    if config.backend == "silero":
        _silero_model()
    elif config.backend == "auto" and not silero_available():
        print(f"{getattr(args, 'prog', 'asr')}: note: silero-vad is not installed; --vad uses "
              "the energy detector (pip install 'carousel[vad]' for silero)", file=sys.stderr)
    return config
