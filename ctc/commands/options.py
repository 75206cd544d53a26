"""Options shared by the modalities' commands: decoding (one group, defaults from
:class:`ctc.decode.config.DecodeConfig`) and the device.

The LM weight and word bonus default to the pair ``ctc tune-lm`` wrote beside the model
(``EXPDIR/lm_tuned.json``) when it was tuned for the same LM file; otherwise to
``DecodeConfig.DEFAULT_ALPHA`` and ``DEFAULT_BETA``.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ctc.decode.config import BACKENDS, DEFAULTS, DecodeConfig
from ctc.decode.tuned import TUNED_FILE, tuned_weights
from ctc.distributed import DEVICES
from ctc.errors import InputError
from ctc.threads import use_threads

DEFAULT_HOTWORD_WEIGHT = 5.0


def prog_of(args: argparse.Namespace) -> str:
    """The program name the command runs as (``asr``, ``htr``), for its message lines."""
    return getattr(args, "prog", "carousel")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--threads`` (applied by the program before the command runs)."""
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where the model runs: cpu, cuda or auto (default cpu)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="intra-op CPU threads (default 0: the cores that are free at the "
                             "start, so that a busy machine does not slow it down several "
                             "times; CAROUSEL_THREADS or OMP_NUM_THREADS also set it)")


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's intra-op threads from ``--threads`` of a command that has it; InputError
    for a negative count or a bad CAROUSEL_THREADS / OMP_NUM_THREADS."""
    if not hasattr(args, "threads"):
        return
    if args.threads < 0:
        raise InputError(f"--threads must be >= 0 (0: the free cores), got {args.threads}")
    use_threads(args.threads)


def add_decoding_options(parser: argparse.ArgumentParser, *, nbest: bool = True) -> None:
    """Add the "decoding" group: ``--lm --alpha --beta --beam-size --decoder --hotword
    --hotwords [--nbest]``."""
    group = parser.add_argument_group("decoding")
    group.add_argument("--lm", metavar="LM",
                       help="word n-gram LM (ARPA, .arpa.gz or KenLM binary) for beam search")
    group.add_argument("--alpha", type=float, default=None,
                       help=f"LM weight (default: the value tuned for this LM in "
                            f"EXPDIR/{TUNED_FILE} by `ctc tune-lm`, else "
                            f"{DecodeConfig.DEFAULT_ALPHA})")
    group.add_argument("--beta", type=float, default=None,
                       help=f"word insertion bonus (default: tuned like --alpha, else "
                            f"{DecodeConfig.DEFAULT_BETA})")
    group.add_argument("--beam-size", type=int, default=DEFAULTS.beam_size,
                       help=f"beam width (default {DEFAULTS.beam_size})")
    group.add_argument("--decoder", choices=BACKENDS, default=None,
                       help="decoder backend (default: greedy, or ours with --lm or hotwords)")
    group.add_argument("--hotword", action="append", default=[], metavar="WORD[:WEIGHT]",
                       help=f"boost a word or phrase during beam search (repeatable; weight "
                            f"default {DEFAULT_HOTWORD_WEIGHT}, in log-score units)")
    group.add_argument("--hotwords", metavar="FILE",
                       help="hotwords, one WORD[:WEIGHT] (or WORD<TAB>WEIGHT) per line")
    if nbest:
        group.add_argument("--nbest", type=int, default=DEFAULTS.nbest,
                           help="alternatives per input in --format json (beam search; "
                                f"default {DEFAULTS.nbest})")


def _hotword(text: str, where: str) -> tuple[str, float]:
    phrase, weight = text, str(DEFAULT_HOTWORD_WEIGHT)
    if "\t" in text:
        phrase, weight = text.rsplit("\t", 1)
    elif ":" in text:
        head, _, tail = text.rpartition(":")
        try:
            float(tail)
            phrase, weight = head, tail
        except ValueError:
            pass
    try:
        value = float(weight)
    except ValueError:
        raise InputError(f"{where}: hotword weight {weight!r} is not a number") from None
    phrase = " ".join(phrase.split())
    if not phrase or not math.isfinite(value):
        raise InputError(f"{where}: bad hotword {text!r} (WORD[:WEIGHT] with a finite weight)")
    return phrase, value


def read_hotwords(args: argparse.Namespace) -> tuple[tuple[str, float], ...]:
    """``--hotword`` values and the lines of ``--hotwords FILE`` as (phrase, weight) pairs."""
    pairs = [_hotword(h, "--hotword") for h in args.hotword]
    if getattr(args, "hotwords", None):
        path = Path(args.hotwords)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise InputError(f"hotwords file not found: {path}") from None
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not UTF-8 text (byte {err.start})") from None
        except OSError as err:
            raise InputError(f"{path}: cannot read ({err.strerror})") from None
        pairs += [_hotword(line.strip(), f"{path}:{n}") for n, line in enumerate(lines, 1)
                  if line.strip() and not line.lstrip().startswith("#")]
    return tuple(pairs)


def decode_config(args: argparse.Namespace, model: str | os.PathLike) -> DecodeConfig:
    """The :class:`DecodeConfig` the command line asks for, LM weights tuned beside ``model``
    filled in; InputError for options outside their domain or a missing LM file."""
    hotwords = read_hotwords(args)
    decoder = args.decoder
    if decoder is None and hotwords and not args.lm:
        decoder = "ours"
    config = DecodeConfig(decoder=decoder, lm=args.lm, alpha=args.alpha, beta=args.beta,
                          beam_size=args.beam_size, hotwords=hotwords,
                          nbest=getattr(args, "nbest", DEFAULTS.nbest))
    config.validate()
    if args.lm and not Path(args.lm).is_file():
        raise InputError(f"language model not found: {args.lm}")
    tuned = tuned_weights(model, args.lm) if args.lm else None
    return config.with_tuned(tuned)
