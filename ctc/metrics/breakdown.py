"""Error rates broken down by utterance length and by speaker (or writer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ctc.metrics.errors import UtteranceErrors


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def length_thresholds(ref_length: np.ndarray, max_bins: int = 6) -> np.ndarray:
    """Inclusive upper bounds of up to ``max_bins`` length bins holding similar utterance counts.

    The last bin is open-ended; returns the (max_bins - 1,) or fewer interior bounds.
    """
    if len(ref_length) == 0 or max_bins < 2:
        return np.zeros(0, dtype=np.int64)
    quantiles = np.quantile(ref_length, np.arange(1, max_bins) / max_bins)
    bounds = np.unique(np.floor(quantiles).astype(np.int64))
    return bounds[bounds < ref_length.max()]


def by_length(per: UtteranceErrors, max_bins: int = 6) -> list[dict[str, Any]]:
    """One row per reference-length bin: label, utterances, reference units, errors, rate %."""
    bounds = length_thresholds(per.ref_length, max_bins)
    # bin k holds the lengths n with bounds[k-1] < n <= bounds[k]
    which = np.searchsorted(bounds, per.ref_length, side="left")
    rows = []
    for k in range(len(bounds) + 1):
        mask = which == k
        if not mask.any():
            continue
        lo = int(per.ref_length[mask].min()) if k == 0 else int(bounds[k - 1]) + 1
        hi = int(per.ref_length[mask].max()) if k == len(bounds) else int(bounds[k])
        t = per.subset(mask).total()
        rows.append({"label": f"{lo}" if lo == hi else f"{lo}-{hi}", "min": lo, "max": hi,
                     "utterances": t.sentences, "ref_length": t.ref_length, "errors": t.errors,
                     "rate": _percent(t.errors, t.ref_length)})
    return rows


def _group_totals(per: UtteranceErrors, group: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """Counts summed per group id; ``group`` is (U,) ints in [0, n_groups)."""
    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n_groups).astype(np.int64)

    return {"snt": np.bincount(group, minlength=n_groups), "wrd": total(per.ref_length),
            "sub": total(per.substitutions), "del": total(per.deletions),
            "ins": total(per.insertions), "s_err": total((per.errors > 0).astype(np.int64))}


def by_speaker(per: UtteranceErrors, speakers: Sequence[str | None]) -> list[dict[str, Any]]:
    """sclite's per-speaker system summary: Snt Wrd Corr Sub Del Ins Err S.Err (percentages).

    Utterances with unknown speaker (None or "") are left out; returns [] when no speaker is
    known. Rows are sorted by speaker name.
    """
    if len(speakers) != len(per):
        raise ValueError(f"{len(speakers)} speakers for {len(per)} utterances")
    keys = ["" if s is None else str(s) for s in speakers]
    names, group = np.unique(np.array(keys, dtype=str), return_inverse=True)
    sums = _group_totals(per, group.reshape(-1), len(names))
    rows = []
    for g, name in enumerate(names):
        if not name:
            continue
        snt, wrd = int(sums["snt"][g]), int(sums["wrd"][g])
        sub, dele, ins = int(sums["sub"][g]), int(sums["del"][g]), int(sums["ins"][g])
        rows.append({"speaker": str(name), "snt": snt, "wrd": wrd,
                     "corr": _percent(wrd - sub - dele, wrd), "sub": _percent(sub, wrd),
                     "del": _percent(dele, wrd), "ins": _percent(ins, wrd),
                     "err": _percent(sub + dele + ins, wrd),
                     "s_err": _percent(int(sums["s_err"][g]), snt)})
    return rows
