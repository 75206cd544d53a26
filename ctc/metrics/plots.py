"""PNG figures for evaluation reports: error rate by length, confusion pairs, a CTC posteriorgram.

Figures are built on ``matplotlib.figure.Figure`` (Agg canvas, no pyplot global state) and saved
atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ctc.data.tokens import BLANK_SYMBOL
from ctc.errors import InputError
from ctc.io import atomic_open


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, out_png: str | os.PathLike) -> None:
    with atomic_open(out_png, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)


def _label(symbol: str) -> str:
    return "<sp>" if symbol == " " else symbol


def plot_rate_by_length(rows_by_metric: Mapping[str, Sequence[Mapping[str, Any]]],
                        out_png: str | os.PathLike) -> None:
    """Bars of error rate (%) per reference-length bin, one panel per metric ("WER", "CER").

    ``rows_by_metric`` maps a metric name to the rows of ``breakdown.by_length``.
    """
    metrics = [(name, rows) for name, rows in rows_by_metric.items() if rows]
    fig = _figure(5.0 * max(len(metrics), 1), 3.6)
    axes = fig.subplots(1, max(len(metrics), 1), squeeze=False)[0]
    for ax, (name, rows) in zip(axes, metrics):
        x = np.arange(len(rows))
        ax.bar(x, [r["rate"] for r in rows], color="tab:blue")
        ax.set_xticks(x, [r["label"] for r in rows])
        for xi, r in zip(x, rows):
            ax.annotate(f"n={r['utterances']}", (xi, r["rate"]), ha="center", va="bottom",
                        fontsize=7)
        unit = "words" if name.upper() == "WER" else "characters"
        ax.set_xlabel(f"reference length ({unit})")
        ax.set_ylabel(f"{name} (%)")
        ax.set_title(f"{name} by utterance length")
    _save(fig, out_png)


def plot_confusions(substitutions: Sequence[Sequence[Any]], out_png: str | os.PathLike, *,
                    title: str = "most frequent substitutions", top: int = 15) -> None:
    """Horizontal bars of the ``top`` substitution pairs.

    ``substitutions``: ``[ref, hyp, count]`` rows, most frequent first (``Confusions.top``).
    """
    from matplotlib.ticker import MaxNLocator

    pairs = list(substitutions)[:top]
    fig = _figure(6.0, 0.3 * max(len(pairs), 3) + 1.2)
    ax = fig.subplots()
    if pairs:
        y = np.arange(len(pairs))[::-1]
        ax.barh(y, [p[2] for p in pairs], color="tab:red")
        ax.set_yticks(y, [f"{_label(p[0])} → {_label(p[1])}" for p in pairs])
        ax.set_xlabel("count")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.text(0.5, 0.5, "no substitutions", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    ax.set_title(title)
    _save(fig, out_png)


def _as_numpy(log_probs: Any) -> np.ndarray:
    if hasattr(log_probs, "detach"):
        log_probs = log_probs.detach().float().cpu().numpy()
    return np.asarray(log_probs, dtype=np.float64)


def greedy_path(log_probs: np.ndarray, blank: int = 0) -> list[tuple[int, int]]:
    """Best-path tokens as ``(token, frame)``: argmax per frame, repeats merged, blanks dropped.

    Args:
        log_probs: (T, V) log-probabilities of one utterance.
    """
    best = log_probs.argmax(axis=1)  # (T,)
    prev = np.concatenate([[-1], best[:-1]])
    frames = np.nonzero((best != blank) & (best != prev))[0]
    return [(int(best[t]), int(t)) for t in frames]


def plot_posteriorgram(log_probs: Any, symbols: Sequence[str], out_png: str | os.PathLike,
                       path_tokens_frames: Sequence[tuple[int, int]] | None = None, *,
                       blank: int | None = None, title: str | None = None,
                       max_rows: int = 40) -> None:
    """Posterior probability of each symbol over time, with the decoded path marked.

    Args:
        log_probs: (T, V) log-probabilities of one utterance (T frames, V symbols incl. blank),
            a torch tensor (any device) or an array.
        symbols: the V symbol strings.
        blank: index of the blank; by default that of ``"<b>"`` in ``symbols``, else 0.
        path_tokens_frames: decoded tokens as ``(token_id, frame)`` pairs, e.g.
            ``zip(hyp.tokens, hyp.frames)``; the greedy best path when None.
        max_rows: at most this many symbols are drawn: the blank, those on the path, then those
            with the highest peak posterior.
    """
    lp = _as_numpy(log_probs)
    if lp.ndim != 2 or lp.shape[1] != len(symbols):
        raise InputError(f"posteriorgram needs (time, vocab) log-probs with vocab = "
                         f"{len(symbols)} symbols, got shape {tuple(lp.shape)}")
    if blank is None:
        blank = list(symbols).index(BLANK_SYMBOL) if BLANK_SYMBOL in symbols else 0
    probs = np.exp(lp)  # (T, V)
    path = greedy_path(lp, blank) if path_tokens_frames is None else [
        (int(k), int(t)) for k, t in path_tokens_frames]
    peak = probs.max(axis=0) if len(probs) else np.zeros(len(symbols))  # (V,)
    chosen = list(dict.fromkeys([blank, *(k for k, _ in path)]))
    chosen += [int(v) for v in np.argsort(-peak) if peak[v] > 0.05 and v not in chosen]
    rows = sorted(chosen[:max(max_rows, 1)])
    row_of = {v: i for i, v in enumerate(rows)}

    fig = _figure(min(max(6.0, 0.06 * len(lp) + 2.0), 16.0), min(0.22 * len(rows) + 1.6, 10.0))
    ax = fig.subplots()
    image = ax.imshow(probs[:, rows].T, aspect="auto", origin="lower", cmap="magma",
                      vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_yticks(np.arange(len(rows)), [_label(symbols[v]) for v in rows], fontsize=7)
    on_path = [(t, row_of[k]) for k, t in path if k in row_of]
    if on_path:
        ax.scatter([t for t, _ in on_path], [r for _, r in on_path], s=18, facecolors="none",
                   edgecolors="cyan", linewidths=1.0, label="decoded path")
        ax.legend(loc="upper right", fontsize=7)
    decoded = "".join(symbols[k] for k, _ in path)
    ax.set_title(title or f"posteriorgram: {decoded[:80]!r}", fontsize=9)
    ax.set_xlabel("frame")
    fig.colorbar(image, ax=ax, label="posterior")
    _save(fig, out_png)
