"""Learning-rate schedules: linear warm-up then constant, cosine, linear or Noam decay."""

from __future__ import annotations

import math
from collections.abc import Callable

SCHEDULES = ("constant", "cosine", "linear", "noam")


def lr_factor(schedule: str, warmup_steps: int, total_steps: int,
              min_ratio: float = 0.0) -> Callable[[int], float]:
    """Multiplier of the base learning rate after ``step`` optimiser steps (for LambdaLR).

    Warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps. Then
    ``cosine``/``linear`` go from 1 to ``min_ratio`` at ``total_steps``; ``noam`` decays as
    ``sqrt(warmup / step)`` (Vaswani et al. 2017); ``constant`` stays at 1.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"optim.schedule must be one of {SCHEDULES}, got {schedule!r}")
    warmup_steps = max(0, warmup_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        if schedule == "noam":
            return math.sqrt(max(1, warmup_steps) / max(1, step))
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        if schedule == "linear":
            return 1.0 - (1.0 - min_ratio) * progress
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
