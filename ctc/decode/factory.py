"""``make_decoder``: one constructor for every decoding backend, all with the same call."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ctc.decode.hypothesis import Hypothesis
from ctc.errors import InputError

BACKENDS = ("greedy", "ours", "pyctcdecode", "flashlight")

Decoder = Callable[[Any, Any], list[Hypothesis]]


def make_decoder(backend: str, tokens: Sequence[str], blank: int = 0,
                 word_delimiter: str | None = " ", lm: str | os.PathLike | None = None,
                 alpha: float = 0.5, beta: float = 1.0, beam_size: int = 50,
                 **options: Any) -> Decoder:
    """A callable ``decoder(log_probs (N, T, V), lengths (N,)) -> list[Hypothesis]``.

    ``backend``: "greedy" (best path), "ours" (compiled prefix beam search with LM fusion),
    "pyctcdecode" or "flashlight" (when installed). Extra ``options`` go to the backend
    (e.g. ``hotwords``, ``unigrams``, ``num_threads``, ``word_prefix``).
    """
    if backend == "greedy":
        from ctc.decode.greedy import GreedyDecoder

        return GreedyDecoder(list(tokens), blank, word_delimiter, options.get("word_prefix"))
    if backend == "ours":
        from ctc.decode.beam import BeamSearchDecoder

        return BeamSearchDecoder(tokens, blank, word_delimiter, lm, alpha, beta, beam_size,
                                 **options)
    if backend == "pyctcdecode":
        from ctc.decode.peers import PyCTCDecodeDecoder

        return PyCTCDecodeDecoder(tokens, blank, word_delimiter, lm, alpha, beta, beam_size,
                                  **options)
    if backend == "flashlight":
        from ctc.decode.peers import FlashlightDecoder

        return FlashlightDecoder(tokens, blank, word_delimiter, lm, alpha, beta, beam_size,
                                 **options)
    raise InputError(f"unknown decoder {backend!r}; choose one of {', '.join(BACKENDS)}")
