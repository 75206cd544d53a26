"""CTC forced alignment: the best path that spells a given token sequence (Viterbi).

Used where a decoder returns text without token frames (the peers' adapters), so every
hypothesis carries the frame of each token. The path runs over the extended label sequence
``blank, y1, blank, y2, ..., yS, blank`` (Graves et al. 2006): a state may stay, advance by one,
or skip a blank between two different labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NEG_INF = -np.inf


def forced_align(log_probs: np.ndarray, ids: Sequence[int], blank: int = 0) -> list[int] | None:
    """The first frame of each token of ``ids`` on the best CTC path through ``log_probs``.

    Args:
        log_probs: ``(T, V)`` log-probabilities of one utterance.
        ids: the collapsed token sequence (no blanks).
        blank: the blank's index.

    Returns:
        ``len(ids)`` frame indices, non-decreasing (strictly increasing), or None when no path of
        ``T`` frames spells ``ids`` (too few frames for its labels and repeats).
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    frames, size = lp.shape
    if not len(ids):
        return []
    ext = np.full(2 * len(ids) + 1, blank, dtype=np.int64)
    ext[1::2] = np.asarray(ids, dtype=np.int64)
    if ext.max() >= size or ext.min() < 0:
        raise ValueError(f"token ids must lie in [0, {size})")
    states = ext.size
    skip = np.zeros(states, dtype=bool)
    skip[3::2] = ext[3::2] != ext[1:-2:2]  # a label may follow a different label directly
    delta = np.full(states, NEG_INF)
    delta[0] = lp[0, blank]
    if states > 1:
        delta[1] = lp[0, ext[1]]
    back = np.zeros((frames, states), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    emit = lp[:, ext]  # (T, states)
    for t in range(1, frames):
        one = np.concatenate(([NEG_INF], delta[:-1]))
        two = np.where(skip, np.concatenate(([NEG_INF, NEG_INF], delta[:-2])), NEG_INF)
        stacked = np.stack([delta, one, two])
        choice = stacked.argmax(axis=0)
        delta = stacked[choice, np.arange(states)] + emit[t]
        back[t] = choice
    finals = [states - 1, states - 2] if states > 1 else [0]
    end = max(finals, key=lambda s: delta[s])
    if not np.isfinite(delta[end]):
        return None
    first = [-1] * len(ids)
    state = end
    for t in range(frames - 1, -1, -1):
        if state % 2 == 1:
            first[state // 2] = t  # overwritten until the earliest frame of the state
        state -= int(back[t, state])
    return first
