"""Training-time augmentation: speed perturbation and additive noise on waveforms, SpecAugment on
features. Every function draws from the numpy ``Generator`` it is given, so a seed reproduces it.

Shapes: waveform ``(S,)`` float32; features ``(T, F)`` torch float32.

References: speed perturbation 0.9/1.0/1.1 (Ko et al., "Audio augmentation for speech
recognition", Interspeech 2015); SpecAugment (Park et al., Interspeech 2019): time warping,
``m_F`` frequency masks of width ``[0, F)``, ``m_T`` time masks of width ``[0, T)`` capped at a
fraction ``p`` of the utterance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from asr.audio import load_audio, resample


def speed_perturb(wave: np.ndarray, factor: float, sample_rate: int = 16000) -> np.ndarray:
    """Play ``wave`` ``factor`` times faster (tempo and pitch, like ``sox speed``).

    Implemented as resampling from ``factor * sample_rate`` to ``sample_rate``: the output has
    ``len(wave) / factor`` samples.
    """
    if factor == 1.0:
        return wave
    return resample(wave, round(sample_rate * factor), sample_rate)


def random_speed(wave: np.ndarray, rng: np.random.Generator, factors: Sequence[float],
                 sample_rate: int = 16000) -> np.ndarray:
    """Speed-perturb by a factor drawn uniformly from ``factors`` (e.g. 0.9, 1.0, 1.1)."""
    if not factors:
        return wave
    return speed_perturb(wave, float(factors[rng.integers(len(factors))]), sample_rate)


def coloured_noise(length: int, rng: np.random.Generator, colour: str = "white") -> np.ndarray:
    """Gaussian noise ``(length,)`` with a 1/f^a power spectrum: white a=0, pink 1, brown 2."""
    exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[colour]
    white = rng.standard_normal(length)
    if exponent == 0.0:
        return white.astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    shaped = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=length)
    return (shaped / (shaped.std() + 1e-12)).astype(np.float32)


def add_noise(wave: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``wave + g * noise`` with ``g`` chosen so that the signal-to-noise ratio is ``snr_db``.

    ``noise`` is tiled or cropped to the length of ``wave``.
    """
    if noise.size == 0:
        return wave
    if noise.size < wave.size:
        noise = np.tile(noise, wave.size // noise.size + 1)
    noise = noise[: wave.size]
    p_signal = float(np.mean(np.square(wave, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_signal == 0.0 or p_noise == 0.0:
        return wave
    gain = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (wave + gain * noise).astype(np.float32)


def random_noise(wave: np.ndarray, rng: np.random.Generator, snr_range: Sequence[float],
                 noise_files: Sequence[str] = (), colours: Sequence[str] = ("white", "pink"),
                 sample_rate: int = 16000) -> np.ndarray:
    """Add noise at an SNR drawn uniformly from ``snr_range`` (dB).

    The noise is a random crop of one of ``noise_files`` when given, else generated noise of a
    random colour.
    """
    snr = float(rng.uniform(snr_range[0], snr_range[1]))
    if noise_files:
        noise = load_audio(noise_files[rng.integers(len(noise_files))], sample_rate)
        if noise.size > wave.size:
            start = int(rng.integers(noise.size - wave.size + 1))
            noise = noise[start:start + wave.size]
    else:
        noise = coloured_noise(wave.size, rng, colours[rng.integers(len(colours))])
    return add_noise(wave, noise, snr)


def time_warp(features: torch.Tensor, rng: np.random.Generator, window: int) -> torch.Tensor:
    """Warp ``(T, F)`` in time: a random point ``c`` moves to ``c + w``, ``|w| <= window``.

    Each side of ``c`` is stretched linearly, so the length is unchanged.
    """
    t = features.shape[0]
    if window <= 0 or t <= 2 * window + 2:
        return features
    centre = int(rng.integers(window + 1, t - window))
    target = centre + int(rng.integers(-window, window + 1))
    if target == centre or not 0 < target < t:
        return features
    x = features.T[None]  # (1, F, T)
    left = torch.nn.functional.interpolate(x[..., :centre], size=target, mode="linear",
                                           align_corners=False)
    right = torch.nn.functional.interpolate(x[..., centre:], size=t - target, mode="linear",
                                            align_corners=False)
    return torch.cat([left, right], dim=-1)[0].T.contiguous()


def spec_augment(features: torch.Tensor, rng: np.random.Generator, *, freq_masks: int = 2,
                 freq_width: int = 27, time_masks: int = 2, time_width: int = 40,
                 time_ratio: float = 0.05, warp_window: int = 0,
                 mask_value: float = 0.0) -> torch.Tensor:
    """SpecAugment on ``(T, F)`` features; returns a new tensor (the input is left untouched).

    Frequency masks: ``freq_masks`` bands of width ``U[0, freq_width]`` bins. Time masks:
    ``time_masks`` spans of width ``U[0, min(time_width, time_ratio * T)]`` frames. Masked values
    become ``mask_value`` (0 = the mean after CMVN). ``warp_window > 0`` time-warps first.
    """
    out = time_warp(features, rng, warp_window) if warp_window > 0 else features.clone()
    t, f = out.shape
    for _ in range(freq_masks):
        width = int(rng.integers(0, min(freq_width, f) + 1))
        start = int(rng.integers(0, f - width + 1))
        out[:, start:start + width] = mask_value
    max_time = min(time_width, int(time_ratio * t))
    for _ in range(time_masks):
        width = int(rng.integers(0, max_time + 1)) if max_time > 0 else 0
        start = int(rng.integers(0, t - width + 1))
        out[start:start + width, :] = mask_value
    return out
