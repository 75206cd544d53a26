"""Bootstrap confidence intervals for error rates and paired comparison of two systems.

Bisani & Ney, "Bootstrap estimates for confidence intervals in ASR performance evaluation",
ICASSP 2004: utterances are the resampling unit (errors within an utterance are correlated); a
replicate draws U utterances with replacement and its rate is sum(errors) / sum(ref length). The
95% interval is the 2.5th to 97.5th percentile of the replicates. Comparing systems A and B, every
replicate scores both on the *same* utterances; the probability of improvement is the fraction of
replicates where B makes fewer errors than A.

All replicates are drawn at once as a (replicates, U) index matrix (in chunks bounded in memory)
and reduced with numpy; results are reproducible given ``seed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_MAX_INDICES_PER_CHUNK = 1 << 22


def _replicate_sums(values: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Sum of each value column over bootstrap replicates of the utterances.

    Args:
        values: (U, K) per-utterance quantities (U utterances, K quantities).
    Returns:
        (samples, K) sums, one row per replicate.
    """
    n_utts = values.shape[0]
    rng = np.random.default_rng(seed)
    columns = [np.ascontiguousarray(values[:, k]) for k in range(values.shape[1])]
    out = np.empty((samples, values.shape[1]), dtype=np.float64)
    rows = max(1, _MAX_INDICES_PER_CHUNK // max(n_utts, 1))
    index_type = np.int32 if n_utts < 2**31 else np.int64
    for start in range(0, samples, rows):
        stop = min(samples, start + rows)
        index = rng.integers(0, n_utts, size=(stop - start, n_utts), dtype=index_type)  # (b, U)
        for k, column in enumerate(columns):
            out[start:stop, k] = column[index].sum(axis=1)  # (b, U) -> (b,)
    return out


def _ratio(errors: np.ndarray, length: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = errors / length
    return np.where(length > 0, rate, np.where(errors > 0, np.inf, 0.0))


@dataclass(frozen=True)
class BootstrapInterval:
    """An error rate with its bootstrap percentile interval and standard error (fractions)."""

    rate: float
    low: float
    high: float
    std: float
    level: float
    samples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap_interval(errors: np.ndarray, ref_length: np.ndarray, *, samples: int = 1000,
                       seed: int = 0, level: float = 0.95) -> BootstrapInterval:
    """Percentile bootstrap interval of the corpus error rate.

    Args:
        errors: (U,) edit errors per utterance.
        ref_length: (U,) reference length per utterance.
    """
    errors = np.asarray(errors, dtype=np.float64)
    ref_length = np.asarray(ref_length, dtype=np.float64)
    rate = float(_ratio(errors.sum(), ref_length.sum()))
    if len(errors) == 0 or samples <= 0 or ref_length.sum() == 0:
        return BootstrapInterval(rate, rate, rate, 0.0, level, 0, seed)
    sums = _replicate_sums(np.stack([errors, ref_length], axis=1), samples, seed)  # (B, 2)
    rates = _ratio(sums[:, 0], sums[:, 1])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(rates, [tail, 100 - tail])
    std = float(np.std(rates)) if np.isfinite(rates).all() else float("inf")
    return BootstrapInterval(rate, float(low), float(high), std, level, samples, seed)


@dataclass(frozen=True)
class PairedComparison:
    """System B against system A on the same utterances; ``delta`` = rate_b - rate_a."""

    rate_a: float
    rate_b: float
    delta: float
    delta_low: float
    delta_high: float
    prob_b_better: float
    level: float
    samples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_bootstrap(errors_a: np.ndarray, errors_b: np.ndarray, ref_length: np.ndarray, *,
                     samples: int = 1000, seed: int = 0, level: float = 0.95
                     ) -> PairedComparison:
    """Paired bootstrap of two systems scored against the same references (Bisani & Ney 2004).

    Args:
        errors_a, errors_b: (U,) errors per utterance of systems A and B, same utterance order.
        ref_length: (U,) reference length per utterance.
    Returns:
        the rate difference B - A with its percentile interval, and the probability of
        improvement: the fraction of replicates in which B has strictly fewer errors than A.
    """
    errors_a = np.asarray(errors_a, dtype=np.float64)
    errors_b = np.asarray(errors_b, dtype=np.float64)
    ref_length = np.asarray(ref_length, dtype=np.float64)
    if not len(errors_a) == len(errors_b) == len(ref_length):
        raise ValueError("paired bootstrap needs the same utterances for both systems")
    total = ref_length.sum()
    rate_a = float(_ratio(errors_a.sum(), total))
    rate_b = float(_ratio(errors_b.sum(), total))
    delta = rate_b - rate_a if total > 0 else 0.0
    if len(errors_a) == 0 or samples <= 0 or total == 0:
        return PairedComparison(rate_a, rate_b, delta, delta, delta,
                                float(errors_b.sum() < errors_a.sum()), level, 0, seed)
    sums = _replicate_sums(np.stack([errors_b - errors_a, ref_length], axis=1), samples, seed)
    deltas = _ratio(sums[:, 0], sums[:, 1])  # lengths > 0 in all but degenerate replicates
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(deltas, [tail, 100 - tail])
    return PairedComparison(rate_a, rate_b, delta, float(low), float(high),
                            float(np.mean(sums[:, 0] < 0)), level, samples, seed)
