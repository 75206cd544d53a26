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


def test_nbest_word_posteriors_weigh_the_hypotheses_holding_each_word():
    from ctc.decode.hypothesis import Hypothesis, WordSpan
    from ctc.results import nbest_word_posteriors

    def hyp(score, *words):
        return Hypothesis((), (), score, " ".join(w for w, _, _ in words),
                          tuple(WordSpan(*w) for w in words))

    best = hyp(-1.0, ("the", 0, 5), ("cat", 8, 13))
    rival = hyp(-1.0 - math.log(3), ("the", 0, 5), ("cap", 8, 13))  # 3x less likely
    late = hyp(-50.0, ("the", 20, 25), ("cat", 30, 35))  # same words elsewhere: no support
    conf = nbest_word_posteriors(best, [best, rival, late], scale=1.0)
    assert conf == pytest.approx([1.0, 0.75], abs=1e-6)  # "the": in both likely ones
    assert nbest_word_posteriors(best, [rival], scale=1.0) == pytest.approx([1.0, 0.75])
    flat = nbest_word_posteriors(best, [best, rival], scale=0.0)  # scale 0: all equally likely
    assert flat == pytest.approx([1.0, 0.5])


def test_word_confidences_with_an_lm_come_from_the_nbest(tmp_path):
    from ctc.decode import DecodeConfig, build_decoder
    from ctc.results import WordConfidence

    lm = tmp_path / "lm.arpa"
    write_arpa(estimate(read_sentences(["ab ba", "ba ab", "ab ab"] * 3), 2), lm)
    a, b, space = (TOK.symbols.index(c) for c in "ab ")
    gram = _gram([a, 0, b, space, b, 0, a], [0.6, 0.9, 0.55, 0.9, 0.6, 0.9, 0.7])
    config = DecodeConfig(lm=str(lm), beam_size=16)
    confidence = WordConfidence.of(config, TOK)
    assert confidence.decoder is not None and confidence.nbest == config.confidence_nbest
    with_lm = recognize(gram, build_decoder(config, TOK), TOK, "s", confidence=confidence)
    acoustic = recognize(gram, build_decoder(config, TOK), TOK, "s")
    assert [w.text for w in with_lm.words] == [w.text for w in acoustic.words]
    assert all(0.0 <= w.confidence <= 1.0 for w in with_lm.words)
    assert [w.confidence for w in with_lm.words] != [w.confidence for w in acoustic.words]
    assert WordConfidence.of(DecodeConfig(), TOK).decoder is None  # greedy: acoustic spikes


def test_long_inputs_get_word_posteriors_piece_by_piece(tmp_path):
    from ctc.decode import DecodeConfig, build_decoder
    from ctc.results import WordConfidence, word_posteriors

    lm = tmp_path / "lm.arpa"
    write_arpa(estimate(read_sentences(["ab ba", "ba ab", "ab ab"] * 3), 2), lm)
    a, b, space = (TOK.symbols.index(c) for c in "ab ")
    unit = [a, 0, b, space, b, 0, a, space]
    gram = _gram(unit * 6, [0.6, 0.9, 0.55, 0.9, 0.6, 0.9, 0.7, 0.9] * 6)
    config = DecodeConfig(lm=str(lm), beam_size=16)
    confidence = WordConfidence.of(config, TOK)
    best = build_decoder(config, TOK)(gram.log_probs[None], None)[0]
    assert len(best.words) == 12
    whole = word_posteriors([best], [gram.log_probs], confidence, window=10_000)[0]
    pieces = word_posteriors([best], [gram.log_probs], confidence, window=16)[0]
    assert len(whole) == len(pieces) == 12
    assert all(0.0 <= c <= 1.0 for c in whole + pieces)
    assert word_posteriors([best], [gram.log_probs], WordConfidence())[0] is None
