"""Learning-rate schedules: linear warm-up then constant, cosine, linear or Noam decay."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

SCHEDULES = ("constant", "cosine", "linear", "noam")


def lr_factor(schedule: str, warmup_steps: int, total_steps: int,
              min_ratio: float = 0.0,
              progress: Callable[[int], float] | None = None) -> Callable[[int], float]:
    """Multiplier of the base learning rate after ``step`` optimiser steps (for LambdaLR).

    Warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps. Then
    ``cosine``/``linear`` go from 1 to ``min_ratio`` at ``total_steps``; ``noam`` decays as
    ``sqrt(warmup / step)`` (Vaswani et al. 2017); ``constant`` stays at 1. ``progress(step)``,
    when given, replaces the fraction of the decay done (``(step - warmup) / (total - warmup)``):
    a time budget defines it as the fraction of the budget spent, so the schedule spans the
    budget whatever the speed of the machine.
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
        if progress is not None:
            done = min(1.0, max(0.0, progress(step)))
        else:
            done = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if schedule == "linear":
            return 1.0 - (1.0 - min_ratio) * done
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * done))

    return factor


class Budget:
    """A wall-clock budget for training: time spent (kept across resumes) against ``minutes``.

    ``fraction()`` drives the learning-rate schedule; ``exhausted(reserve)`` tells the loop to
    stop when what remains would not cover ``reserve`` seconds (the final validation and the
    checkpoint choice), so the run ends within its budget.
    """

    def __init__(self, minutes: float, spent: float = 0.0) -> None:
        self.seconds = 60.0 * minutes
        self.spent = spent
        self._since: float | None = None

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def start(self) -> None:
        self._since = time.monotonic()

    def elapsed(self) -> float:
        running = time.monotonic() - self._since if self._since is not None else 0.0
        return self.spent + running

    def fraction(self) -> float:
        return self.elapsed() / self.seconds if self.enabled else 0.0

    def exhausted(self, reserve: float = 0.0) -> bool:
        return self.enabled and self.elapsed() + reserve >= self.seconds
