"""What recognising one raw input gives: text, words and tokens placed on the source, with
confidences and alternatives.

Positions are in the modality's unit (seconds in the file, pixels of the original image), mapped
from encoder frames by the input's :class:`ctc.modality.Posteriorgram`. A word spans
``[first frame of its first token, last frame of its last token + 1)``; a token spans from the
frame it is emitted at while the frame-wise best token stays the same, never past the next
token's frame.

Confidence (in [0, 1]): a token's is its highest posterior probability over its span (CTC
emits a token as a spike, and the spike's height is how sure the model is). A word's is, without
an LM, the lowest of its tokens' (a word is right only if every one of its tokens is); with an
LM, where the language model often rescues words the acoustic model hesitated on, it is the word's
posterior over an n-best list (Wessel, Schlüter, Macherey & Ney 2001, "Confidence measures for
large vocabulary continuous speech recognition"): the hypotheses' scores, scaled, are normalised
into probabilities, and a word's confidence is the probability of the hypotheses that hold the
same word over an overlapping span. See ``DecodeConfig.confidence_*`` for what was measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ctc.decode.hypothesis import Hypothesis, WordSpan
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


@dataclass(frozen=True)
class WordConfidence:
    """How word confidences are computed: from an n-best list of ``nbest`` hypotheses of
    ``decoder`` with scores scaled by ``scale``, or (``decoder`` None) from acoustic spikes."""

    decoder: Callable | None = None
    nbest: int = 1
    scale: float = 1.0

    @classmethod
    def of(cls, config: Any, tokenizer: Any) -> WordConfidence:
        """The word confidence a :class:`ctc.decode.config.DecodeConfig` asks for."""
        from ctc.decode.factory import build_confidence_decoder

        decoder = build_confidence_decoder(config, tokenizer)
        return cls(decoder, config.confidence_nbest, config.confidence_scale) if decoder \
            else cls()


def nbest_word_posteriors(best: Hypothesis, competitors: Sequence[Hypothesis],
                          scale: float) -> list[float]:
    """Each word of ``best``: the posterior mass of the ``competitors`` holding the same word
    over an overlapping frame span (scores scaled by ``scale``, normalised; ``best`` counts as
    one of them if it is not in the list)."""
    hyps = list(competitors)
    if not any(h.text == best.text and h.words == best.words for h in hyps):
        hyps.append(best)
    scores = np.array([h.score for h in hyps], dtype=np.float64) * scale
    post = np.exp(scores - scores.max())
    post /= post.sum()
    out = []
    for w in best.words:
        out.append(float(sum(p for h, p in zip(hyps, post)
                             if any(v.word == w.word and v.start < w.end and w.start < v.end
                                    for v in h.words))))
    return out


def make_recognition(hyp: Hypothesis, gram: Posteriorgram, tokenizer: Any, unit: str,
                     alternatives: Sequence[Hypothesis] = (),
                     word_confidences: Sequence[float] | None = None) -> Recognition:
    """Place a hypothesis decoded from ``gram.log_probs`` on its source; ``alternatives``: the
    n-best list to report; ``word_confidences``: one per word of ``hyp`` (:func:`word_posteriors`;
    None: the lowest spike of each word's tokens)."""
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
    if word_confidences is not None:
        confidences = list(word_confidences)
    else:
        confidences = [lowest.get(i, 1.0) for i in range(len(hyp.words))]
    words = tuple(Span(w.word, _clip(gram.position(w.start), extent),
                       _clip(gram.position(max(w.end, w.start + 1)), extent),
                       round(min(max(c, 0.0), 1.0), 4))
                  for w, c in zip(hyp.words, confidences))
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
              nbest: int = 1, confidence: WordConfidence | None = None) -> Recognition:
    """Decode one input's posteriors and place the result on it."""
    return recognize_all([gram], decoder, tokenizer, unit, nbest, confidence)[0]


def recognize_all(grams: Sequence[Posteriorgram], decoder: Callable, tokenizer: Any, unit: str,
                  nbest: int = 1, confidence: WordConfidence | None = None
                  ) -> list[Recognition]:
    """Decode posteriorgrams as one batch and place each result on its source."""
    log_probs = [g.log_probs for g in grams]
    lists = decode_nbest(decoder, log_probs, nbest)
    posteriors = word_posteriors([hyps[0] for hyps in lists], log_probs, confidence)
    return [make_recognition(hyps[0], gram, tokenizer, unit, hyps if nbest > 1 else (), conf)
            for gram, hyps, conf in zip(grams, lists, posteriors)]


CONFIDENCE_WINDOW = 500  # output frames (20 s at 40 ms) per n-best search for confidences


def word_posteriors(best: Sequence[Hypothesis], log_probs: Sequence[torch.Tensor],
                    confidence: WordConfidence | None, window: int = CONFIDENCE_WINDOW
                    ) -> list[list[float] | None]:
    """Each hypothesis's word confidences as n-best word posteriors (None per hypothesis when
    ``confidence`` asks for acoustic spikes). Long inputs are searched piece by piece: pieces of
    about ``window`` frames cut between words, each with its own n-best list, so the cost and
    the meaning of the lists stay those of an utterance whatever the input's length."""
    if confidence is None or confidence.decoder is None:
        return [None for _ in best]
    pieces: list[tuple[int, int, int, list[int]]] = []  # (input, first frame, end, word ids)
    for k, (hyp, lp) in enumerate(zip(best, log_probs)):
        total = lp.shape[0]
        start, words = 0, []
        for i, w in enumerate(hyp.words):
            if words and w.start - start >= window:
                end = (hyp.words[i - 1].end + w.start) // 2  # cut in the gap between words
                pieces.append((k, start, end, words))
                start, words = end, []
            words.append(i)
        pieces.append((k, start, total, words))
    lists = decode_nbest(confidence.decoder,
                         [log_probs[k][a:b] for k, a, b, _ in pieces], confidence.nbest)
    out: list[list[float]] = [[1.0] * len(h.words) for h in best]
    for (k, a, _, ids), rivals in zip(pieces, lists):
        if not ids:
            continue
        shifted = Hypothesis((), (), best[k].score, "", tuple(
            WordSpan(best[k].words[i].word, best[k].words[i].start - a,
                     best[k].words[i].end - a) for i in ids))
        if sum(p[0] == k for p in pieces) == 1:
            shifted = best[k]  # one piece: the whole hypothesis competes as it is
        for i, value in zip(ids, nbest_word_posteriors(shifted, rivals, confidence.scale)):
            out[k][i] = value
    return out
