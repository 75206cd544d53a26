"""Transcription: window stitching equals whole-file posteriors, word timings, output formats."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import iter_audio_blocks, load_audio
from asr.featurizer import LogMelFeaturizer
from asr.transcribe import (
    format_transcript,
    iter_windows,
    stitched_log_probs,
    transcribe_file,
)
from ctc.data.tokens import CharTokenizer
from ctc.decode import Hypothesis, greedy_decode
from ctc.decode.greedy import GreedyDecoder
from ctc.results import Recognition, Span


class LocalRecognizer:
    """A stand-in encoder with a bounded receptive field: mean of 4 frames, linear, log-softmax."""

    output_frame_shift = 0.04

    def __init__(self) -> None:
        self.featurizer = LogMelFeaturizer(cmvn="none")
        self.tokenizer = CharTokenizer(["<b>", " ", "A", "B", "C"])
        self.weight = torch.randn(80, 5, generator=torch.Generator().manual_seed(0)) * 0.2

    def _one(self, feats: torch.Tensor) -> torch.Tensor:
        t = feats.shape[0]
        padded = torch.nn.functional.pad(feats, (0, 0, 0, (-t) % 4))
        pooled = padded.view(-1, 4, feats.shape[1]).mean(dim=1)  # (T', F)
        return torch.log_softmax(pooled @ self.weight, dim=-1)

    def log_probs(self, features):
        outs = [self._one(f) for f in features]
        lengths = torch.tensor([o.shape[0] for o in outs])
        return torch.nn.utils.rnn.pad_sequence(outs, batch_first=True), lengths


def _audio(path, seconds=3.3, rate=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.2 * np.sin(2 * np.pi * (200 + 300 * np.sin(3 * t)) * t) * (1 + np.sin(7 * t))
    sf.write(path, (wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32), rate)


def test_windows_cover_the_stream_once():
    blocks = iter(np.array_split(np.arange(10_000, dtype=np.float32), 7))
    windows = list(iter_windows(blocks, step=1280, context=640))
    centres = [(w.centre, w.centre_length) for w in windows]
    assert centres[0] == (0, 1280) and centres[-1][1] is None
    assert [c for c, _ in centres] == list(range(0, 10_000, 1280))
    for w in windows:
        assert np.array_equal(w.samples, np.arange(w.start, w.start + w.samples.size))
        assert w.start == max(0, w.centre - 640)


@pytest.mark.parametrize("rate", [16000, 22050])
def test_stitched_log_probs_equal_whole_file(tmp_path, rate):
    _audio(tmp_path / "a.wav", rate=rate)
    rec = LocalRecognizer()
    whole = rec._one(rec.featurizer.from_waveform(load_audio(tmp_path / "a.wav")))
    blocks = iter_audio_blocks(tmp_path / "a.wav", 16000, block_seconds=0.37)
    stitched = stitched_log_probs(rec, blocks, chunk_seconds=0.4, context_seconds=0.16,
                                  batch_size=3)
    assert stitched.shape == whole.shape
    torch.testing.assert_close(stitched, whole, atol=2e-3, rtol=1e-3)
    a = greedy_decode(whole[None])[0]
    b = greedy_decode(stitched[None])[0]
    assert a.tokens == b.tokens and a.frames == b.frames


def test_transcribe_file_gives_word_times_in_seconds(tmp_path):
    _audio(tmp_path / "a.wav")
    rec = LocalRecognizer()
    out = transcribe_file(rec, GreedyDecoder(rec.tokenizer.symbols), tmp_path / "a.wav",
                          chunk_seconds=1.0, context_seconds=0.2)
    assert out.extent == pytest.approx(3.3)
    for w in out.words:
        assert 0 <= w.start < w.end <= 3.3 + 1e-9
        assert round(w.start / 0.04, 6) == round(w.start / 0.04)  # on the 40 ms grid
    assert out.text == " ".join(w.text for w in out.words)


def test_word_spans_from_char_tokens():
    tok = CharTokenizer(["<b>", " ", "A", "B"])
    hyp = Hypothesis(tokens=(2, 3, 1, 3, 2), frames=(1, 3, 5, 8, 10))
    spans = tok.words(hyp.tokens, hyp.frames)
    assert [(s.word, s.start, s.end) for s in spans] == [("AB", 1, 4), ("BA", 8, 11)]


TRANSCRIPT = Recognition("dir/talk.flac", "HELLO THERE GENERAL KENOBI", 0.0, 75.5, "s", (
    Span("HELLO", 0.12, 0.5), Span("THERE", 0.56, 0.9),
    Span("GENERAL", 3.0, 3.6), Span("KENOBI", 3661.24, 3662.0)))

SRT_CUE = re.compile(
    r"^(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n\S.*$")
VTT_CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n\S.*$")


def _seconds(h, m, s, ms):
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def test_srt_is_well_formed_with_increasing_times():
    text = format_transcript(TRANSCRIPT, "srt")
    cues = text.strip().split("\n\n")
    assert len(cues) == 3  # pauses split the cues
    last_end = -1.0
    for i, cue in enumerate(cues, 1):
        m = SRT_CUE.match(cue)
        assert m, cue
        assert int(m.group(1)) == i
        start, end = _seconds(*m.group(2, 3, 4, 5)), _seconds(*m.group(6, 7, 8, 9))
        assert last_end <= start < end
        last_end = end
    assert "01:01:01,240 --> 01:01:02,000" in text


def test_vtt_is_well_formed():
    text = format_transcript(TRANSCRIPT, "vtt")
    assert text.startswith("WEBVTT\n\n")
    cues = text[len("WEBVTT\n\n"):].strip().split("\n\n")
    assert all(VTT_CUE.match(c) for c in cues) and len(cues) == 3
    assert cues[0].endswith("HELLO THERE")


def test_txt_json_ctm():
    assert format_transcript(TRANSCRIPT, "txt") == "HELLO THERE GENERAL KENOBI\n"
    obj = json.loads(format_transcript(TRANSCRIPT, "json"))
    assert obj["words"][2] == {"word": "GENERAL", "start": 3.0, "end": 3.6}
    ctm = format_transcript(TRANSCRIPT, "ctm").splitlines()
    assert ctm[0] == "talk 1 0.12 0.38 HELLO" and len(ctm) == 4
    with pytest.raises(ValueError):
        format_transcript(TRANSCRIPT, "docx")
