"""The speech benchmarks' plumbing: defaults that name what is missing, and the long recordings
bench_vad builds (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ctc.data.manifest import Record, write_manifest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture
def tools(monkeypatch):
    monkeypatch.syspath_prepend(str(TOOLS))
    import bench_transcribe
    import bench_vad

    yield bench_transcribe, bench_vad
    for name in ("bench_transcribe", "bench_vad"):
        sys.modules.pop(name, None)


def test_missing_demo_is_one_line(tools, tmp_path, capsys):
    bench_transcribe, bench_vad = tools
    assert bench_transcribe.main(["--model", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "model not found" in err and "make demo" in err
    with pytest.raises(SystemExit, match="make demo"):
        bench_vad.main(["--model", str(tmp_path / "none")])


def test_long_recordings_join_utterances_with_pauses_and_noise(tools, tmp_path):
    _, bench_vad = tools
    records = []
    for i in range(12):
        wave = 0.2 * np.sin(np.arange(8000) / (5 + i)).astype(np.float32)
        sf.write(tmp_path / f"u{i}.wav", wave, 16000)
        records.append(Record(f"u{i}", "audio", str(tmp_path / f"u{i}.wav"), f"W{i}", 0.5))
    write_manifest(tmp_path / "m.jsonl", records)
    made = bench_vad.build_recordings(str(tmp_path / "m.jsonl"), 2, 0.1, 30.0, tmp_path)
    assert len(made) == 2
    (first, ref0, sec0), (_, ref1, _) = made
    assert ref0.split()[0] == "W0" and ref1.split()[0] != "W0"  # distinct utterances
    audio, rate = sf.read(first)
    assert rate == 16000 and audio.size / rate == pytest.approx(sec0)
    assert sec0 >= 6.0  # --minutes 0.1: at least 6 s of speech and pauses
    pause = audio[8000 + 100:8000 + 4000]
    assert 0 < np.sqrt(np.mean(pause ** 2)) < 0.01  # background noise in the pauses
