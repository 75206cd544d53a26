"""Calibration of word confidences: does a word said with confidence 0.8 come out right 80% of
the time?

Each hypothesis word is paired with whether it is correct, that is aligned to an equal reference
word by the minimum-edit alignment of ``ctc.metrics.alignment`` (the one the WER counts come
from; substituted and inserted words are wrong). The pairs are sorted into equal-width bins of
confidence, ``[k/B, (k+1)/B)`` (the last bin also holds 1.0), and:

- the expected calibration error ECE = sum_b (n_b / N) |acc_b - conf_b| (Naeini, Cooper &
  Hauskrecht 2015, "Obtaining Well Calibrated Probabilities Using Bayesian Binning", AAAI;
  Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural Networks", ICML), where
  acc_b is the fraction of correct words in bin b and conf_b their mean confidence;
- the maximum calibration error MCE = max_b |acc_b - conf_b| over non-empty bins (Naeini et
  al. 2015);
- the normalised cross entropy NCE = (H(p_c) - H_conf) / H(p_c), NIST's confidence measure of
  sclite, where p_c is the fraction of correct words, H(p_c) the binary entropy of always
  saying p_c, and H_conf the mean cross entropy of the confidences (1 is perfect, 0 no better
  than the constant, negative worse);
- the Brier score, the mean of (confidence - correct)^2.

A reliability diagram (DeGroot & Fienberg 1983; Niculescu-Mizil & Caruana 2005) plots acc_b
against conf_b: a calibrated model lies on the diagonal.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ctc.metrics.alignment import align

DEFAULT_BINS = 10
_EPS = 1e-6


def word_correctness(ref: str, hyp_words: Sequence[str]) -> list[bool]:
    """For each hypothesis word, whether the alignment to ``ref`` (split on whitespace) pairs it
    with an equal reference word."""
    correct: list[bool] = []
    for op, _, hyp in align(ref.split(), list(hyp_words)):
        if hyp is not None:
            correct.append(op == "C")
    return correct


def calibration_bins(confidences: Sequence[float], correct: Sequence[bool],
                     bins: int = DEFAULT_BINS) -> list[dict[str, Any]]:
    """The equal-width bins of ``[0, 1]``: ``lower``, ``upper``, ``count``, ``confidence`` (mean,
    None when empty) and ``accuracy`` (fraction correct, None when empty)."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    conf = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    right = np.asarray(correct, dtype=np.float64)
    index = np.minimum((conf * bins).astype(np.int64), bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        out.append({"lower": round(b / bins, 6), "upper": round((b + 1) / bins, 6),
                    "count": count,
                    "confidence": float(conf[mask].mean()) if count else None,
                    "accuracy": float(right[mask].mean()) if count else None})
    return out


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool],
                               bins: int = DEFAULT_BINS) -> float:
    """ECE over equal-width bins (see the module docstring); 0.0 for no words."""
    total = len(confidences)
    if total == 0:
        return 0.0
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in calibration_bins(confidences, correct, bins) if b["count"]))


def calibration_summary(confidences: Sequence[float], correct: Sequence[bool],
                        bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """``ece``, ``mce``, ``nce``, ``brier``, ``accuracy``, ``mean_confidence``, ``words`` and
    ``bins`` of (confidence, correct) pairs; the rates are None without words."""
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences for {len(correct)} correctness flags")
    table = calibration_bins(confidences, correct, bins)
    words = len(confidences)
    if words == 0:
        return {"ece": None, "mce": None, "nce": None, "brier": None, "accuracy": None,
                "mean_confidence": None, "words": 0, "bins": table}
    conf = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    right = np.asarray(correct, dtype=np.float64)
    gaps = [abs(b["accuracy"] - b["confidence"]) for b in table if b["count"]]
    return {"ece": round(sum(b["count"] / words * abs(b["accuracy"] - b["confidence"])
                             for b in table if b["count"]), 6),
            "mce": round(max(gaps), 6),
            "nce": _nce(conf, right),
            "brier": round(float(np.mean((conf - right) ** 2)), 6),
            "accuracy": round(float(right.mean()), 6),
            "mean_confidence": round(float(conf.mean()), 6),
            "words": words, "bins": table}


def _nce(conf: np.ndarray, right: np.ndarray) -> float | None:
    """NIST normalised cross entropy (base 2); None when every word is right or every one
    wrong (the baseline entropy is 0)."""
    p = float(right.mean())
    if p <= 0.0 or p >= 1.0:
        return None
    base = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    c = np.clip(conf, _EPS, 1 - _EPS)
    cross = -float(np.mean(right * np.log2(c) + (1 - right) * np.log2(1 - c)))
    return round((base - cross) / base, 6)


def word_pairs(rows: Iterable[Mapping[str, Any]]) -> tuple[list[float], list[bool], int]:
    """The (confidence, correct) pairs of ``hypotheses.jsonl`` rows (``ref``, ``words`` each
    with ``word`` and ``confidence``), and how many rows had words without a confidence (left
    out)."""
    confidences: list[float] = []
    correct: list[bool] = []
    without = 0
    for row in rows:
        words = row.get("words") or []
        if any(w.get("confidence") is None for w in words):
            without += 1
            continue
        flags = word_correctness(str(row.get("ref", "")), [str(w["word"]) for w in words])
        confidences.extend(float(w["confidence"]) for w in words)
        correct.extend(flags)
    return confidences, correct, without


def word_calibration(rows: Iterable[Mapping[str, Any]], bins: int = DEFAULT_BINS
                     ) -> dict[str, Any]:
    """Calibration of the word confidences of ``hypotheses.jsonl`` rows (see the module
    docstring): :func:`calibration_summary` plus ``rows_without_confidence``."""
    confidences, correct, without = word_pairs(rows)
    return {**calibration_summary(confidences, correct, bins),
            "rows_without_confidence": without}


def plot_reliability(calibration: Mapping[str, Any], out_png: str | os.PathLike, *,
                     title: str = "word confidence reliability") -> None:
    """Reliability diagram of :func:`word_calibration`'s result: accuracy per confidence bin
    against the diagonal, each bin's gap to its mean confidence hatched, and the words per bin
    below; saved as PNG."""
    from ctc.metrics.plots import _figure, _save

    table = calibration["bins"]
    fig = _figure(4.8, 5.2)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = table[0]["upper"] - table[0]["lower"] if table else 0.1
    centres = [(b["lower"] + b["upper"]) / 2 for b in table]
    filled = [(c, b) for c, b in zip(centres, table) if b["count"]]
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="calibrated")
    top.bar([c for c, _ in filled], [b["accuracy"] for _, b in filled], width=width * 0.95,
            color="tab:blue", edgecolor="white", label="accuracy")
    for c, b in filled:
        low, high = sorted((b["accuracy"], b["confidence"]))
        top.bar(c, high - low, bottom=low, width=width * 0.95, fill=False, hatch="///",
                edgecolor="tab:red", linewidth=0.8,
                label="gap to mean confidence" if c == filled[0][0] else None)
    ece = calibration.get("ece")
    words = calibration.get("words", 0)
    top.set_title(f"{title}\nECE {ece * 100:.2f}% over {words} words" if ece is not None
                  else f"{title}\nno words")
    top.set_ylabel("accuracy (words correct)")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(centres, [b["count"] for b in table], width=width * 0.95, color="tab:grey")
    bottom.set_xlabel("word confidence")
    bottom.set_ylabel("words")
    _save(fig, out_png)
