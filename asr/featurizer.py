"""``LogMelFeaturizer``: manifest record -> ``(T, F)`` float32 features for the speech encoder.

Implements ``ctc.modality.Featurizer`` (registered as ``logmel``, ``audio`` modality). The
pipeline is: load (mono, resampled) -> [train: speed
perturbation, additive noise] -> features (log-mel, MFCC or Kaldi fbank, in torch) -> CMVN
(per utterance, global with stored statistics, or none) -> [train: SpecAugment]. ``to_dict``
holds every constructor argument, global CMVN statistics included, so checkpoints carry them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from asr import augment, features
from asr.audio import audio_info, is_pipe, load_audio
from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import Placement, register_featurizer

KINDS = ("logmel", "mfcc", "fbank")


@contextlib.contextmanager
def _one_thread(device: str) -> Iterator[None]:
    """Compute one utterance's features on one CPU thread.

    The tensors are small (a few hundred frames): intra-op threads gain nothing and, on a busy
    machine, their synchronisation made torch.stft 10-30x slower (measured 116 ms vs 10 ms for
    3.6 s of audio with 2 threads under load).
    """
    if device != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
CMVN_MODES = ("utterance", "global", "none")


def load_record_audio(path: str, sample_rate: int, start: float | None = None,
               end: float | None = None, record_id: str | None = None) -> np.ndarray:
    """``asr.audio.load_audio``; a failing command (``cmd |`` path) is named with its record,
    since the command alone may not say which recording it is."""
    try:
        return load_audio(path, sample_rate, start, end)
    except InputError as err:
        if record_id is not None and is_pipe(path):
            raise InputError(f"recording of {record_id!r}: {err}") from None
        raise


@register_featurizer
class LogMelFeaturizer:
    """Speech front-end; see the module docstring.

    Args:
        sample_rate: the model's rate; audio at other rates is resampled.
        kind: ``logmel`` (Slaney mel, centred STFT), ``mfcc`` (DCT of log-mel) or ``fbank``
            (Kaldi conventions).
        n_mels, n_mfcc, n_fft, fmin, fmax: filterbank settings (``n_mfcc`` only for MFCC).
        win_length, hop_length: window and shift in seconds (25 ms / 10 ms).
        cmvn: ``utterance``, ``global`` (needs ``cmvn_mean`` and ``cmvn_std``) or ``none``.
        speed_factors: speed perturbation factors drawn uniformly in training (empty: off).
        noise_prob, noise_snr, noise_files: additive noise in training with probability
            ``noise_prob`` at an SNR drawn from ``noise_snr`` dB (generated noise without files).
        spec_augment: keyword arguments of ``asr.augment.spec_augment``; None disables it.
        device: where features are computed (``cpu`` or ``cuda``); outputs are returned on CPU.
    """

    kind = "logmel"
    modality = "audio"

    def __init__(self, sample_rate: int = 16000, kind: str = "logmel", n_mels: int = 80,
                 n_mfcc: int = 40, n_fft: int = 512, win_length: float = 0.025,
                 hop_length: float = 0.01, fmin: float = 0.0, fmax: float | None = None,
                 cmvn: str = "utterance", cmvn_mean: Sequence[float] | None = None,
                 cmvn_std: Sequence[float] | None = None,
                 speed_factors: Sequence[float] = (), noise_prob: float = 0.0,
                 noise_snr: Sequence[float] = (10.0, 30.0), noise_files: Sequence[str] = (),
                 spec_augment: dict[str, Any] | None = None, device: str = "cpu") -> None:
        if kind not in KINDS:
            raise ValueError(f"feature kind must be one of {KINDS}, got {kind!r}")
        if cmvn not in CMVN_MODES:
            raise ValueError(f"cmvn must be one of {CMVN_MODES}, got {cmvn!r}")
        self.sample_rate = int(sample_rate)
        self.kind = kind
        self.n_mels, self.n_mfcc, self.n_fft = int(n_mels), int(n_mfcc), int(n_fft)
        self.win_length, self.hop_length = float(win_length), float(hop_length)
        self.fmin, self.fmax = float(fmin), fmax
        self.cmvn = cmvn
        self.cmvn_mean = list(cmvn_mean) if cmvn_mean is not None else None
        self.cmvn_std = list(cmvn_std) if cmvn_std is not None else None
        self.speed_factors = [float(f) for f in speed_factors]
        self.noise_prob = float(noise_prob)
        self.noise_snr = [float(v) for v in noise_snr]
        self.noise_files = list(noise_files)
        self.spec_augment = dict(spec_augment) if spec_augment else None
        self.device = device
        self.feature_dim = self.n_mfcc if kind == "mfcc" else self.n_mels
        self.frame_shift = self.hop_length
        self.win_samples = round(self.win_length * self.sample_rate)
        self.hop_samples = round(self.hop_length * self.sample_rate)
        if self.n_fft < self.win_samples:
            raise ValueError(f"n_fft ({n_fft}) must be at least the window ({self.win_samples})")
        if cmvn == "global" and (self.cmvn_mean is None or self.cmvn_std is None):
            raise ValueError("cmvn='global' needs cmvn_mean and cmvn_std (asr train computes them)")
        self._stats: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.cmvn_mean is not None and self.cmvn_std is not None:
            mean = torch.tensor(self.cmvn_mean, dtype=torch.float32)
            std = torch.tensor(self.cmvn_std, dtype=torch.float32)
            if mean.numel() != self.feature_dim or std.numel() != self.feature_dim:
                raise ValueError(f"CMVN statistics must have {self.feature_dim} values")
            self._stats = (mean, torch.clamp(std, min=1e-5))

    # ------------------------------------------------------------------ protocol

    def __call__(self, record: Record, train: bool = False,
                 rng: np.random.Generator | None = None) -> torch.Tensor:
        """Features ``(T, F)`` float32 (CPU) of ``record``'s audio (its segment when it has
        ``start``/``end``); InputError on bad audio."""
        wave = load_record_audio(record.path, self.sample_rate, record.start, record.end,
                                 record.id)
        return self.from_waveform(wave, train=train, rng=rng, name=record.path)

    def place(self, record: Record) -> tuple[torch.Tensor, Placement]:
        """Features of ``record`` (no augmentation) and where their frames lie, in seconds."""
        wave = load_record_audio(record.path, self.sample_rate, record.start, record.end,
                                 record.id)
        feats = self.from_waveform(wave, name=record.path)
        offset = record.start or 0.0
        return feats, Placement(offset, self.hop_length, offset + wave.size / self.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate,
                "kind": self.kind, "n_mels": self.n_mels, "n_mfcc": self.n_mfcc,
                "n_fft": self.n_fft, "win_length": self.win_length,
                "hop_length": self.hop_length, "fmin": self.fmin, "fmax": self.fmax,
                "cmvn": self.cmvn, "cmvn_mean": self.cmvn_mean, "cmvn_std": self.cmvn_std,
                "speed_factors": self.speed_factors, "noise_prob": self.noise_prob,
                "noise_snr": self.noise_snr, "noise_files": self.noise_files,
                "spec_augment": self.spec_augment, "device": self.device}

    def num_frames(self, record: Record) -> int:
        """Frames ``record`` featurizes to (before speed perturbation), from its duration or,
        without one, from the file header."""
        if record.start is not None and record.end is not None:
            samples = round((record.end - record.start) * self.sample_rate)
        elif record.duration:
            samples = round(record.duration * self.sample_rate)
        else:
            info = audio_info(record.path)
            samples = round(info.frames * self.sample_rate / info.sample_rate)
        if self.kind == "fbank":
            return 1 + max(0, samples - self.win_samples) // self.hop_samples
        return 1 + samples // self.hop_samples

    # ------------------------------------------------------------------ pieces

    def augment_waveform(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Training-time waveform augmentation (speed, noise) of ``(S,)``."""
        wave = augment.random_speed(wave, rng, self.speed_factors, self.sample_rate)
        if self.noise_prob > 0 and rng.random() < self.noise_prob:
            wave = augment.random_noise(wave, rng, self.noise_snr, self.noise_files,
                                        sample_rate=self.sample_rate)
        return wave

    def raw_features(self, wave: torch.Tensor) -> torch.Tensor:
        """Un-normalised features of ``(S,)`` or ``(N, S)``: ``(T, F)`` or ``(N, T, F)``."""
        common = {"sample_rate": self.sample_rate, "n_mels": self.n_mels,
                  "win_length": self.win_samples, "hop_length": self.hop_samples}
        if self.kind == "fbank":
            return features.kaldi_fbank(wave, fmin=self.fmin if self.fmin > 0 else 20.0,
                                        fmax=self.fmax, **common)
        common.update(n_fft=self.n_fft, fmin=self.fmin, fmax=self.fmax)
        if self.kind == "mfcc":
            return features.mfcc(wave, n_mfcc=self.n_mfcc, **common)
        return features.log_mel(wave, **common)

    def normalize(self, feats: torch.Tensor) -> torch.Tensor:
        """Apply this featurizer's CMVN to ``(T, F)``."""
        if self.cmvn == "utterance":
            return features.utterance_cmvn(feats)
        if self.cmvn == "global":
            assert self._stats is not None
            mean, std = self._stats
            return (feats - mean.to(feats.device)) / std.to(feats.device)
        return feats

    def from_waveform(self, wave: np.ndarray | torch.Tensor, train: bool = False,
                      rng: np.random.Generator | None = None, name: str = "waveform",
                      normalize: bool = True) -> torch.Tensor:
        """Features ``(T, F)`` float32 on CPU of a mono waveform ``(S,)`` at ``sample_rate``."""
        if train:
            rng = rng if rng is not None else np.random.default_rng()
            wave = self.augment_waveform(np.asarray(wave, dtype=np.float32), rng)
        samples = torch.as_tensor(np.asarray(wave, dtype=np.float32)).to(self.device)
        min_samples = self.win_samples if self.kind == "fbank" else 1
        if samples.numel() < min_samples:
            raise InputError(f"{name}: audio too short ({samples.numel()} samples)")
        with _one_thread(self.device):
            feats = self.raw_features(samples)
            if normalize:
                feats = self.normalize(feats)
            if train and self.spec_augment:
                feats = augment.spec_augment(feats, rng, **self.spec_augment)
            return feats.float().cpu().contiguous()

    def with_global_cmvn(self, mean: Sequence[float], std: Sequence[float]) -> LogMelFeaturizer:
        """A copy of this featurizer using global CMVN with the given statistics."""
        state = self.to_dict()
        state.update(cmvn="global", cmvn_mean=list(mean), cmvn_std=list(std))
        return LogMelFeaturizer(**state)


def compute_global_cmvn(featurizer: LogMelFeaturizer, records: Iterable[Record],
                        max_utterances: int | None = None) -> tuple[list[float], list[float],
                                                                    list[str]]:
    """Mean and standard deviation per feature bin over ``records`` (no augmentation).

    Returns ``(mean, std, skipped)``: files that fail to load are skipped and listed.
    """
    stats = features.CMVNStats(featurizer.feature_dim)
    skipped: list[str] = []
    for i, record in enumerate(records):
        if max_utterances is not None and i >= max_utterances:
            break
        try:
            wave = load_record_audio(record.path, featurizer.sample_rate, record.start,
                                     record.end, record.id)
            stats.update(featurizer.from_waveform(wave, name=record.path, normalize=False))
        except InputError as err:
            skipped.append(str(err))
    mean, std = stats.mean_std()
    return mean, std, skipped
