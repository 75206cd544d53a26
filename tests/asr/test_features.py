"""Features: numerical parity with librosa, MFCC and Kaldi fbank properties, CMVN, featurizer."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from asr import features
from asr.featurizer import LogMelFeaturizer, compute_global_cmvn
from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import Featurizer, featurizer_from_state, featurizer_state


def _speechlike(seconds: float = 1.3, rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * f * t) * rng.uniform(0.05, 0.2) for f in (180, 720, 2300, 5100))
    return (wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("htk, norm", [(False, "slaney"), (True, None), (False, None)])
def test_mel_filters_equal_librosa(htk, norm):
    ours = features.mel_filterbank(16000, 512, 80, 0.0, 8000.0, "htk" if htk else "slaney", norm)
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0.0, fmax=8000.0, htk=htk,
                              norm=norm)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("n_fft, win, hop", [(512, 400, 160), (400, 400, 160), (1024, 1024, 256)])
def test_mel_spectrogram_matches_librosa(n_fft, win, hop):
    wave = _speechlike()
    filters = librosa.filters.mel(sr=16000, n_fft=n_fft, n_mels=80)
    ref = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=n_fft, hop_length=hop,
                                         win_length=win, window="hann", center=True,
                                         pad_mode="constant", power=2.0, n_mels=80)
    ours = features.mel_spectrogram(torch.from_numpy(wave), 16000, n_fft, win, hop, 80,
                                    filters=torch.from_numpy(filters)).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())
    # our own filters give the same result
    ours2 = features.mel_spectrogram(torch.from_numpy(wave), 16000, n_fft, win, hop, 80).numpy()
    np.testing.assert_allclose(ours2, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_batch_equals_single_and_log_mel_is_time_major():
    waves = torch.from_numpy(np.stack([_speechlike(seed=1), _speechlike(seed=2)]))
    batch = features.log_mel(waves)
    assert batch.shape == (2, 1 + waves.shape[1] // 160, 80)
    torch.testing.assert_close(batch[1], features.log_mel(waves[1]))


def test_mfcc_is_orthonormal_dct_of_log_mel():
    wave = torch.from_numpy(_speechlike())
    coeffs = features.mfcc(wave, n_mfcc=80)
    basis = features.dct_matrix(80, 80)
    torch.testing.assert_close(basis.T @ basis, torch.eye(80), atol=1e-5, rtol=0)
    torch.testing.assert_close(coeffs @ basis.T, features.log_mel(wave), atol=1e-3, rtol=1e-4)
    ref = librosa.feature.mfcc(S=features.log_mel(wave).T.numpy(), n_mfcc=13, dct_type=2,
                               norm="ortho")
    np.testing.assert_allclose(features.mfcc(wave, n_mfcc=13).T.numpy(), ref, rtol=1e-4,
                               atol=1e-3)


def test_kaldi_fbank_frames_and_banks():
    wave = torch.from_numpy(_speechlike(1.0))
    fbank = features.kaldi_fbank(wave)
    assert fbank.shape == (1 + (16000 - 400) // 160, 80)
    assert torch.isfinite(fbank).all()
    banks = features.kaldi_mel_filterbank(16000, 512, 80)
    assert banks.shape == (80, 257) and float(banks.max()) <= 1.0
    peaks = banks.argmax(dim=1)
    assert bool((peaks[1:] >= peaks[:-1]).all())  # centres increase with the channel
    # a louder signal shifts every channel by the same log gain (up to the pre-emphasis)
    louder = features.kaldi_fbank(wave * 2)
    torch.testing.assert_close(louder - fbank, torch.full_like(fbank, np.log(4.0)), atol=1e-3,
                               rtol=0)


def test_utterance_and_global_cmvn():
    feats = torch.randn(200, 80) * 3 + 5
    norm = features.utterance_cmvn(feats)
    torch.testing.assert_close(norm.mean(0), torch.zeros(80), atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.std(0, unbiased=False), torch.ones(80), atol=1e-3, rtol=0)
    stats = features.CMVNStats(80)
    stats.update(feats[:50])
    stats.update(feats[50:])
    mean, std = stats.mean_std()
    torch.testing.assert_close(torch.tensor(mean).float(), feats.mean(0), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.tensor(std).float(), feats.std(0, unbiased=False),
                               atol=1e-4, rtol=0)


def test_featurizer_protocol_round_trip_and_global_cmvn(tmp_path):
    sf.write(tmp_path / "a.flac", _speechlike(1.0, rate=22050), 22050)
    sf.write(tmp_path / "b.wav", _speechlike(0.5, seed=3), 16000)
    records = [Record("a", "audio", str(tmp_path / "a.flac"), "x"),
               Record("b", "audio", str(tmp_path / "b.wav"), "y"),
               Record("c", "audio", str(tmp_path / "missing.wav"), "z")]
    feat = LogMelFeaturizer()
    assert isinstance(feat, Featurizer) and feat.feature_dim == 80 and feat.frame_shift == 0.01
    out = feat(records[0])
    assert out.dtype == torch.float32 and out.shape == (101, 80)
    mean, std, skipped = compute_global_cmvn(feat, records)
    assert len(skipped) == 1 and "missing.wav" in skipped[0]
    glob = feat.with_global_cmvn(mean, std)
    state = json.loads(json.dumps(featurizer_state(glob)))
    assert state["kind"] == "logmel" and len(state["cmvn_mean"]) == 80
    rebuilt = featurizer_from_state(state)
    torch.testing.assert_close(rebuilt(records[1]), glob(records[1]))
    both = torch.cat([glob(records[0]), glob(records[1])])  # the statistics' own frames
    torch.testing.assert_close(both.mean(0), torch.zeros(80), atol=1e-3, rtol=0)
    torch.testing.assert_close(both.std(0, unbiased=False), torch.ones(80), atol=1e-3, rtol=0)


@pytest.mark.parametrize("kind, dim", [("mfcc", 40), ("fbank", 80)])
def test_featurizer_kinds(tmp_path, kind, dim):
    sf.write(tmp_path / "a.wav", _speechlike(0.6), 16000)
    feat = LogMelFeaturizer(kind=kind)
    out = feat(Record("a", "audio", str(tmp_path / "a.wav"), "x"))
    assert out.shape[1] == dim == feat.feature_dim and torch.isfinite(out).all()


def test_featurizer_bad_file_is_input_error(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(InputError, match=r"bad\.wav"):
        LogMelFeaturizer()(Record("a", "audio", str(tmp_path / "bad.wav"), "x"))


@pytest.mark.parametrize("kind", ["logmel", "fbank"])
def test_num_frames_predicts_feature_length(tmp_path, kind):
    feat = LogMelFeaturizer(kind=kind, cmvn="none")
    for i, seconds in enumerate((0.5, 1.2345, 2.0)):
        path = tmp_path / f"{i}.wav"
        sf.write(path, _speechlike(seconds, seed=i), 16000)
        with_duration = Record(str(i), "audio", str(path), "x", duration=seconds)
        without = Record(str(i), "audio", str(path), "x")
        frames = feat(with_duration).shape[0]
        assert feat.num_frames(with_duration) == frames == feat.num_frames(without)


def test_segment_records_featurize_their_span_and_place_it_in_the_recording(tmp_path):
    rng = np.random.default_rng(7)
    wave = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    sf.write(tmp_path / "rec.wav", wave, 16000, subtype="FLOAT")
    sf.write(tmp_path / "part.wav", wave[16000:40000], 16000, subtype="FLOAT")
    feat = LogMelFeaturizer(cmvn="none")
    segment = Record("s", "audio", str(tmp_path / "rec.wav"), "x", start=1.0, end=2.5)
    alone = Record("p", "audio", str(tmp_path / "part.wav"), "x")
    torch.testing.assert_close(feat(segment), feat(alone))
    assert feat.num_frames(segment) == feat(segment).shape[0]
    _, placement = feat.place(segment)
    assert placement.at(0) == 1.0 and placement.at(100) == pytest.approx(2.0)
    assert placement.extent == pytest.approx(2.5)
