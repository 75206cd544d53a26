"""Augmentation: SpecAugment masks, speed perturbation, noise SNR, determinism under a seed."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from asr import augment
from asr.featurizer import LogMelFeaturizer
from ctc.data.manifest import Record


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_spec_augment_masks_bands_and_spans():
    feats = torch.randn(300, 80) + 10.0  # no natural zeros
    out = augment.spec_augment(feats, _rng(), freq_masks=2, freq_width=10, time_masks=2,
                               time_width=20, time_ratio=1.0)
    assert out.shape == feats.shape and not torch.equal(out, feats)
    assert float(feats.min()) > 0  # input untouched
    zero_cols = (out == 0).all(dim=0)
    zero_rows = (out == 0).all(dim=1)
    assert int(zero_cols.sum()) <= 20 and int(zero_rows.sum()) <= 40
    masked = out == 0
    assert bool((masked == (zero_cols[None, :] | zero_rows[:, None])).all())
    kept = ~masked
    assert torch.equal(out[kept], feats[kept])


def test_spec_augment_time_ratio_caps_mask_width():
    feats = torch.ones(100, 20)
    for seed in range(20):
        out = augment.spec_augment(feats, _rng(seed), freq_masks=0, time_masks=1,
                                   time_width=50, time_ratio=0.05)
        assert int((out == 0).all(dim=1).sum()) <= 5


def test_spec_augment_is_deterministic_under_seed():
    feats = torch.randn(200, 40)
    kwargs = {"warp_window": 5, "time_ratio": 0.2}
    a = augment.spec_augment(feats, _rng(7), **kwargs)
    b = augment.spec_augment(feats, _rng(7), **kwargs)
    c = augment.spec_augment(feats, _rng(8), **kwargs)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_time_warp_keeps_shape_and_endpoints():
    feats = torch.linspace(0, 1, 100)[:, None].repeat(1, 4)
    warped = augment.time_warp(feats, _rng(3), window=10)
    assert warped.shape == feats.shape
    assert not torch.equal(warped, feats)
    assert bool((warped[1:, 0] >= warped[:-1, 0] - 1e-6).all())  # monotone stays monotone


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_length_and_pitch(factor):
    rate = 16000
    t = np.arange(rate) / rate
    wave = np.sin(2 * np.pi * 500 * t).astype(np.float32)
    out = augment.speed_perturb(wave, factor, rate)
    assert abs(out.size - wave.size / factor) <= 2
    seg = out[1000:out.size - 1000]
    peak = np.argmax(np.abs(np.fft.rfft(seg))) * rate / seg.size
    assert abs(peak - 500 * factor) < 5
    assert augment.speed_perturb(wave, 1.0, rate) is wave


def test_add_noise_hits_requested_snr():
    rng = _rng(1)
    wave = rng.standard_normal(32000).astype(np.float32) * 0.3
    for colour in ("white", "pink", "brown"):
        noise = augment.coloured_noise(32000, rng, colour)
        noisy = augment.add_noise(wave, noise, 10.0)
        added = noisy - wave
        snr = 10 * np.log10(np.mean(wave ** 2) / np.mean(added ** 2))
        assert snr == pytest.approx(10.0, abs=0.05)


def test_pink_noise_has_falling_spectrum():
    noise = augment.coloured_noise(1 << 16, _rng(2), "pink")
    power = np.abs(np.fft.rfft(noise)) ** 2
    low, high = power[10:100].mean(), power[10000:20000].mean()
    assert low > 20 * high


def test_featurizer_training_augmentation_is_seeded(tmp_path):
    rng = _rng(0)
    sf.write(tmp_path / "a.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    record = Record("a", "audio", str(tmp_path / "a.wav"), "x")
    feat = LogMelFeaturizer(speed_factors=[0.9, 1.0, 1.1], noise_prob=1.0,
                            spec_augment={"freq_masks": 2, "freq_width": 10, "time_masks": 2,
                                          "time_width": 10})
    a, b = feat(record, train=True, rng=_rng(5)), feat(record, train=True, rng=_rng(5))
    assert torch.equal(a, b)
    lengths = {feat(record, train=True, rng=_rng(s)).shape[0] for s in range(12)}
    assert len(lengths) > 1  # speed perturbation changes the number of frames
    clean = feat(record)
    assert torch.equal(clean, feat(record, train=False, rng=_rng(5)))
