"""Benchmark: WER/CER scoring of a synthetic 100k-utterance set, ours against jiwer, same run.

    PYTHONPATH=. python tools/bench_score.py [--utterances 100000] [--report]

Prints the time of ``ctc.metrics.count_errors`` and of ``jiwer.process_words`` /
``jiwer.process_characters`` on the same texts, the ratio, and checks that the counts are equal.
With ``--report`` it also times the bootstrap interval and the full report (alignments, plots).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time

import jiwer

from ctc.metrics import count_errors
from ctc.metrics.bootstrap import bootstrap_interval
from ctc.metrics.errors import utterance_errors
from ctc.metrics.report import ScoredUtterance, write_report


def synthetic_corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` reference/hypothesis pairs: 1-40 words from a 5k vocabulary, ~15% word errors."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choices(letters, k=rng.randint(1, 9))) for _ in range(5000)]
    refs, hyps = [], []
    for _ in range(n):
        ref = rng.choices(vocab, k=rng.randint(1, 40))
        hyp = [w if rng.random() > 0.08 else rng.choice(vocab) for w in ref]
        for _ in range(rng.randint(0, 2)):
            if rng.random() < 0.5 and hyp:
                del hyp[rng.randrange(len(hyp))]
            else:
                hyp.insert(rng.randint(0, len(hyp)), rng.choice(vocab))
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return refs, hyps


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true", help="also time the full report")
    args = parser.parse_args(argv)

    refs, hyps = synthetic_corpus(args.utterances, args.seed)
    words = sum(len(r.split()) for r in refs)
    print(f"{len(refs)} utterances, {words} reference words")
    same = True
    for unit, peer in (("word", jiwer.process_words), ("char", jiwer.process_characters)):
        ours, t_ours = _timed(count_errors, refs, hyps, unit)
        theirs, t_jiwer = _timed(peer, refs, hyps)
        equal = ((ours.substitutions, ours.deletions, ours.insertions)
                 == (theirs.substitutions, theirs.deletions, theirs.insertions))
        same &= equal
        rate = theirs.wer if unit == "word" else theirs.cer
        print(f"{unit:>4}: ours {t_ours:6.2f} s  jiwer {t_jiwer:6.2f} s  "
              f"speed-up x{t_jiwer / t_ours:5.1f}  rate {100 * ours.rate:.3f}% "
              f"(jiwer {100 * rate:.3f}%)  counts equal: {equal}")

    if args.report:
        per = utterance_errors(refs, hyps, "word")
        _, t_boot = _timed(lambda: bootstrap_interval(per.errors, per.ref_length,
                                                      samples=1000, seed=0))
        print(f"bootstrap 95% CI, 1000 replicates x {len(refs)} utterances: {t_boot:.2f} s")
        results = [ScoredUtterance(f"u{i}", r, h, f"s{i % 50}")
                   for i, (r, h) in enumerate(zip(refs, hyps))]
        with tempfile.TemporaryDirectory() as out:
            _, t_report = _timed(lambda: write_report(results, out, title="bench"))
        print(f"full report (WER+CER, alignments.txt, plots): {t_report:.2f} s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
