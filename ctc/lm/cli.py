"""``ctc lm``: build a word n-gram LM (modified Kneser-Ney, ARPA) and query its perplexity."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

from ctc.errors import InputError, cli_entry
from ctc.io import read_text_lines
from ctc.lm.arpa import read_arpa, write_arpa
from ctc.lm.kneser_ney import estimate, read_sentences


@dataclass
class BuildConfig:
    """``text``: corpus, one sentence per line; ``order``: n-gram order (>= 2 for KenLM);
    ``prune``: per-order count thresholds as lmplz's --prune (first entry must be 0)."""

    text: Path
    out: Path
    order: int = 4
    prune: list[int] = field(default_factory=list)
    discount_fallback: bool = True


def _read_corpus(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise InputError(f"corpus not found: {path}")
    return read_sentences(line for _, line in read_text_lines(path))


def run_build(cfg: BuildConfig) -> dict:
    """Estimate the model and write it; returns the n-gram counts per order."""
    if cfg.order < 2:
        raise InputError(f"--order must be >= 2 (KenLM rejects unigram models), got {cfg.order}")
    if cfg.prune and cfg.prune[0] != 0:
        raise InputError("--prune: unigrams cannot be pruned; the first threshold must be 0")
    model = estimate(_read_corpus(cfg.text), cfg.order, cfg.prune, cfg.discount_fallback)
    write_arpa(model, cfg.out)
    return {f"{n}-grams": len(t) for n, t in enumerate(model.probs, start=1)}


def run_perplexity(lm: Path, text: Path) -> float:
    """Per-word perplexity (``</s>`` counted, as KenLM) of ``text`` under ``lm``."""
    model = read_arpa(lm)
    total, count = 0.0, 0
    for words in _read_corpus(text):
        total += model.sentence_score(words)
        count += len(words) + 1
    return math.exp(-total / max(count, 1))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctc lm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="estimate an interpolated modified Kneser-Ney ARPA LM")
    build.add_argument("--text", type=Path, required=True, help="corpus, one sentence per line")
    build.add_argument("--order", type=int, default=4)
    build.add_argument("--out", type=Path, required=True, help="output .arpa path")
    build.add_argument("--prune", type=int, nargs="*", default=[],
                       help="count thresholds per order, e.g. 0 0 1 (as lmplz --prune)")
    build.add_argument("--no-discount-fallback", action="store_true",
                       help="fail instead of using fallback discounts on tiny corpora")
    ppl = sub.add_parser("perplexity", help="perplexity of a text under an ARPA LM")
    ppl.add_argument("--lm", type=Path, required=True)
    ppl.add_argument("--text", type=Path, required=True)
    return parser


@cli_entry("ctc")
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        cfg = BuildConfig(args.text, args.out, args.order, args.prune,
                          not args.no_discount_fallback)
        sizes = run_build(cfg)
        print(f"wrote {cfg.out}: " + ", ".join(f"{v} {k}" for k, v in sizes.items()))
    else:
        print(f"perplexity {run_perplexity(args.lm, args.text):.3f}")
    return 0
