"""Greedy and prefix beam search without an LM: equivalences, determinism, N-best, bad inputs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from ctc.decode import BeamSearchDecoder, GreedyDecoder, greedy_decode
from ctc.errors import InputError

TOKENS = ["<b>", " ", "a", "b", "c"]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=-1, keepdims=True))).astype(np.float32)


def _reference_greedy(lp: torch.Tensor, lengths: torch.Tensor, blank: int) -> list[tuple]:
    out = []
    for i in range(lp.shape[0]):
        path = lp[i, : lengths[i]].argmax(-1).tolist()
        tokens, frames, prev = [], [], -1
        for t, p in enumerate(path):
            if p != blank and p != prev:
                tokens.append(p)
                frames.append(t)
            prev = p
        out.append((tuple(tokens), tuple(frames)))
    return out


def _peaked(seed: int, batch: int = 4, time: int = 30, vocab: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(batch, time, vocab))
    logits[np.arange(batch)[:, None], np.arange(time)[None, :],
           rng.integers(0, vocab, size=(batch, time))] += 6.0
    return _log_softmax(logits)


@pytest.mark.parametrize("blank", [0, 3])
def test_compiled_greedy_matches_reference(blank: int) -> None:
    lp = torch.from_numpy(_log_softmax(np.random.default_rng(1).normal(size=(5, 40, 6)) * 3))
    lengths = torch.tensor([40, 1, 0, 17, 39])
    got = greedy_decode(lp, lengths, blank)
    want = _reference_greedy(lp, lengths, blank)
    assert [(h.tokens, h.frames) for h in got] == want
    best = lp.max(-1).values
    assert got[3].score == pytest.approx(float(best[3, :17].sum()), rel=1e-5)


def test_beam_size_one_equals_greedy() -> None:
    lp = _peaked(2, batch=6)
    lengths = np.array([30, 29, 10, 1, 30, 5])
    greedy = greedy_decode(lp, lengths)
    beam = BeamSearchDecoder(TOKENS, beam_size=1, blank_skip_threshold=1.0)(lp, lengths)
    assert [(h.tokens, h.frames) for h in beam] == [(h.tokens, h.frames) for h in greedy]
    texts = [h.text for h in GreedyDecoder(TOKENS)(lp, lengths)]
    assert [h.text for h in beam] == texts


def _exhaustive(lp: np.ndarray, blank: int) -> dict[tuple, float]:
    """ln P(labelling) for every labelling reachable by a path, by enumerating all paths."""
    time, vocab = lp.shape
    scores: dict[tuple, float] = {}
    for path in itertools.product(range(vocab), repeat=time):
        labels = tuple(p for i, p in enumerate(path) if p != blank and (i == 0 or p != path[i - 1]))
        logp = float(sum(lp[t, p] for t, p in enumerate(path)))
        scores[labels] = np.logaddexp(scores.get(labels, -math.inf), logp)
    return scores


@pytest.mark.parametrize("seed", range(6))
def test_exhaustive_search_equivalence(seed: int) -> None:
    rng = np.random.default_rng(seed)
    time, vocab = int(rng.integers(1, 6)), int(rng.integers(2, 4))
    lp = _log_softmax(rng.normal(size=(time, vocab)) * 1.5)
    exact = sorted(_exhaustive(lp, 0).items(), key=lambda kv: -kv[1])
    tokens = ["<b>", "x", "y"][:vocab]
    dec = BeamSearchDecoder(tokens, word_delimiter=None, beam_size=1000, token_min_logp=-math.inf,
                            beam_prune_logp=-math.inf, blank_skip_threshold=1.0)
    nbest = dec.decode(lp, nbest=3)
    assert nbest[0].tokens == exact[0][0]
    for hyp, (labels, score) in zip(nbest, exact):
        assert hyp.score == pytest.approx(score, abs=1e-4)
        assert hyp.tokens == labels or abs(hyp.score - exact[1][1]) < 1e-5


def test_nbest_is_sorted_and_distinct() -> None:
    lp = _peaked(3, batch=1)[0] * 0.3
    hyps = BeamSearchDecoder(TOKENS, beam_size=20).decode(torch.from_numpy(lp), nbest=5)
    assert len(hyps) == 5
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    assert len({h.tokens for h in hyps}) == 5
    for h in hyps:
        assert len(h.frames) == len(h.tokens)
        assert list(h.frames) == sorted(h.frames)


def test_repeated_runs_and_threads_agree() -> None:
    lp = _peaked(4, batch=12) * 0.5
    dec = BeamSearchDecoder(TOKENS, beam_size=16, num_threads=3, hotwords={"ab": 2.0})
    first = dec.decode_batch(lp, nbest=3)
    assert dec.decode_batch(lp, nbest=3) == first
    single = [dec.decode(lp[i], nbest=3) for i in range(len(lp))]
    assert single == first


def test_word_spans() -> None:
    # "ab c": a at 0, b at 2, space at 4, c at 6
    path = [2, 0, 3, 0, 1, 0, 4, 4]
    lp = np.full((len(path), 5), -20.0, dtype=np.float32)
    lp[np.arange(len(path)), path] = 0.0
    hyp = BeamSearchDecoder(TOKENS, beam_size=4).decode(lp)[0]
    assert hyp.text == "ab c"
    assert [(w.word, w.start, w.end) for w in hyp.words] == [("ab", 0, 3), ("c", 6, 7)]
    assert hyp.frames == (0, 2, 4, 6)


def test_subword_vocabulary() -> None:
    tokens = ["<b>", "▁the", "▁ca", "t", "s"]
    path = [1, 0, 2, 3, 4]
    lp = np.full((len(path), 5), -20.0, dtype=np.float32)
    lp[np.arange(len(path)), path] = 0.0
    dec = BeamSearchDecoder(tokens, word_delimiter=None, word_prefix="▁", beam_size=4)
    hyp = dec.decode(lp)[0]
    assert hyp.text == "the cats"
    assert [w.word for w in hyp.words] == ["the", "cats"]


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 5), np.float32), "batch, time, vocab"),
    (np.zeros((1, 3, 4), np.float32), "4 classes"),
    (np.full((1, 3, 5), np.nan, np.float32), "NaN"),
])
def test_bad_inputs_raise(bad: np.ndarray, message: str) -> None:
    dec = BeamSearchDecoder(TOKENS)
    with pytest.raises(InputError, match=message):
        dec(bad, None)
    with pytest.raises(ValueError):
        greedy_decode(np.zeros((2, 3), np.float32))


def test_bad_lengths_and_options_raise() -> None:
    dec = BeamSearchDecoder(TOKENS)
    with pytest.raises(InputError, match="lengths"):
        dec(np.zeros((2, 3, 5), np.float32), [3, 4])
    with pytest.raises(InputError, match="lengths"):
        dec(np.zeros((2, 3, 5), np.float32), [3])
    with pytest.raises(InputError, match="delimiter"):
        BeamSearchDecoder(["<b>", "a"])
    with pytest.raises(InputError, match="not found"):
        BeamSearchDecoder(TOKENS, lm="/nonexistent.arpa")


def test_hotword_changes_the_output() -> None:
    # frames favour "bet" a little over "bat"
    tokens = ["<b>", " ", "a", "b", "e", "t"]
    lp = np.full((5, 6), -12.0, dtype=np.float32)
    lp[0, 3] = 0.0
    lp[1, 0] = 0.0
    lp[2, 4], lp[2, 2] = math.log(0.6), math.log(0.4)
    lp[3, 0] = 0.0
    lp[4, 5] = 0.0
    lp = _log_softmax(lp)
    plain = BeamSearchDecoder(tokens, beam_size=8).decode(lp)[0]
    boosted = BeamSearchDecoder(tokens, beam_size=8, hotwords={"bat": 2.0}).decode(lp)[0]
    assert plain.text == "bet"
    assert boosted.text == "bat"
    other = BeamSearchDecoder(tokens, beam_size=8, hotwords={"bad": 2.0}).decode(lp)[0]
    assert other.text == "bet"
