"""Bootstrap intervals and paired comparison; breakdowns by length and speaker."""

from __future__ import annotations

import numpy as np
import pytest

from ctc.metrics.bootstrap import bootstrap_interval, paired_bootstrap
from ctc.metrics.breakdown import by_length, by_speaker, length_thresholds
from ctc.metrics.errors import utterance_errors


def _synthetic(n: int, error_prob: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    length = rng.integers(1, 30, size=n)
    return rng.binomial(length, error_prob), length


def test_interval_contains_rate_and_is_deterministic():
    errors, length = _synthetic(500, 0.1, 0)
    ci = bootstrap_interval(errors, length, samples=1000, seed=3)
    assert ci.rate == pytest.approx(errors.sum() / length.sum())
    assert ci.low < ci.rate < ci.high
    assert ci.high - ci.low < 0.05
    assert ci == bootstrap_interval(errors, length, samples=1000, seed=3)
    assert ci != bootstrap_interval(errors, length, samples=1000, seed=4)


def test_interval_width_shrinks_with_more_utterances():
    small = bootstrap_interval(*_synthetic(100, 0.2, 1), samples=500)
    large = bootstrap_interval(*_synthetic(10_000, 0.2, 1), samples=500)
    assert large.high - large.low < (small.high - small.low) / 4


def test_interval_chunks_give_same_replicate_count(monkeypatch):
    import ctc.metrics.bootstrap as bootstrap

    monkeypatch.setattr(bootstrap, "_MAX_INDICES_PER_CHUNK", 1000)  # many small chunks
    errors, length = _synthetic(300, 0.1, 2)
    ci = bootstrap.bootstrap_interval(errors, length, samples=97, seed=0)
    assert ci.samples == 97 and ci.low <= ci.rate <= ci.high


def test_interval_of_empty_and_perfect_sets():
    assert bootstrap_interval(np.zeros(0), np.zeros(0)).rate == 0.0
    perfect = bootstrap_interval(np.zeros(10), np.full(10, 5))
    assert (perfect.low, perfect.rate, perfect.high) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_detects_clearly_better_system():
    errors_a, length = _synthetic(400, 0.20, 5)
    rng = np.random.default_rng(6)
    errors_b = rng.binomial(length, 0.10)
    cmp = paired_bootstrap(errors_a, errors_b, length, samples=1000, seed=0)
    assert cmp.delta < 0
    assert cmp.prob_b_better > 0.99
    assert cmp.delta_low < cmp.delta < cmp.delta_high < 0
    reverse = paired_bootstrap(errors_b, errors_a, length, samples=1000, seed=0)
    assert reverse.prob_b_better < 0.01


def test_paired_bootstrap_equal_systems_undecided():
    errors, length = _synthetic(300, 0.15, 7)
    rng = np.random.default_rng(8)
    noisy = np.maximum(errors + rng.integers(-1, 2, size=errors.shape), 0)
    cmp = paired_bootstrap(errors, noisy, length, samples=1000, seed=0)
    assert cmp.delta_low < 0 < cmp.delta_high or abs(cmp.delta) < 0.01
    assert 0.01 < cmp.prob_b_better < 0.99


def test_paired_bootstrap_needs_same_utterances():
    with pytest.raises(ValueError, match="same utterances"):
        paired_bootstrap(np.zeros(3), np.zeros(2), np.ones(3))


def test_length_bins_cover_every_utterance():
    per = utterance_errors(["a"] * 5 + ["a b c d e f"] * 5 + ["a " * 30] * 5,
                           ["b"] * 5 + ["a b c d e f"] * 5 + ["a " * 29] * 5)
    rows = by_length(per, max_bins=3)
    assert sum(r["utterances"] for r in rows) == 15
    assert [r["errors"] for r in rows] == [5, 0, 5]
    assert rows[0]["rate"] == pytest.approx(100.0)
    assert rows[-1]["max"] == 30
    assert len(length_thresholds(np.array([4, 4, 4]))) == 0  # one bin when all lengths agree


def test_speaker_table_matches_sclite_columns():
    per = utterance_errors(["a b c d", "a b", "x y"], ["a x c", "a b", "x y z"])
    rows = by_speaker(per, ["s1", "s1", None])
    assert len(rows) == 1
    r = rows[0]
    assert (r["speaker"], r["snt"], r["wrd"]) == ("s1", 2, 6)
    assert r["corr"] == pytest.approx(100 * 4 / 6)
    assert (r["sub"], r["del"], r["ins"]) == pytest.approx((100 / 6, 100 / 6, 0.0))
    assert r["err"] == pytest.approx(100 * 2 / 6)
    assert r["s_err"] == pytest.approx(50.0)
    assert by_speaker(per, [None, None, None]) == []
