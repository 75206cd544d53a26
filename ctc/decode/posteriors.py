"""Posterior dumps: what ``evaluate`` writes once so decoders can be tuned and compared offline.

Format (``torch.save``): ``{"tokens": list[str], "blank": int, "word_delimiter": str | None,
"word_prefix": str | None, "items": [{"id": str, "ref": str, "log_probs": Tensor (T, V)
float32}, ...]}`` (``word_prefix`` is absent from dumps written before it existed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctc.errors import InputError


@dataclass
class Posteriors:
    """A loaded dump: ``log_probs`` padded to ``(N, T_max, V)`` with ``lengths`` ``(N,)``."""

    tokens: list[str]
    blank: int
    word_delimiter: str | None
    ids: list[str]
    refs: list[str]
    log_probs: np.ndarray
    lengths: np.ndarray
    word_prefix: str | None = None

    @property
    def symbols(self) -> list[str]:  # the tokenizer's interface, for build_decoder
        return self.tokens

    def subset(self, index: slice) -> Posteriors:
        lengths = self.lengths[index]
        t = int(lengths.max()) if len(lengths) else 0
        return Posteriors(self.tokens, self.blank, self.word_delimiter, self.ids[index],
                          self.refs[index], self.log_probs[index, :t], lengths, self.word_prefix)


def pad(items: list[np.ndarray], blank: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(T_i, V)`` arrays into ``(N, T_max, V)`` (padding is certain blank)."""
    lengths = np.array([len(x) for x in items], dtype=np.int64)
    vocab = items[0].shape[1] if items else 1
    out = np.full((len(items), int(lengths.max()) if items else 0, vocab), -1e4, np.float32)
    out[:, :, blank] = 0.0
    for i, x in enumerate(items):
        out[i, : len(x)] = x
    return out, lengths


def load_posteriors(path: str | os.PathLike) -> Posteriors:
    """Read a dump written by ``evaluate`` (or :func:`save_posteriors`)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"posteriors file not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure means a bad input file
        raise InputError(f"cannot read posteriors {path}: {err}") from None
    if not isinstance(data, dict) or not {"tokens", "blank", "items"} <= set(data):
        raise InputError(f"{path}: expected a dict with tokens, blank and items")
    items = data["items"]
    if not items:
        raise InputError(f"{path}: no items")
    arrays = []
    for item in items:
        lp = item["log_probs"]
        lp = lp.float().numpy() if hasattr(lp, "numpy") else np.asarray(lp, np.float32)
        if lp.ndim != 2 or lp.shape[1] != len(data["tokens"]):
            raise InputError(f"{path}: item {item.get('id')!r} log_probs has shape {lp.shape}, "
                             f"expected (time, {len(data['tokens'])})")
        arrays.append(lp)
    log_probs, lengths = pad(arrays, int(data["blank"]))
    return Posteriors(list(data["tokens"]), int(data["blank"]), data.get("word_delimiter", " "),
                      [str(it.get("id", i)) for i, it in enumerate(items)],
                      [str(it.get("ref", "")) for it in items], log_probs, lengths,
                      data.get("word_prefix"))


def save_posteriors(path: str | os.PathLike, tokens: list[str], blank: int,
                    word_delimiter: str | None, ids: list[str], refs: list[str],
                    log_probs: list[np.ndarray], word_prefix: str | None = None) -> None:
    """Write a dump atomically (the tensors are stored as float32 ``(T, V)``)."""
    import torch

    from ctc.io import atomic_save

    items = [{"id": i, "ref": r, "log_probs": torch.from_numpy(np.asarray(lp, np.float32))}
             for i, r, lp in zip(ids, refs, log_probs)]
    atomic_save({"tokens": tokens, "blank": blank, "word_delimiter": word_delimiter,
                 "word_prefix": word_prefix, "items": items}, path)
