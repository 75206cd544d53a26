"""The result type every decoder returns."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ctc.data.tokens import WordSpan

__all__ = ["Hypothesis", "WordSpan", "paused_gc"]


@dataclass(frozen=True)
class Hypothesis:
    """One decoded sequence; every decoder (greedy, ours, the peers' adapters) fills every field.

    ``tokens``: token ids after CTC collapsing (no blanks); ``frames``: for each token, the encoder
    frame where it is emitted first; ``score``: total log score (acoustic plus LM terms);
    ``text``: the words joined by single spaces (the tokenizer's word convention); ``words``:
    each word with its ``[start, end)`` encoder frames; ``lm_score``: everything in ``score`` but
    the acoustic log-probability (weighted LM, word bonus, out-of-lexicon and hotword terms;
    0 without an LM), so ``score - lm_score`` is the CTC path or prefix score.
    """

    tokens: tuple[int, ...]
    frames: tuple[int, ...]
    score: float = 0.0
    text: str = ""
    words: tuple[WordSpan, ...] = field(default_factory=tuple)
    lm_score: float = 0.0


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while results are built: thousands of small frozen
    objects trigger collections that scan the whole heap (with torch loaded, 6x the cost of
    building them). The objects hold no cycles, so nothing is left for the collector to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
