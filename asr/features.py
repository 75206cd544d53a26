"""Acoustic features in torch (CPU or GPU, batched): log-mel, MFCC, Kaldi-style fbank, CMVN.

Shapes: ``S`` samples, ``N`` batch, ``T`` frames, ``F`` feature bins, ``K = n_fft // 2 + 1``
frequency bins. Every function accepts a waveform ``(S,)`` or a batch ``(N, S)`` on any device
and returns ``(T, F)`` or ``(N, T, F)`` float32 on the same device (time-major, as the encoder
consumes it). No autograd is needed or expected.

References: Slaney mel scale and area-normalised triangles (Slaney, Auditory Toolbox, 1998;
librosa's default); HTK mel scale ``2595 log10(1 + f / 700)``; Kaldi ``compute-fbank-feats``
conventions (Povey window, pre-emphasis 0.97, DC removal, frames without centring); MFCC as the
orthonormal DCT-II of log-mel energies (Davis & Mermelstein, 1980).
"""

from __future__ import annotations

import functools
import math

import torch

# --------------------------------------------------------------------------- mel scales


# Slaney's mel scale (Auditory Toolbox; librosa's default): linear below 1 kHz, log above
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(freq: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Hertz -> mel: ``slaney`` (linear below 1 kHz, log above), ``htk`` or ``kaldi`` scale."""
    freq = torch.as_tensor(freq, dtype=torch.float64)
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + freq / 700.0)
    if scale == "kaldi":
        return 1127.0 * torch.log1p(freq / 700.0)
    if scale != "slaney":
        raise ValueError(f"unknown mel scale {scale!r}")
    linear = freq / _SLANEY_HZ_PER_MEL
    log = _SLANEY_MIN_LOG_MEL + torch.log(
        torch.clamp(freq, min=_SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return torch.where(freq >= _SLANEY_MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: torch.Tensor, scale: str = "slaney") -> torch.Tensor:
    """Inverse of ``hz_to_mel``."""
    mel = torch.as_tensor(mel, dtype=torch.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    if scale == "kaldi":
        return 700.0 * torch.expm1(mel / 1127.0)
    if scale != "slaney":
        raise ValueError(f"unknown mel scale {scale!r}")
    log = _SLANEY_MIN_LOG_HZ * torch.exp(_SLANEY_LOGSTEP * (mel - _SLANEY_MIN_LOG_MEL))
    return torch.where(mel >= _SLANEY_MIN_LOG_MEL, log, _SLANEY_HZ_PER_MEL * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None, scale: str = "slaney",
                   norm: str | None = "slaney") -> torch.Tensor:
    """Triangular mel filters ``(n_mels, K)`` (float32), as librosa.filters.mel builds them.

    Centres are equally spaced on the mel ``scale``; the triangles are linear in Hz. With
    ``norm="slaney"`` each filter is divided by its width in Hz (constant energy per channel).
    Cached: the returned tensor is shared, do not modify it in place.
    """
    return _mel_filterbank(int(sample_rate), int(n_fft), int(n_mels), float(fmin),
                           None if fmax is None else float(fmax), scale, norm)


@functools.lru_cache(maxsize=32)
def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                    fmax: float | None, scale: str, norm: str | None) -> torch.Tensor:
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(float(hz_to_mel(fmin, scale)), float(hz_to_mel(fmax, scale)),
                          n_mels + 2, dtype=torch.float64)
    edges = mel_to_hz(mels, scale)  # (n_mels + 2,)
    widths = torch.diff(edges)  # (n_mels + 1,)
    ramps = edges[:, None] - fft_freqs[None, :]  # (n_mels + 2, K)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    if norm == "slaney":
        weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    elif norm is not None:
        raise ValueError(f"unknown mel filter norm {norm!r}")
    return weights.float()


@functools.lru_cache(maxsize=32)
def kaldi_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 20.0,
                         fmax: float | None = None) -> torch.Tensor:
    """Kaldi's mel banks ``(n_mels, K)``: triangles linear in the mel domain, no area norm.

    Cached: the returned tensor is shared, do not modify it in place.
    """
    fmax = sample_rate / 2.0 if fmax is None or fmax <= 0 else fmax
    fft_mels = hz_to_mel(torch.arange(n_fft // 2 + 1, dtype=torch.float64)
                         * sample_rate / n_fft, "kaldi")
    lo, hi = float(hz_to_mel(fmin, "kaldi")), float(hz_to_mel(fmax, "kaldi"))
    step = (hi - lo) / (n_mels + 1)
    left = lo + step * torch.arange(n_mels, dtype=torch.float64)
    right = left + 2 * step
    up = (fft_mels[None, :] - left[:, None]) / step
    down = (right[:, None] - fft_mels[None, :]) / step
    weights = torch.clamp(torch.minimum(up, down), min=0.0)
    weights[:, 0] = 0.0  # Kaldi never uses the DC bin
    return weights.float()


# --------------------------------------------------------------------------- spectra


def _as_batch(wave: torch.Tensor) -> tuple[torch.Tensor, bool]:
    wave = torch.as_tensor(wave)
    if wave.dim() == 1:
        return wave[None].float(), True
    if wave.dim() != 2:
        shape = tuple(wave.shape)
        raise ValueError(f"waveform must be (samples,) or (batch, samples), got {shape}")
    return wave.float(), False


def power_spectrogram(wave: torch.Tensor, n_fft: int, hop_length: int, win_length: int,
                      center: bool = True, pad_mode: str = "constant") -> torch.Tensor:
    """``|STFT|^2`` with a periodic Hann window (centred in ``n_fft``): ``(N, K, T)``.

    With ``center`` the signal is padded by ``n_fft // 2`` so that frame ``t`` is centred on
    sample ``t * hop_length`` (librosa's convention).
    """
    batch, _ = _as_batch(wave)
    window = torch.hann_window(win_length, periodic=True, device=batch.device)
    spec = torch.stft(batch, n_fft, hop_length=hop_length, win_length=win_length,
                      window=window, center=center, pad_mode=pad_mode, return_complex=True)
    return spec.real.square() + spec.imag.square()


def mel_spectrogram(wave: torch.Tensor, sample_rate: int = 16000, n_fft: int = 512,
                    win_length: int = 400, hop_length: int = 160, n_mels: int = 80,
                    fmin: float = 0.0, fmax: float | None = None,
                    filters: torch.Tensor | None = None, center: bool = True) -> torch.Tensor:
    """Mel power spectrogram ``(N, n_mels, T)`` (or ``(n_mels, T)`` for one waveform).

    Equal to ``librosa.feature.melspectrogram`` with the same STFT settings and filters.
    ``filters`` ``(n_mels, K)`` overrides the Slaney filters built from the other arguments.
    """
    batch, single = _as_batch(wave)
    power = power_spectrogram(batch, n_fft, hop_length, win_length, center=center)
    if filters is None:
        filters = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    mel = torch.matmul(filters.to(power), power)  # (N, n_mels, T)
    return mel[0] if single else mel


def log_mel(wave: torch.Tensor, sample_rate: int = 16000, n_fft: int = 512,
            win_length: int = 400, hop_length: int = 160, n_mels: int = 80,
            fmin: float = 0.0, fmax: float | None = None, floor: float = 1e-10) -> torch.Tensor:
    """Log mel energies, time-major: ``(T, n_mels)`` or ``(N, T, n_mels)``."""
    mel = mel_spectrogram(wave, sample_rate, n_fft, win_length, hop_length, n_mels, fmin, fmax)
    return torch.log(torch.clamp(mel, min=floor)).transpose(-1, -2).contiguous()


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """Orthonormal DCT-II basis ``(n_mels, n_mfcc)``: ``mfcc = log_mel @ D``."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64)
    basis = torch.cos(math.pi / n_mels * (n[:, None] + 0.5) * k[None, :])
    basis *= math.sqrt(2.0 / n_mels)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.float()


dct_matrix = functools.lru_cache(maxsize=8)(dct_matrix)


def mfcc(wave: torch.Tensor, sample_rate: int = 16000, n_mfcc: int = 40, n_fft: int = 512,
         win_length: int = 400, hop_length: int = 160, n_mels: int = 80,
         fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    """MFCC ``(T, n_mfcc)`` or ``(N, T, n_mfcc)``: orthonormal DCT-II of the log-mel energies."""
    logmel = log_mel(wave, sample_rate, n_fft, win_length, hop_length, n_mels, fmin, fmax)
    return torch.matmul(logmel, dct_matrix(n_mfcc, n_mels).to(logmel))


def povey_window(length: int, device: torch.device | None = None) -> torch.Tensor:
    """Kaldi's default window: a symmetric Hann window raised to the power 0.85."""
    n = torch.arange(length, dtype=torch.float64, device=device)
    return ((0.5 - 0.5 * torch.cos(2 * math.pi * n / (length - 1))) ** 0.85).float()


def kaldi_fbank(wave: torch.Tensor, sample_rate: int = 16000, n_mels: int = 80,
                win_length: int = 400, hop_length: int = 160, preemphasis: float = 0.97,
                fmin: float = 20.0, fmax: float | None = None) -> torch.Tensor:
    """Kaldi-style log mel filterbank ``(T, n_mels)`` or ``(N, T, n_mels)``.

    Frames are not centred (``T = 1 + (S - win_length) // hop_length``, Kaldi's snip-edges);
    each frame has its DC offset removed, is pre-emphasised and Povey-windowed, zero-padded to a
    power of two, and its power spectrum goes through Kaldi's mel banks. Samples are scaled to the
    16-bit range first, as Kaldi reads them.
    """
    batch, single = _as_batch(wave)
    batch = batch * 32768.0
    if batch.shape[1] < win_length:
        batch = torch.nn.functional.pad(batch, (0, win_length - batch.shape[1]))
    frames = batch.unfold(1, win_length, hop_length)  # (N, T, win)
    frames = frames - frames.mean(dim=-1, keepdim=True)
    shifted = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
    frames = frames - preemphasis * shifted
    frames = frames * povey_window(win_length, frames.device)
    n_fft = 1 << (win_length - 1).bit_length()
    spec = torch.fft.rfft(frames, n=n_fft)  # (N, T, K)
    power = spec.real.square() + spec.imag.square()
    banks = kaldi_mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax).to(power)
    energies = torch.matmul(power, banks.T)  # (N, T, n_mels)
    out = torch.log(torch.clamp(energies, min=torch.finfo(torch.float32).eps))
    return out[0] if single else out


# --------------------------------------------------------------------------- normalisation


def utterance_cmvn(features: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-utterance mean and variance normalisation of ``(T, F)`` over time."""
    mean = features.mean(dim=0, keepdim=True)
    std = features.std(dim=0, unbiased=False, keepdim=True)
    return (features - mean) / (std + eps)


class CMVNStats:
    """Running sums for global CMVN over many ``(T, F)`` feature matrices (float64)."""

    def __init__(self, dim: int) -> None:
        self.count = 0
        self.total = torch.zeros(dim, dtype=torch.float64)
        self.total_sq = torch.zeros(dim, dtype=torch.float64)

    def update(self, features: torch.Tensor) -> None:
        feats = features.detach().double().cpu()
        self.count += feats.shape[0]
        self.total += feats.sum(dim=0)
        self.total_sq += feats.square().sum(dim=0)

    def mean_std(self, floor: float = 1e-5) -> tuple[list[float], list[float]]:
        if self.count == 0:
            raise ValueError("no frames accumulated for CMVN statistics")
        mean = self.total / self.count
        var = torch.clamp(self.total_sq / self.count - mean.square(), min=floor ** 2)
        return mean.tolist(), var.sqrt().tolist()
