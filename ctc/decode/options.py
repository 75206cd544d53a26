"""Decoding options shared by the ``asr`` and ``htr`` commands, and the decoder they ask for.

The LM weight and word bonus default to the pair ``ctc tune-lm`` wrote beside the model
(``EXPDIR/lm_tuned.json``) when it was tuned for the same LM file; otherwise to 0.5 and 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctc.errors import InputError

DECODERS = ("greedy", "ours", "pyctcdecode", "flashlight")
TUNED_FILE = "lm_tuned.json"
DEFAULT_ALPHA = 0.6  # untuned defaults for our decoder with its context look-ahead
DEFAULT_BETA = 3.0


def add_decoding_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--lm --alpha --beta --beam-size --decoder`` as a "decoding" group."""
    group = parser.add_argument_group("decoding")
    group.add_argument("--lm", metavar="ARPA", help="word n-gram LM (ARPA) for beam search")
    group.add_argument("--alpha", type=float, default=None,
                       help=f"LM weight (default: the value tuned for this LM in "
                            f"EXPDIR/{TUNED_FILE} by `ctc tune-lm`, else {DEFAULT_ALPHA})")
    group.add_argument("--beta", type=float, default=None,
                       help=f"word insertion bonus (default: tuned like --alpha, "
                            f"else {DEFAULT_BETA})")
    group.add_argument("--beam-size", type=int, default=32, help="beam width (default 32)")
    group.add_argument("--decoder", choices=DECODERS, default=None,
                       help="decoder backend (default: greedy, or ours with --lm)")


def tuned_weights(model: str | os.PathLike, lm: str | os.PathLike) -> tuple[float, float] | None:
    """(alpha, beta) from ``model``'s ``lm_tuned.json`` if it was tuned for the file ``lm``."""
    folder = Path(model) if Path(model).is_dir() else Path(model).parent
    path = folder / TUNED_FILE
    if not path.is_file():
        return None
    try:
        tuned = json.loads(path.read_text(encoding="utf-8"))
        same_lm = os.path.samefile(tuned["lm"], lm)
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return (float(tuned["alpha"]), float(tuned["beta"])) if same_lm else None


def decoder_from_options(args: argparse.Namespace, tokenizer: Any,
                         model: str | os.PathLike) -> tuple[Callable, str]:
    """The decoder ``args`` ask for and a label for reports.

    Returns a callable ``(log_probs (N, T, V), lengths (N,)) -> list[Hypothesis]`` with text.
    """
    from ctc.decode import make_decoder

    backend = args.decoder or ("ours" if args.lm else "greedy")
    if args.lm and not Path(args.lm).is_file():
        raise InputError(f"language model not found: {args.lm}")
    if backend == "greedy" and args.lm:
        raise InputError("--lm needs a beam-search decoder (--decoder ours|pyctcdecode|flashlight)")
    alpha, beta = args.alpha, args.beta
    if args.lm and (alpha is None or beta is None):
        tuned = tuned_weights(model, args.lm) or (DEFAULT_ALPHA, DEFAULT_BETA)
        alpha = tuned[0] if alpha is None else alpha
        beta = tuned[1] if beta is None else beta
    alpha = DEFAULT_ALPHA if alpha is None else alpha
    beta = DEFAULT_BETA if beta is None else beta
    decoder = make_decoder(backend, tokens=list(tokenizer.symbols), blank=tokenizer.blank,
                           word_delimiter=getattr(tokenizer, "word_delimiter", " "), lm=args.lm,
                           alpha=alpha, beta=beta, beam_size=args.beam_size)
    if backend == "greedy":
        return decoder, "greedy"
    label = f"{backend} beam={args.beam_size}"
    if args.lm:
        label += f" lm={Path(args.lm).name} alpha={alpha} beta={beta}"
    return decoder, label
