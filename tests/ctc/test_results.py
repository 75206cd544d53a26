"""Recognitions: words and tokens placed on the source with confidences, and n-best lists."""

from __future__ import annotations

import math

import pytest
import torch

from ctc.data.tokens import CharTokenizer
from ctc.decode import make_decoder
from ctc.decode.greedy import GreedyDecoder
from ctc.lm.arpa import write_arpa
from ctc.lm.kneser_ney import estimate, read_sentences
from ctc.modality import Posteriorgram
from ctc.results import recognize

TOK = CharTokenizer.build(["ab ba"])


def _gram(path: list[int], peak: list[float]) -> Posteriorgram:
    """Frame-wise posteriors: ``peak[t]`` on ``path[t]``, the rest shared by the others."""
    v = len(TOK)
    probs = torch.zeros(len(path), v)
    for t, (k, p) in enumerate(zip(path, peak)):
        probs[t] = (1.0 - p) / (v - 1)
        probs[t, k] = p
    return Posteriorgram("x.wav", probs.log(), lambda f: 0.04 * f, 0.04 * len(path))


def test_confidences_are_token_spikes_and_word_minimums():
    a, b, space = (TOK.symbols.index(c) for c in "ab ")
    gram = _gram([a, a, 0, b, 0, space, b, 0, a, 0],
                 [0.9, 0.95, 0.99, 0.6, 0.99, 0.8, 0.7, 0.99, 0.97, 0.99])
    result = recognize(gram, GreedyDecoder(TOK.symbols), TOK, "s")
    assert result.text == "ab ba"
    assert [t.text for t in result.tokens] == ["a", "b", " ", "b", "a"]
    assert [t.confidence for t in result.tokens] == pytest.approx([0.95, 0.6, 0.8, 0.7, 0.97])
    assert [(w.text, w.confidence) for w in result.words] == [("ab", pytest.approx(0.6)),
                                                              ("ba", pytest.approx(0.7))]
    assert result.confidence == pytest.approx(0.6)
    ends = [x for w in result.words for x in (w.start, w.end)]
    assert ends == pytest.approx([0.0, 0.16, 0.24, 0.36])
    assert all(0.0 <= t.confidence <= 1.0 for t in result.tokens)


def test_nbest_lists_come_best_first(tmp_path):
    lm = tmp_path / "lm.arpa"
    write_arpa(estimate(read_sentences(["ab ba", "ba ab", "ab ab"] * 3), 2), lm)
    a, b, space = (TOK.symbols.index(c) for c in "ab ")
    gram = _gram([a, 0, b, space, b, 0, a], [0.6, 0.9, 0.55, 0.9, 0.6, 0.9, 0.7])
    decoder = make_decoder("ours", TOK.symbols, lm=lm, beam_size=16, recombine=False)
    result = recognize(gram, decoder, TOK, "s", nbest=4)
    scores = [alt.score for alt in result.alternatives]
    assert 2 <= len(scores) <= 4 and scores == sorted(scores, reverse=True)
    assert result.alternatives[0].text == result.text
    assert len({alt.text for alt in result.alternatives}) == len(scores)
    assert math.isfinite(result.score)
