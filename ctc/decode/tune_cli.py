"""``ctc tune-lm``: grid search of the LM weight alpha and word bonus beta on a dev set.

Decodes a posteriors dump (see :mod:`ctc.decode.posteriors`) for every (alpha, beta) pair,
prints the WER of each, and writes the best pair as JSON: ``{"alpha", "beta", "wer", ...}``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ctc.decode.config import DEFAULTS
from ctc.decode.factory import BACKENDS, make_decoder
from ctc.decode.posteriors import Posteriors, load_posteriors
from ctc.errors import InputError, cli_entry
from ctc.io import atomic_write_text
from ctc.metrics.errors import count_errors

DEFAULT_ALPHAS = [0.2, 0.4, 0.6, 0.8, 1.0, 1.3]
DEFAULT_BETAS = [0.0, 1.5, 3.0, 4.5, 6.0]


@dataclass
class TuneConfig:
    """``posteriors``: dev dump; ``lm``: ARPA path; grids of alpha and beta to try."""

    posteriors: Path
    lm: Path
    out: Path
    decoder: str = "ours"
    alphas: list[float] = field(default_factory=lambda: list(DEFAULT_ALPHAS))
    betas: list[float] = field(default_factory=lambda: list(DEFAULT_BETAS))
    beam_size: int = DEFAULTS.beam_size
    num_threads: int = DEFAULTS.num_threads


def grid_search(dev: Posteriors, lm: str | Path, decoder: str, alphas: list[float],
                betas: list[float], beam_size: int, num_threads: int = 0,
                verbose: bool = False) -> tuple[dict, list[dict]]:
    """WER for every (alpha, beta); returns the best entry and all entries.

    Ties go to the earlier grid point, so the result is deterministic.
    """
    rows = []
    for alpha in alphas:
        for beta in betas:
            dec = make_decoder(decoder, dev.tokens, dev.blank, dev.word_delimiter, lm=lm,
                               alpha=alpha, beta=beta, beam_size=beam_size,
                               num_threads=num_threads, word_prefix=dev.word_prefix)
            start = time.perf_counter()
            hyps = dec(dev.log_probs, dev.lengths)
            seconds = time.perf_counter() - start
            wer = count_errors(dev.refs, [h.text for h in hyps]).rate
            rows.append({"alpha": alpha, "beta": beta, "wer": wer, "seconds": seconds})
            if verbose:
                print(f"alpha {alpha:6.3f}  beta {beta:6.3f}  WER {100 * wer:6.2f}%  "
                      f"({seconds:.1f} s)", flush=True)
    best = min(rows, key=lambda r: r["wer"])
    return best, rows


def run(cfg: TuneConfig) -> dict:
    if cfg.decoder not in BACKENDS or cfg.decoder == "greedy":
        raise InputError(f"--decoder must be ours, pyctcdecode or flashlight, not {cfg.decoder!r}")
    if not cfg.lm.is_file():
        raise InputError(f"language model not found: {cfg.lm}")
    dev = load_posteriors(cfg.posteriors)
    best, rows = grid_search(dev, cfg.lm, cfg.decoder, cfg.alphas, cfg.betas, cfg.beam_size,
                             cfg.num_threads, verbose=True)
    result = {"alpha": best["alpha"], "beta": best["beta"], "wer": best["wer"],
              "decoder": cfg.decoder, "beam_size": cfg.beam_size, "lm": str(cfg.lm),
              "utterances": len(dev.ids), "grid": rows}
    atomic_write_text(cfg.out, json.dumps(result, indent=2) + "\n")
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ctc tune-lm", description=__doc__)
    p.add_argument("--posteriors", type=Path, required=True, help="dev posteriors dump (.pt)")
    p.add_argument("--lm", type=Path, required=True, help="ARPA word LM")
    p.add_argument("--out", type=Path, required=True, help="where to write the tuned JSON")
    p.add_argument("--decoder", default="ours", choices=[b for b in BACKENDS if b != "greedy"])
    p.add_argument("--alpha-grid", type=float, nargs="+", default=DEFAULT_ALPHAS)
    p.add_argument("--beta-grid", type=float, nargs="+", default=DEFAULT_BETAS)
    p.add_argument("--beam-size", type=int, default=DEFAULTS.beam_size,
                   help=f"beam width (default {DEFAULTS.beam_size})")
    p.add_argument("--num-threads", type=int, default=DEFAULTS.num_threads, help="0: all cores")
    return p


@cli_entry("ctc")
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = TuneConfig(args.posteriors, args.lm, args.out, args.decoder, args.alpha_grid,
                     args.beta_grid, args.beam_size, args.num_threads)
    result = run(cfg)
    print(f"best alpha {result['alpha']} beta {result['beta']} WER {100 * result['wer']:.2f}% "
          f"-> {cfg.out}")
    return 0
