"""The result type every decoder returns."""

from __future__ import annotations

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
