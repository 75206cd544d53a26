"""Validation shared by the decoders: log-probs and lengths to contiguous numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from ctc.errors import InputError


def as_batch(log_probs: Any, lengths: Any | None, vocab: int | None = None,
             name: str = "log_probs") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(batch, time, vocab)`` float32 and ``(batch,)`` int64 arrays, or raise InputError.

    ``log_probs`` may be a torch tensor or anything numpy accepts; ``lengths`` None means all
    frames are valid.
    """
    if hasattr(log_probs, "detach"):
        log_probs = log_probs.detach().to("cpu").float().numpy()
    array = np.ascontiguousarray(log_probs, dtype=np.float32)
    if array.ndim != 3:
        raise InputError(f"{name} must be (batch, time, vocab), got shape {array.shape}")
    batch, time, size = array.shape
    if vocab is not None and size != vocab:
        raise InputError(f"{name} has {size} classes but the decoder has {vocab} tokens")
    if np.isnan(array).any():
        bad = sorted({int(i) for i in np.nonzero(np.isnan(array).any(axis=(1, 2)))[0]})[:5]
        raise InputError(f"{name} contains NaN (batch items {bad})")
    if lengths is None:
        lens = np.full((batch,), time, dtype=np.int64)
    else:
        if hasattr(lengths, "detach"):
            lengths = lengths.detach().to("cpu").numpy()
        lens = np.ascontiguousarray(lengths, dtype=np.int64).reshape(-1)
        if lens.shape != (batch,):
            raise InputError(f"lengths must be ({batch},) for {batch} items, got {lens.shape}")
        if (lens < 0).any() or (lens > time).any():
            raise InputError(f"lengths must lie in [0, {time}], got {lens.tolist()[:8]}")
    return array, lens


def as_single(log_probs: Any, length: int | None, vocab: int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """``(time, vocab)`` input as a batch of one."""
    if hasattr(log_probs, "detach"):
        log_probs = log_probs.detach().to("cpu").float().numpy()
    array = np.asarray(log_probs, dtype=np.float32)
    if array.ndim != 2:
        raise InputError(f"log_probs must be (time, vocab), got shape {array.shape}")
    lengths = None if length is None else [int(length)]
    return as_batch(array[None], lengths, vocab)
