"""What recognising one raw input gives: text, words and tokens placed on the source.

Positions are in the modality's unit (seconds in the file, pixels of the original image), mapped
from encoder frames by the input's :class:`ctc.modality.Posteriorgram`. A word spans
``[first frame of its first token, last frame of its last token + 1)``; a token spans from the
frame it is emitted at while the frame-wise best token stays the same, never past the next
token's frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ctc.decode.hypothesis import Hypothesis
from ctc.modality import Posteriorgram


@dataclass(frozen=True)
class Span:
    """A word or token and its ``[start, end)`` in the source (seconds or pixels)."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Recognition:
    """One recognised input.

    ``source``: its path; ``extent``: its duration or width; ``unit``: ``"s"`` or ``"px"``;
    ``meta``: the posteriorgram's ``meta`` (what writers may need of the input).
    """

    source: str
    text: str
    score: float
    extent: float
    unit: str
    words: tuple[Span, ...] = ()
    tokens: tuple[Span, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


def _clip(value: float, extent: float) -> float:
    return min(max(value, 0.0), extent)


def token_spans(hyp: Hypothesis, log_probs: torch.Tensor) -> list[tuple[int, int, int]]:
    """``(token, first frame, end frame)`` of each token of ``hyp`` in ``log_probs (T', V)``."""
    best = log_probs.argmax(dim=-1).tolist()
    total = len(best)
    frames = list(hyp.frames)
    out = []
    for k, (token, start) in enumerate(zip(hyp.tokens, frames)):
        limit = frames[k + 1] if k + 1 < len(frames) else total
        end = start + 1
        while end < limit and best[end] == token:
            end += 1
        out.append((token, start, end))
    return out


def make_recognition(hyp: Hypothesis, gram: Posteriorgram, tokenizer: Any,
                     unit: str) -> Recognition:
    """Place a hypothesis decoded from ``gram.log_probs`` on its source."""
    extent = gram.extent
    words = tuple(Span(w.word, _clip(gram.position(w.start), extent),
                       _clip(gram.position(max(w.end, w.start + 1)), extent))
                  for w in hyp.words)
    surface = tokenizer.token_text.surface
    tokens = []
    for token, start, end in token_spans(hyp, gram.log_probs):
        x0 = _clip(gram.position(start), extent)
        tokens.append(Span(surface(token), x0, max(x0, _clip(gram.position(end), extent))))
    return Recognition(gram.source, hyp.text, float(hyp.score), extent, unit, words,
                       tuple(tokens), gram.meta)


def decode_one(decoder: Callable, log_probs: torch.Tensor) -> Hypothesis:
    """Decode one ``(T', V)`` posteriorgram (an empty one decodes to nothing)."""
    if log_probs.shape[0] == 0:
        return Hypothesis((), ())
    return decoder(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]


def recognize(gram: Posteriorgram, decoder: Callable, tokenizer: Any, unit: str) -> Recognition:
    """Decode one input's posteriors and place the result on it."""
    return make_recognition(decode_one(decoder, gram.log_probs), gram, tokenizer, unit)
