"""Recognising line images with a trained model: text plus each character's x range.

Positions: a token emitted at output frame ``f`` covers the frames from ``f`` while the best
path keeps that token; output frame ``f`` spans normalised columns ``[f * s, (f + 1) * s)`` with
``s`` the model's ``output_frame_shift`` (columns per output frame), mapped back to the original
file's pixels by the line's :class:`~handwriting.images.LineGeometry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ctc.decode import Hypothesis, greedy_decode
from ctc.errors import InputError
from handwriting.images import LineGeometry

Decoder = Callable[[torch.Tensor, torch.Tensor], list[Hypothesis]]


@dataclass(frozen=True)
class CharBox:
    """One recognised character and its horizontal extent ``[x0, x1)`` in original pixels."""

    char: str
    x0: float
    x1: float


@dataclass
class LineResult:
    """The recognition of one image."""

    path: str
    text: str
    score: float
    chars: list[CharBox] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["chars"] = [{"char": c.char, "x0": round(c.x0, 1), "x1": round(c.x1, 1)}
                        for c in self.chars]
        return out


def decode_one(log_probs: torch.Tensor, tokenizer: Any,
               decoder: Decoder | None = None) -> Hypothesis:
    """Decode ``(T', V)`` log-probabilities of one line; text filled from the tokenizer."""
    batch = log_probs.unsqueeze(0)
    lengths = torch.tensor([log_probs.shape[0]])
    if decoder is None:
        hyp = greedy_decode(batch, lengths, blank=tokenizer.blank)[0]
    else:
        hyp = decoder(batch, lengths)[0]
    if not hyp.text:
        hyp = Hypothesis(hyp.tokens, hyp.frames, hyp.score, tokenizer.decode(hyp.tokens),
                         hyp.words, hyp.lm_score)
    return hyp


def char_boxes(hyp: Hypothesis, log_probs: torch.Tensor, tokenizer: Any, geometry: LineGeometry,
               frame_shift: float) -> list[CharBox]:
    """Character boxes of ``hyp`` given the ``(T', V)`` posteriors it was decoded from.

    Each token's span runs from its emission frame while the frame-wise best token stays the
    same, and never past the next token's frame. Word-piece tokens give one box per piece.
    """
    best = log_probs.argmax(dim=-1).tolist()
    total = len(best)
    boxes = []
    frames = list(hyp.frames)
    for k, (token, start) in enumerate(zip(hyp.tokens, frames)):
        limit = frames[k + 1] if k + 1 < len(frames) else total
        end = start + 1
        while end < limit and best[end] == token:
            end += 1
        x0 = geometry.to_original(start * frame_shift)
        x1 = geometry.to_original(end * frame_shift)
        x0 = min(max(x0, 0.0), float(geometry.width))
        x1 = min(max(x1, x0), float(geometry.width))
        boxes.append(CharBox(tokenizer.decode([token]), x0, x1))
    return boxes


def recognize_images(paths: Sequence[str], recognizer: Any, decoder: Decoder | None = None,
                     on_skip: Callable[[str, str], None] | None = None) -> Iterable[LineResult]:
    """Yield a :class:`LineResult` per readable image of ``paths``.

    ``recognizer``: a ``ctc.infer.Recognizer`` (``featurizer`` with ``normalized(path)``,
    ``log_probs([features]) -> ((N, T', V), (N,))``, ``tokenizer``, ``output_frame_shift``).
    Images that fail to load are passed to ``on_skip(path, message)`` and skipped.
    """
    featurizer = recognizer.featurizer
    shift = float(recognizer.output_frame_shift)
    for path in paths:
        try:
            ink, geometry = featurizer.normalized(path)
        except InputError as err:
            if on_skip is None:
                raise
            on_skip(path, str(err))
            continue
        with torch.no_grad():
            batch, lengths = recognizer.log_probs([torch.from_numpy(ink)])
        log_probs = batch[0, : int(lengths[0])].float().cpu()  # (T', V)
        hyp = decode_one(log_probs, recognizer.tokenizer, decoder)
        boxes = char_boxes(hyp, log_probs, recognizer.tokenizer, geometry, shift)
        yield LineResult(path=path, text=hyp.text, score=float(hyp.score), chars=boxes)
