"""The result type every decoder returns."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WordSpan:
    """A decoded word and its frame span ``[start, end)`` in encoder output frames."""

    word: str
    start: int
    end: int


@dataclass(frozen=True)
class Hypothesis:
    """One decoded sequence.

    ``tokens``: token ids after CTC collapsing (no blanks); ``frames``: for each token, the encoder
    frame where it is emitted first; ``score``: total log score (acoustic plus LM terms if any);
    ``text``: filled in by decoders that know the tokenizer; ``words``: word spans when known.
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
