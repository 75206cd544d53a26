"""CTC feasibility: the fewest input frames that can emit a label sequence.

A CTC path emits each label once and needs a blank between two equal consecutive labels, so a
target of length S with R adjacent repeats needs T >= S + R frames (Graves et al. 2006, sec. 3.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch


def required_frames(target: Sequence[int]) -> int:
    """Minimum number of frames for ``target``: its length plus its adjacent repeats."""
    repeats = sum(1 for a, b in pairwise(target) if a == b)
    return len(target) + repeats


def required_frames_batch(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """``required_frames`` for padded targets ``(N, S)`` with lengths ``(N,)``; returns ``(N,)``."""
    if targets.dim() != 2:
        shape = tuple(targets.shape)
        raise ValueError(f"targets must be padded (batch, max_target_len), got {shape}")
    s = targets.shape[1]
    if s < 2:
        return target_lengths.clone()
    positions = torch.arange(1, s, device=targets.device)[None, :]
    same = (targets[:, 1:] == targets[:, :-1]) & (positions < target_lengths[:, None])
    return target_lengths + same.sum(dim=1)
