"""Audio loading: formats, rates, channels, streaming, and one-line errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asr.audio import audio_info, find_audio_files, iter_audio_blocks, load_audio
from ctc.errors import InputError


def _tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("subtype, fmt, ext", [
    ("PCM_16", "WAV", "wav"), ("PCM_24", "WAV", "wav"), ("FLOAT", "WAV", "wav"),
    ("PCM_16", "FLAC", "flac"), ("PCM_24", "FLAC", "flac"), ("VORBIS", "OGG", "ogg"),
])
def test_formats_load_as_float_mono(tmp_path, subtype, fmt, ext):
    wave = _tone(16000)
    path = tmp_path / f"a.{ext}"
    sf.write(path, wave, 16000, subtype=subtype, format=fmt)
    got = load_audio(path)
    assert got.dtype == np.float32 and got.ndim == 1
    if fmt != "OGG":  # lossy codec: only the length is exact
        assert got.shape == wave.shape
        assert np.abs(got - wave).max() < 1e-4
    else:
        assert abs(got.size - wave.size) <= 1
        assert abs(np.abs(got).max() - 0.5) < 0.05


def test_stereo_is_downmixed(tmp_path):
    left, right = _tone(16000, freq=300), _tone(16000, freq=500)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    assert np.allclose(load_audio(tmp_path / "s.wav"), (left + right) / 2, atol=1e-6)


def test_44k_is_resampled_to_16k(tmp_path):
    sf.write(tmp_path / "h.wav", _tone(44100, seconds=1.0, freq=1000), 44100, subtype="PCM_16")
    got = load_audio(tmp_path / "h.wav", 16000)
    assert abs(got.size - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(got[2000:14000]))
    peak_hz = np.argmax(spectrum) * 16000 / 12000
    assert abs(peak_hz - 1000) < 3


def test_streamed_blocks_equal_whole_file(tmp_path):
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, 3 * 22050).astype(np.float32)
    sf.write(tmp_path / "r.flac", wave, 22050, subtype="PCM_24")
    whole = load_audio(tmp_path / "r.flac", 16000)
    blocks = list(iter_audio_blocks(tmp_path / "r.flac", 16000, block_seconds=0.7))
    streamed = np.concatenate(blocks)
    assert len(blocks) > 3
    assert abs(streamed.size - whole.size) <= 2
    n = min(streamed.size, whole.size)
    assert np.abs(streamed[1000:n - 1000] - whole[1000:n - 1000]).max() < 2e-3


def _one_line(err: pytest.ExceptionInfo, name: str) -> None:
    message = str(err.value)
    assert "\n" not in message and name in message


def test_missing_corrupt_and_empty_files_raise_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        load_audio(tmp_path / "nope.wav")
    _one_line(err, "nope.wav")
    (tmp_path / "bad.flac").write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(InputError) as err:
        load_audio(tmp_path / "bad.flac")
    _one_line(err, "bad.flac")
    with pytest.raises(InputError) as err:
        audio_info(tmp_path / "bad.flac")
    _one_line(err, "bad.flac")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(InputError) as err:
        load_audio(tmp_path / "empty.wav")
    _one_line(err, "empty.wav")
    with pytest.raises(InputError):
        list(iter_audio_blocks(tmp_path / "empty.wav"))


def test_truncated_file_raises_input_error(tmp_path):
    sf.write(tmp_path / "t.flac", _tone(16000, 2.0), 16000)
    data = (tmp_path / "t.flac").read_bytes()
    (tmp_path / "t.flac").write_bytes(data[:60])
    with pytest.raises(InputError) as err:
        load_audio(tmp_path / "t.flac")
    _one_line(err, "t.flac")


def test_find_audio_files_expands_directories(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    for name in ("d/b.wav", "d/e/a.flac", "d/notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = find_audio_files([str(tmp_path / "d"), str(tmp_path / "x.wav")])
    assert [p.name for p in found] == ["b.wav", "a.flac", "x.wav"]


def test_segments_are_read_by_seeking_and_checked_against_the_recording(tmp_path):
    rate = 8000
    ramp = (np.arange(rate * 3) / (rate * 3)).astype(np.float32) - 0.5  # 3 s, a distinct ramp
    sf.write(tmp_path / "rec.wav", ramp, rate, subtype="FLOAT")
    part = load_audio(tmp_path / "rec.wav", rate, 1.0, 2.5)
    np.testing.assert_allclose(part, ramp[rate: int(2.5 * rate)], atol=1e-6)
    with pytest.raises(InputError, match=r"segment \[2\.000, 4\.000\) s lies past the end"):
        load_audio(tmp_path / "rec.wav", rate, 2.0, 4.0)
