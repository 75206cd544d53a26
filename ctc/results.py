"""What recognising one raw input gives: text, words and tokens placed on the source, with
confidences and alternatives.

Positions are in the modality's unit (seconds in the file, pixels of the original image), mapped
from encoder frames by the input's :class:`ctc.modality.Posteriorgram`. A word spans
``[first frame of its first token, last frame of its last token + 1)``; a token spans from the
frame it is emitted at while the frame-wise best token stays the same, never past the next
token's frame.

Confidence (in [0, 1]): a token's is its highest posterior probability over its span (CTC
emits a token as a spike, and the spike's height is how sure the model is); a word's is the
lowest of its tokens' (a word is right only if every one of its tokens is). Both come from the
acoustic model alone, also when an LM chose the words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ctc.decode.hypothesis import Hypothesis
from ctc.modality import Posteriorgram


@dataclass(frozen=True)
class Span:
    """A word or token, its ``[start, end)`` in the source (seconds or pixels) and its
    confidence in [0, 1] (None when not computed)."""

    text: str
    start: float
    end: float
    confidence: float | None = None


@dataclass(frozen=True)
class Alternative:
    """An n-best alternative: its text and total log score."""

    text: str
    score: float


@dataclass(frozen=True)
class Recognition:
    """One recognised input (or one line of a document).

    ``source``: its path; ``extent``: its duration or width; ``unit``: ``"s"`` or ``"px"``;
    ``confidence``: the lowest word confidence (1 for empty text); ``alternatives``: the n-best
    list, best first, when more than one was asked for; ``meta``: the posteriorgram's ``meta``
    (what writers need of the input, e.g. a document line's id).
    """

    source: str
    text: str
    score: float
    extent: float
    unit: str
    words: tuple[Span, ...] = ()
    tokens: tuple[Span, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    alternatives: tuple[Alternative, ...] = ()


def _clip(value: float, extent: float) -> float:
    return min(max(value, 0.0), extent)


def token_spans(hyp: Hypothesis, log_probs: torch.Tensor) -> list[tuple[int, int, int, float]]:
    """``(token, first frame, end frame, confidence)`` of each token of ``hyp`` in
    ``log_probs (T', V)``."""
    best = log_probs.argmax(dim=-1).tolist()
    total = len(best)
    frames = list(hyp.frames)
    out = []
    for k, (token, start) in enumerate(zip(hyp.tokens, frames)):
        limit = frames[k + 1] if k + 1 < len(frames) else total
        end = start + 1
        while end < limit and best[end] == token:
            end += 1
        if 0 <= start < total:
            peak = float(log_probs[start:max(end, start + 1), token].max())
        else:
            peak = -math.inf
        out.append((token, start, end, math.exp(peak)))
    return out


def make_recognition(hyp: Hypothesis, gram: Posteriorgram, tokenizer: Any, unit: str,
                     alternatives: Sequence[Hypothesis] = ()) -> Recognition:
    """Place a hypothesis decoded from ``gram.log_probs`` on its source."""
    extent = gram.extent
    surface = tokenizer.token_text.surface
    spans = token_spans(hyp, gram.log_probs)
    tokens = []
    for token, start, end, confidence in spans:
        x0 = _clip(gram.position(start), extent)
        tokens.append(Span(surface(token), x0, max(x0, _clip(gram.position(end), extent)),
                           round(confidence, 4)))
    word_of = tokenizer.token_text.word_index(hyp.tokens)
    lowest: dict[int, float] = {}
    for index, (_, _, _, confidence) in zip(word_of, spans):
        if index >= 0:
            lowest[index] = min(lowest.get(index, 1.0), confidence)
    words = tuple(Span(w.word, _clip(gram.position(w.start), extent),
                       _clip(gram.position(max(w.end, w.start + 1)), extent),
                       round(lowest.get(i, 1.0), 4))
                  for i, w in enumerate(hyp.words))
    alts = tuple(Alternative(a.text, round(float(a.score), 4)) for a in alternatives)
    return Recognition(gram.source, hyp.text, float(hyp.score), extent, unit, words,
                       tuple(tokens), gram.meta,
                       min((w.confidence for w in words), default=1.0), alts)


def decode_nbest(decoder: Callable, log_probs: Sequence[torch.Tensor], nbest: int = 1
                 ) -> list[list[Hypothesis]]:
    """Decode ``(T', V)`` posteriors as one batch; up to ``nbest`` hypotheses each, best first
    (decoders without ``decode_batch(..., nbest)`` give their best only). Empty ones decode to
    nothing."""
    from ctc.decode.posteriors import pad

    out: list[list[Hypothesis]] = [[Hypothesis((), ())] for _ in log_probs]
    live = [i for i, lp in enumerate(log_probs) if lp.shape[0] > 0]
    if not live:
        return out
    blank = getattr(decoder, "blank", 0)
    batch, lengths = pad([log_probs[i].float().numpy() for i in live], blank)
    padded, lengths = torch.from_numpy(batch), torch.from_numpy(lengths)
    if nbest > 1 and hasattr(decoder, "decode_batch"):
        lists = decoder.decode_batch(padded, lengths, nbest=nbest)
    else:
        lists = [[h] for h in decoder(padded, lengths)]
    for i, hyps in zip(live, lists):
        out[i] = list(hyps) or [Hypothesis((), ())]
    return out


def recognize(gram: Posteriorgram, decoder: Callable, tokenizer: Any, unit: str,
              nbest: int = 1) -> Recognition:
    """Decode one input's posteriors and place the result on it."""
    return recognize_all([gram], decoder, tokenizer, unit, nbest)[0]


def recognize_all(grams: Sequence[Posteriorgram], decoder: Callable, tokenizer: Any, unit: str,
                  nbest: int = 1) -> list[Recognition]:
    """Decode posteriorgrams as one batch and place each result on its source."""
    lists = decode_nbest(decoder, [g.log_probs for g in grams], nbest)
    return [make_recognition(hyps[0], gram, tokenizer, unit, hyps if nbest > 1 else ())
            for gram, hyps in zip(grams, lists)]
