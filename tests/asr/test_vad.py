"""Voice-activity detection: speech regions, chunk planning, chunks placed in the file's time,
several units of one file merged by the writers, and ``asr transcribe --vad``."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from asr import vad
from asr.audio import iter_audio_blocks
from asr.cli import main
from asr.featurizer import LogMelFeaturizer
from asr.transcribe import format_transcript, merge_units
from asr.vad import (
    VadConfig,
    energy_regions,
    measure_activity,
    plan_chunks,
    speech_regions,
    vad_posteriorgrams,
)
from ctc.data.manifest import Record, write_manifest
from ctc.data.tokens import CharTokenizer
from ctc.decode.greedy import GreedyDecoder
from ctc.errors import InputError
from ctc.results import recognize_all

RATE = 16000
BURSTS = [(1.0, 2.5), (3.0, 4.0), (7.0, 9.0)]  # seconds of "speech" in a 10 s file


def _bursty(path, seconds=10.0, bursts=BURSTS, seed=0):
    """Harmonic bursts (a voiced-like sound) at ``bursts`` in faint noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.003 * rng.standard_normal(t.size)
    for start, end in bursts:
        on = (t >= start) & (t < end)
        wave[on] += 0.2 * np.sin(2 * np.pi * 150 * t[on]) + 0.1 * np.sin(2 * np.pi * 450 * t[on])
    sf.write(path, wave.astype(np.float32), RATE)


def test_energy_detector_finds_the_bursts(tmp_path):
    _bursty(tmp_path / "b.wav")
    activity = measure_activity(iter_audio_blocks(tmp_path / "b.wav", RATE, 0.77), False)
    assert activity.duration == pytest.approx(10.0) and activity.probs is None
    regions = energy_regions(activity.energy_db)
    assert len(regions) == 3
    for (start, end), (want_s, want_e) in zip(regions, BURSTS):
        assert abs(start - want_s) < 0.03 and abs(end - want_e) < 0.03
    # a pause shorter than min_silence does not cut
    assert len(energy_regions(activity.energy_db, min_silence=0.6)) == 2
    assert energy_regions(np.zeros(0)) == []


def test_chunks_are_bounded_ordered_and_cut_at_the_quietest_frame():
    config = VadConfig(pad=0.2, max_seconds=10.0, min_seconds=1.0, max_gap=1.0)
    energy = np.zeros(6000)  # 60 s of 10 ms frames
    energy[1700] = -80.0  # a quiet frame at 17.0 s
    regions = [(2.0, 2.3), (2.9, 3.5), (5.0, 31.0), (40.0, 40.2), (59.9, 60.0)]
    chunks = plan_chunks(regions, 60.0, energy, config)
    # two regions 0.6 s apart merged and padded; 5-31 s cut at most 10 s apart, at the quietest
    # frame of each cut's second half (17.0 s, else the first of equals); the short ones widened
    # to 1 s without reaching into their neighbours
    assert chunks == [(1.8, 3.7), (4.8, 9.8), (9.8, 17.0), (17.0, 22.0), (22.0, 31.2),
                      (39.6, 40.6), (59.0, 60.0)]
    assert plan_chunks([], 5.0, energy, config) == []


def test_config_is_checked():
    with pytest.raises(InputError, match="--vad-max-seconds"):
        VadConfig(max_seconds=0.5).validate()
    with pytest.raises(InputError, match="--vad-threshold"):
        VadConfig(threshold=1.5).validate()


class StandIn:
    """An encoder stand-in: 4 input frames per output frame, energy-driven log-probs (token 2
    when loud, blank when quiet)."""

    output_frame_shift = 0.04

    def __init__(self) -> None:
        self.featurizer = LogMelFeaturizer(cmvn="none")
        self.tokenizer = CharTokenizer(["<b>", " ", "A"])

    def log_probs(self, features):
        outs = []
        for f in features:
            t = f.shape[0] // 4
            loud = (f[:4 * t].view(t, 4, -1).mean(dim=(1, 2)) > -9.5).float()
            logits = torch.stack([4 * (1 - loud), torch.zeros(t) - 2, 4 * loud], dim=1)
            outs.append(torch.log_softmax(logits, dim=-1))
        lengths = torch.tensor([o.shape[0] for o in outs])
        return torch.nn.utils.rnn.pad_sequence(outs, batch_first=True), lengths


def test_chunk_posteriors_are_placed_in_file_time_and_merged(tmp_path):
    _bursty(tmp_path / "b.wav")
    rec = StandIn()
    seen = []
    grams = vad_posteriorgrams(rec, tmp_path / "b.wav", VadConfig(backend="energy"),
                               batch_size=2, on_progress=seen.append)
    assert sum(seen) == pytest.approx(10.0)
    chunks = [g.meta["chunk"] for g in grams]
    assert len(chunks) == 2 and chunks[0][0] == pytest.approx(0.8, abs=0.05)
    for gram in grams:
        assert gram.position(0) == pytest.approx(gram.meta["chunk"][0], abs=1e-3)
        assert gram.position(10) == pytest.approx(gram.meta["chunk"][0] + 0.4, abs=1e-3)
        assert gram.extent == pytest.approx(10.0)
    decoder = GreedyDecoder(list(rec.tokenizer.symbols), 0, " ", None)
    units = recognize_all(grams, decoder, rec.tokenizer, "s")
    merged = merge_units(list(reversed(units)))
    starts = [w.start for w in merged.words]
    assert starts == sorted(starts) and len(merged.words) >= 2
    assert 7.0 - 0.3 < merged.words[-1].start < 7.3  # the last burst, in file time
    obj = json.loads(format_transcript(units, "json"))
    assert [s["start"] for s in obj["segments"]] == [c[0] for c in chunks]
    assert obj["text"] == merged.text
    ctm = format_transcript(units, "ctm").splitlines()
    assert len(ctm) == len(merged.words) and all(len(x.split()) == 6 for x in ctm)
    assert format_transcript(units[:1], "txt") == units[0].text + "\n"


def _espeak(path, text):
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)


def test_silero_finds_speech_and_leaves_threads_alone(tmp_path, monkeypatch):
    pytest.importorskip("silero_vad")
    _espeak(tmp_path / "s.wav", "the quick brown fox jumps over the lazy dog")
    speech, rate = sf.read(tmp_path / "s.wav", dtype="float32")
    from asr.audio import resample

    speech = resample(speech, rate, RATE)
    wave = np.concatenate([np.zeros(2 * RATE), speech, np.zeros(3 * RATE)]).astype(np.float32)
    wave += 0.001 * np.random.default_rng(0).standard_normal(wave.size).astype(np.float32)
    sf.write(tmp_path / "long.wav", wave, RATE)
    threads = torch.get_num_threads()
    monkeypatch.setattr(vad, "_SILERO", None)
    activity = measure_activity(iter_audio_blocks(tmp_path / "long.wav", RATE, 1.3), True)
    assert torch.get_num_threads() == threads
    regions = speech_regions(activity, VadConfig(backend="silero"))
    assert regions and 1.8 < regions[0][0] < 2.3
    assert speech.size / RATE + 1.5 < regions[-1][1] < speech.size / RATE + 2.5
    # the batched stream does not depend on how the audio arrives
    monkeypatch.setattr(vad._SileroStream, "GROUP", 2)
    a = measure_activity(iter_audio_blocks(tmp_path / "long.wav", RATE, 0.9), True)
    b = measure_activity(iter_audio_blocks(tmp_path / "long.wav", RATE, 5.0), True)
    assert np.array_equal(a.probs, b.probs)


def test_silero_missing_is_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_silero(name, *args, **kwargs):
        if name == "silero_vad":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(vad, "_SILERO", None)
    monkeypatch.setattr(builtins, "__import__", no_silero)
    with pytest.raises(InputError, match=r"pip install 'carousel\[vad\]'"):
        vad._silero_model()


TINY = """
frontend: {n_mels: 40, cmvn: utterance}
model: {subsampling: 4, conv_channels: 4, layers: 1, hidden: 16}
optim: {lr: 1.0e-3, warmup_steps: 1}
train: {epochs: 1, max_steps: 1, device: cpu, ctc_impl: torch, progress: false,
        average_last: 0, keep_best: 1}
data: {max_frames: 4000}
"""


def test_transcribe_with_vad(tmp_path, capsys):
    pytest.importorskip("ctc.train")
    for i in range(2):
        _bursty(tmp_path / f"u{i}.wav", 1.5, [(0.2, 1.2)], seed=i)
    write_manifest(tmp_path / "m.jsonl", [Record(f"u{i}", "audio", f"u{i}.wav", "A", 1.5)
                                          for i in range(2)])
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["train", "--config", str(tmp_path / "tiny.yaml"), "--train",
                 str(tmp_path / "m.jsonl"), "--valid", str(tmp_path / "m.jsonl"), "--out",
                 str(tmp_path / "exp")]) == 0
    _bursty(tmp_path / "long.wav")
    sf.write(tmp_path / "silent.wav", np.zeros(RATE, np.float32), RATE)
    capsys.readouterr()
    code = main(["transcribe", str(tmp_path / "long.wav"), str(tmp_path / "silent.wav"),
                 "--model", str(tmp_path / "exp"), "--vad", "--vad-backend", "energy",
                 "--format", "json", "--output", str(tmp_path / "out"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    obj = json.loads((tmp_path / "out" / "long.json").read_text())
    assert obj["duration"] == pytest.approx(10.0) and len(obj["segments"]) == 2
    assert all(0 <= w["start"] <= w["end"] <= 10.0 for w in obj["words"])
    silent = json.loads((tmp_path / "out" / "silent.json").read_text())
    assert silent["text"] == "" and silent["words"] == []
    code = main(["transcribe", str(tmp_path / "long.wav"), "--model", str(tmp_path / "exp"),
                 "--vad", "--vad-max-seconds", "0.1"])
    assert code == 1 and "--vad-max-seconds" in capsys.readouterr().err
