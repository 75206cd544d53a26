"""``make_decoder`` (library) and ``build_decoder`` (from a DecodeConfig and a tokenizer): one
constructor for every decoding backend, all with the same call."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ctc.decode.config import BACKENDS, DEFAULTS, DecodeConfig
from ctc.decode.hypothesis import Hypothesis
from ctc.errors import InputError

Decoder = Callable[[Any, Any], list[Hypothesis]]

__all__ = ["BACKENDS", "Decoder", "build_confidence_decoder", "build_decoder", "make_decoder"]


def make_decoder(backend: str, tokens: Sequence[str], blank: int = 0,
                 word_delimiter: str | None = " ", lm: str | os.PathLike | None = None,
                 alpha: float = DEFAULTS.DEFAULT_ALPHA, beta: float = DEFAULTS.DEFAULT_BETA,
                 beam_size: int = DEFAULTS.beam_size, **options: Any) -> Decoder:
    """A callable ``decoder(log_probs (N, T, V), lengths (N,)) -> list[Hypothesis]``.

    ``backend``: "greedy" (best path), "ours" (compiled prefix beam search with LM fusion),
    "pyctcdecode" or "flashlight" (when installed). Extra ``options`` go to the backend
    (e.g. ``hotwords``, ``unigrams``, ``num_threads``, ``word_prefix``); defaults are those of
    :class:`ctc.decode.config.DecodeConfig`.
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


def build_decoder(config: DecodeConfig, tokenizer: Any) -> Decoder:
    """The decoder ``config`` describes, for a tokenizer's table and word convention.

    ``config.alpha``/``config.beta`` left None take the untuned defaults (fill them from
    ``lm_tuned.json`` first with :meth:`DecodeConfig.with_tuned`).
    """
    config = config.with_tuned(None).validate()
    if config.lm and not os.path.isfile(config.lm):
        raise InputError(f"language model not found: {config.lm}")
    options = config.beam_options()
    if config.backend == "greedy":
        options = {}
    else:
        alpha, beta, beam = options.pop("alpha"), options.pop("beta"), options.pop("beam_size")
        options = {"alpha": alpha, "beta": beta, "beam_size": beam, **options}
    if config.backend in ("pyctcdecode", "flashlight"):
        options = {k: v for k, v in options.items()
                   if k in ("alpha", "beta", "beam_size", "token_min_logp", "beam_prune_logp",
                            "hotwords", "num_threads")}
        options["num_threads"] = max(1, options["num_threads"])
    return make_decoder(config.backend, list(tokenizer.symbols), tokenizer.blank,
                        tokenizer.word_delimiter, lm=config.lm,
                        word_prefix=tokenizer.word_prefix, **options)


def build_confidence_decoder(config: DecodeConfig, tokenizer: Any) -> Decoder | None:
    """The n-best search behind word confidences with an LM: our decoder with the same options
    but without recombination (hypotheses that share a future stay apart, so the list spans
    the real alternatives); None when word confidences come from the acoustic spikes (no LM,
    another backend, or ``confidence_nbest`` < 2)."""
    config = config.with_tuned(None)
    if config.backend != "ours" or not config.lm or config.confidence_nbest < 2:
        return None
    from dataclasses import replace

    return build_decoder(replace(config, recombine=False), tokenizer)
