"""Recognising line images: each image's posteriors placed on its original pixels, and the
output formats.

Positions: output frame ``f`` spans normalised columns ``[f * s, (f + 1) * s)`` with ``s`` the
model's ``output_frame_shift`` (columns per output frame), mapped back to the original file's
pixels by the line's :class:`~handwriting.images.LineGeometry`; ``ctc.results`` places the
characters and words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from ctc.errors import InputError
from ctc.modality import Posteriorgram
from ctc.results import Recognition
from handwriting.images import LineGeometry

FORMATS = ("txt", "json")


def placed(source: str, log_probs: torch.Tensor, geometry: LineGeometry,
           frame_shift: float) -> Posteriorgram:
    """A line's ``(T', V)`` posteriors placed on the original image's columns (``frame_shift``:
    normalised columns per output frame)."""
    return Posteriorgram(source, log_probs,
                         lambda frame: geometry.to_original(frame * frame_shift),
                         float(geometry.width))


def line_posteriorgrams(recognizer: Any, paths: Sequence[str],
                        on_progress: Callable[[float], Any] | None = None
                        ) -> Iterator[tuple[str, Posteriorgram | InputError]]:
    """Each image's posteriorgram, or the InputError that kept it from being read, in order.

    ``recognizer``: a ``ctc.recognizer.Recognizer`` (``featurizer.normalized(path)``,
    ``log_probs([features])``, ``output_frame_shift``).
    """
    featurizer = recognizer.featurizer
    shift = float(recognizer.output_frame_shift)
    for path in paths:
        try:
            ink, geometry = featurizer.normalized(path)
        except InputError as err:
            yield path, err
        else:
            with torch.no_grad():
                batch, lengths = recognizer.log_probs([torch.from_numpy(ink)])
            log_probs = batch[0, : int(lengths[0])].float().cpu()  # (T', V)
            yield path, placed(path, log_probs, geometry, shift)
        if on_progress is not None:
            on_progress(1)


def format_line(result: Recognition, fmt: str) -> str:
    """``txt``: the text; ``json``: path, text, score, confidence, and each character's and
    word's x range ``[x0, x1)`` in original pixels with its confidence (and the n-best list)."""
    if fmt == "txt":
        return result.text + "\n"
    if fmt == "json":
        obj: dict[str, Any] = {"path": result.source, "text": result.text,
                               "score": round(result.score, 4),
                               "confidence": result.confidence}
        obj.update({k: v for k, v in result.meta.items() if k in ("line", "document")})
        obj["chars"] = [{"char": c.text, "x0": round(c.start, 1), "x1": round(c.end, 1),
                         "confidence": c.confidence} for c in result.tokens]
        obj["words"] = [{"word": w.text, "x0": round(w.start, 1), "x1": round(w.end, 1),
                         "confidence": w.confidence} for w in result.words]
        if result.alternatives:
            obj["nbest"] = [{"text": a.text, "score": a.score} for a in result.alternatives]
        return json.dumps(obj, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
