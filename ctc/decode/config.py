"""``DecodeConfig``: every decoding option and its one default, for the CLI, the library and C++.

The command-line options (``--beam-size``, ``--alpha``, ...) take their defaults from here, the
decoders' constructors take theirs from here, and the compiled beam search receives every value
explicitly (its C++ ``DecoderOptions`` has no defaults of its own). Changing a default is a
one-line change in this file.

The LM weight and word bonus are special: a model folder may hold ``lm_tuned.json`` (written by
``ctc tune-lm``), whose pair applies when it was tuned for the same LM file
(:func:`ctc.decode.tuned.tuned_weights`); ``alpha``/``beta`` None mean "tuned, else the default".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ctc.errors import InputError

BACKENDS = ("greedy", "ours", "pyctcdecode", "flashlight")
LOOKAHEADS = ("context", "unigram")


@dataclass(frozen=True)
class DecodeConfig:
    """Decoding options.

    decoder: ``greedy``, ``ours`` (compiled prefix beam search), ``pyctcdecode`` or
        ``flashlight``; None: greedy, or ours when an LM is given.
    lm: word n-gram LM (ARPA, ``.arpa.gz`` or KenLM binary), or None.
    alpha, beta: LM weight and word insertion bonus (None: tuned, else ``DEFAULT_ALPHA/BETA``).
        Untuned defaults for our decoder with its context look-ahead (the optimum measured 0.6-1.0
        and 3-6.5 on speech and handwriting).
    beam_size: hypotheses kept per frame (beam 50 and 100 measured the same WER on the demo's
        speech posteriors, 4.74%; about 0.17 ms per utterance).
    token_min_logp: tokens below this log-probability are not tried (the best one always is).
    beam_prune_logp: hypotheses scoring below the best + this are dropped.
    blank_skip_threshold: frames whose blank probability is at least this only extend by blank
        or repeat (1.0: never skip).
    top_k: at most this many tokens tried per frame.
    unk_score: log score of a word outside the lexicon (not scaled by alpha): -20 measured best
        on held-out speech (test WER 4.96% vs 5.70% with -10, beam 50).
    lm_lookahead: ``context`` (n-gram context look-ahead) or ``unigram`` (max-smeared unigram).
    recombine: keep only the best of hypotheses with the same future (see ``ctc.decode.beam``).
    lexicon_constrained: only lexicon words may be produced.
    hotwords: ``((phrase, weight), ...)`` boosted during the search.
    nbest: hypotheses returned per input (beam search only).
    num_threads: decoder worker threads for a batch (0: all cores).
    confidence_nbest, confidence_scale: with an LM, word confidences are n-best word posteriors
        (``ctc.results``): a second search without recombination lists ``confidence_nbest``
        hypotheses, whose scores times ``confidence_scale`` are normalised into posteriors.
        Measured on the demo's speech (tuned on dev): test ECE 1.37% (scale 0.5, 16-best)
        against 30.0% for the acoustic spikes alone; 0 or 1: acoustic spikes only.
    """

    decoder: str | None = None
    lm: str | None = None
    alpha: float | None = None
    beta: float | None = None
    beam_size: int = 50
    token_min_logp: float = -5.0
    beam_prune_logp: float = -10.0
    blank_skip_threshold: float = 0.999
    top_k: int = 40
    unk_score: float = -20.0
    lm_lookahead: str = "context"
    recombine: bool = True
    lexicon_constrained: bool = False
    hotwords: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    nbest: int = 1
    num_threads: int = 0
    confidence_nbest: int = 16
    confidence_scale: float = 0.5

    DEFAULT_ALPHA = 0.6
    DEFAULT_BETA = 3.0

    @property
    def backend(self) -> str:
        """The decoder that runs: ``decoder``, or greedy / ours by whether an LM is given."""
        return self.decoder or ("ours" if self.lm else "greedy")

    def with_tuned(self, tuned: tuple[float, float] | None) -> DecodeConfig:
        """Fill ``alpha``/``beta`` left None from ``tuned``, else from the defaults."""
        alpha = self.alpha if self.alpha is not None else (
            tuned[0] if tuned else self.DEFAULT_ALPHA)
        beta = self.beta if self.beta is not None else (tuned[1] if tuned else self.DEFAULT_BETA)
        return replace(self, alpha=alpha, beta=beta)

    def validate(self) -> DecodeConfig:
        """Raise InputError naming the first option outside its domain; return self."""
        if self.decoder is not None and self.decoder not in BACKENDS:
            raise InputError(f"unknown decoder {self.decoder!r}; choose one of "
                             f"{', '.join(BACKENDS)}")
        if self.backend == "greedy" and self.lm:
            raise InputError("--lm needs a beam-search decoder "
                             "(--decoder ours|pyctcdecode|flashlight)")
        for name in ("alpha", "beta", "token_min_logp", "beam_prune_logp", "unk_score",
                     "blank_skip_threshold"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value) and name != "unk_score":
                raise InputError(f"--{name.replace('_', '-')} must be a finite number, "
                                 f"got {value}")
            if value is not None and math.isnan(value):
                raise InputError(f"--{name.replace('_', '-')} must be a number, got nan")
        if self.beam_size < 1:
            raise InputError(f"--beam-size must be at least 1, got {self.beam_size}")
        if self.top_k < 1:
            raise InputError(f"--top-k must be at least 1, got {self.top_k}")
        if self.nbest < 1:
            raise InputError(f"--nbest must be at least 1, got {self.nbest}")
        if self.confidence_nbest < 0 or not self.confidence_scale > 0:
            raise InputError("confidence_nbest must be >= 0 and confidence_scale > 0")
        if self.num_threads < 0:
            raise InputError(f"decoder threads must be >= 0, got {self.num_threads}")
        if not 0.0 < self.blank_skip_threshold <= 1.0:
            raise InputError(f"blank_skip_threshold must be in (0, 1], "
                             f"got {self.blank_skip_threshold}")
        if self.lm_lookahead not in LOOKAHEADS:
            raise InputError(f"lm_lookahead must be one of {LOOKAHEADS}, "
                             f"not {self.lm_lookahead!r}")
        for phrase, weight in self.hotwords:
            if not phrase.strip() or not math.isfinite(weight):
                raise InputError(f"bad hotword {phrase!r}:{weight} (a word or phrase and a "
                                 "finite weight)")
        return self

    def beam_options(self) -> dict[str, Any]:
        """Keyword arguments of the beam-search decoders (everything but the backend's choice,
        the LM path and the n-best count)."""
        skip = {"decoder", "lm", "nbest", "confidence_nbest", "confidence_scale"}
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        out["hotwords"] = dict(self.hotwords)
        return out

    def label(self) -> str:
        """A short description for reports: ``greedy`` or ``ours beam=50 lm=x.arpa alpha=..
        beta=..``."""
        if self.backend == "greedy":
            return "greedy"
        text = f"{self.backend} beam={self.beam_size}"
        if self.lm:
            from pathlib import Path

            text += f" lm={Path(self.lm).name} alpha={self.alpha} beta={self.beta}"
        if self.hotwords:
            text += f" hotwords={len(self.hotwords)}"
        return text


DEFAULTS = DecodeConfig()
