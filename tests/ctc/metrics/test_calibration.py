"""Word-confidence calibration: ECE near 0 for calibrated confidences, large for overconfident
ones; correctness from the WER alignment; the reliability plot."""

from __future__ import annotations

import numpy as np
import pytest

from ctc.metrics.calibration import (
    calibration_bins,
    calibration_summary,
    expected_calibration_error,
    plot_reliability,
    word_calibration,
    word_correctness,
)


def test_calibrated_confidences_give_ece_near_zero():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 200_000)
    correct = rng.uniform(0, 1, conf.size) < conf  # right with probability = confidence
    assert expected_calibration_error(conf, correct) < 0.01
    summary = calibration_summary(conf, correct)
    assert summary["mce"] < 0.02 and summary["nce"] > 0.1


def test_overconfident_confidences_give_a_large_ece():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.9, 1.0, 10_000)
    correct = rng.uniform(0, 1, conf.size) < 0.5
    ece = expected_calibration_error(conf, correct)
    assert ece == pytest.approx(0.95 - 0.5, abs=0.02)
    assert calibration_summary(conf, correct)["nce"] < 0  # worse than the constant


def test_bins_by_hand():
    table = calibration_bins([0.05, 0.15, 0.18, 1.0], [True, False, True, True], bins=10)
    assert [b["count"] for b in table] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table[1]["accuracy"] == 0.5 and table[1]["confidence"] == pytest.approx(0.165)
    assert table[9]["accuracy"] == 1.0 and table[2]["accuracy"] is None
    # ECE = (1 * |1 - .05| + 2 * |.5 - .165| + 1 * |1 - 1|) / 4
    assert expected_calibration_error([0.05, 0.15, 0.18, 1.0],
                                      [True, False, True, True]) == pytest.approx(
        (0.95 + 2 * 0.335) / 4)


def test_correctness_comes_from_the_alignment():
    # ref:  the cat sat on the mat ; hyp: the cat sad on mat mat now
    assert word_correctness("the cat sat on the mat", "the cat sad on mat mat now".split()) \
        == [True, True, False, True, False, True, False]
    assert word_correctness("", ["extra"]) == [False]
    assert word_correctness("a b", []) == []


def test_word_calibration_of_rows_and_plot(tmp_path):
    rows = [{"ref": "a b c", "hyp": "a x c",
             "words": [{"word": "a", "confidence": 0.9}, {"word": "x", "confidence": 0.3},
                       {"word": "c", "confidence": 0.95}]},
            {"ref": "d", "hyp": "", "words": []},
            {"ref": "e", "hyp": "e", "words": [{"word": "e"}]}]  # no confidence: left out
    result = word_calibration(rows)
    assert result["words"] == 3 and result["rows_without_confidence"] == 1
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["ece"] == pytest.approx((0.3 + 0.1 + 0.05) / 3)
    assert len(result["bins"]) == 10
    plot_reliability(result, tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = word_calibration([])
    assert empty["ece"] is None and empty["words"] == 0
    plot_reliability(empty, tmp_path / "empty.png")
