"""Benchmark CTC decoders on the same posteriors and LM: WER and ms per utterance.

Compares greedy, ours (compiled prefix beam search), pyctcdecode and flashlight-text's lexicon
decoder at several beams, single thread and all threads, after tuning alpha/beta of each on dev
with the same budget at each beam (a 6 x 6 grid, then a 3 x 3 refinement around its best point),
as ``ctc tune-lm --beam-size`` does for the beam a user decodes with (``--tune-beam N`` tunes
once at beam N instead). For each beam, a paired bootstrap
over test utterances (Bisani & Ney 2004) gives ours minus the best peer's WER with its 95%
interval, so that a difference of a few words is not read as a win or a loss.

Inputs: posteriors dumps from ``evaluate`` (``--dev``, ``--test``, ``--lm``), or by default
synthetic character posteriors from a random word-bigram source with an LM built by our own
Kneser-Ney builder from text of the same source (``--work`` caches them).

    python tools/bench_decode.py                       # synthetic
    python tools/bench_decode.py --dev dev.pt --test test.pt --lm lm.arpa
    python tools/bench_decode.py ... --tuned-from out.json   # reuse alpha/beta, time again

Times are the median of ``--repeats`` runs, each with a freshly built decoder (cold caches),
after one untimed run of the same kind (the process's first use of threads costs extra).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctc.decode import make_decoder
from ctc.decode.posteriors import Posteriors, load_posteriors, pad
from ctc.decode.synthetic import SentenceSource, char_posteriors, char_tokens
from ctc.decode.tune_cli import grid_search
from ctc.io import atomic_write_text
from ctc.metrics.bootstrap import paired_bootstrap
from ctc.metrics.errors import count_errors, utterance_errors

# the same budget per decoder: a 6 x 6 grid, then a 3 x 3 refinement around its best point
# (half-way to the neighbouring grid points, or one step further out where the best point is on
# the grid's edge); 44 decodes of dev per decoder and beam. flashlight's lm_weight multiplies
# log10 scores (hence smaller alphas) and its optimum word score is lower.
GRIDS = {
    "ours": ([0.3, 0.45, 0.6, 0.8, 1.0, 1.3], [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]),
    "pyctcdecode": ([0.3, 0.45, 0.6, 0.8, 1.0, 1.3], [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]),
    "flashlight": ([0.1, 0.2, 0.35, 0.5, 0.7, 1.0], [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]),
}


def _around(grid: list[float], value: float) -> list[float]:
    """The refinement points of one axis around ``value``, a point of ``grid``."""
    i = grid.index(value)
    below = (grid[i] - grid[i - 1]) / 2 if i > 0 else grid[1] - grid[0]
    above = (grid[i + 1] - grid[i]) / 2 if i + 1 < len(grid) else grid[-1] - grid[-2]
    return [round(value - below, 4), value, round(value + above, 4)]


def tune(dev: Posteriors, lm: Path, name: str, beam: int) -> dict:
    """Best (alpha, beta) on dev: the coarse grid, then the refinement around its best."""
    alphas, betas = GRIDS.get(name, GRIDS["ours"])
    best, rows = grid_search(dev, lm, name, alphas, betas, beam, num_threads=1)
    fine_a = [a for a in _around(alphas, best["alpha"]) if a > 0]
    fine_b = _around(betas, best["beta"])
    done = {(r["alpha"], r["beta"]) for r in rows}
    for alpha in fine_a:
        for beta in fine_b:
            if (alpha, beta) in done:
                continue
            point, _ = grid_search(dev, lm, name, [alpha], [beta], beam, num_threads=1)
            if point["wer"] < best["wer"]:
                best = point
    return best


def _synthetic(args: argparse.Namespace) -> tuple[Posteriors, Posteriors, Path]:
    from ctc.lm import estimate, write_arpa

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    source = SentenceSource(vocab_size=args.vocab, seed=args.seed)
    lm = work / f"synthetic_{args.vocab}_{args.lm_sentences}_o{args.order}.arpa"
    if not lm.is_file():
        start = time.perf_counter()
        text = source.sentences(args.lm_sentences, seed=args.seed + 1)
        write_arpa(estimate([s.split() for s in text], args.order), lm)
        print(f"built {lm} in {time.perf_counter() - start:.1f} s", flush=True)
    rng = np.random.default_rng(args.seed + 2)
    oov = SentenceSource(vocab_size=args.vocab + 500, seed=args.seed + 99).words
    oov = [w for w in oov if w not in set(source.words)]

    def make(count: int, seed: int) -> Posteriors:
        refs = []
        for sentence in source.sentences(count, seed=seed):
            words = [str(rng.choice(oov)) if rng.random() < args.oov_rate else w
                     for w in sentence.split()]
            refs.append(" ".join(words))
        items = [char_posteriors(r, rng, confusion=args.confusion) for r in refs]
        if args.temperature != 1.0:
            items = [_flatten(x, args.temperature) for x in items]
        log_probs, lengths = pad(items, 0)
        return Posteriors(char_tokens(), 0, " ", [f"{seed}-{i}" for i in range(count)], refs,
                          log_probs, lengths)

    return make(args.dev_size, args.seed + 3), make(args.test_size, args.seed + 4), lm


def _flatten(lp: np.ndarray, temperature: float) -> np.ndarray:
    x = lp / temperature
    x -= x.max(axis=1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=1, keepdims=True))).astype(np.float32)


def _timed(decoder, data: Posteriors) -> tuple[float, float, float, list[str]]:
    """WER, wall ms per utterance, this process's CPU ms per utterance (all its threads;
    pyctcdecode's forked workers are not counted), and the hypotheses."""
    start, cpu = time.perf_counter(), time.process_time()
    hyps = decoder(data.log_probs, data.lengths)
    ms = 1000 * (time.perf_counter() - start) / len(data.refs)
    cpu_ms = 1000 * (time.process_time() - cpu) / len(data.refs)
    texts = [h.text for h in hyps]
    return count_errors(data.refs, texts).rate, ms, cpu_ms, texts


def _compare_with_best_peer(test: Posteriors, hyps: dict[tuple[str, int], list[str]],
                            beams: list[int]) -> list[dict]:
    """Per beam: ours against the peer with the lowest test WER, by paired bootstrap."""
    out = []
    for beam in beams:
        if ("ours", beam) not in hyps:
            continue
        errors = {name: utterance_errors(test.refs, texts)
                  for (name, b), texts in hyps.items() if b == beam}
        peers = [n for n in errors if n != "ours"]
        if not peers:
            continue
        peer = min(peers, key=lambda n: (errors[n].total().rate, n))
        c = paired_bootstrap(errors[peer].errors, errors["ours"].errors,
                             errors["ours"].ref_length, samples=2000, seed=0)
        out.append({"beam": beam, "peer": peer, "ours": c.rate_b, "peer_wer": c.rate_a,
                    "delta": c.delta, "low": c.delta_low, "high": c.delta_high,
                    "prob_ours_better": c.prob_b_better})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dev", type=Path, help="dev posteriors dump (tuning)")
    p.add_argument("--test", type=Path, help="test posteriors dump (results)")
    p.add_argument("--lm", type=Path, help="ARPA LM (with --dev/--test)")
    p.add_argument("--decoders", nargs="+", default=["greedy", "ours", "pyctcdecode",
                                                     "flashlight"])
    p.add_argument("--beams", type=int, nargs="+", default=[10, 50, 100])
    p.add_argument("--tune-beam", type=int, default=None,
                   help="tune alpha/beta once at this beam (default: at each beam)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    p.add_argument("--tuned-from", type=Path,
                   help="take alpha/beta from an earlier --out JSON instead of tuning again")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed runs per row, each with a fresh decoder; the median is reported")
    p.add_argument("--work", default="exp/bench_decode", help="cache for the synthetic LM")
    p.add_argument("--vocab", type=int, default=2000)
    p.add_argument("--lm-sentences", type=int, default=20000)
    p.add_argument("--order", type=int, default=4)
    p.add_argument("--dev-size", type=int, default=100)
    p.add_argument("--test-size", type=int, default=200)
    p.add_argument("--confusion", type=float, default=0.04)
    p.add_argument("--oov-rate", type=float, default=0.01)
    p.add_argument("--temperature", type=float, default=1.0,
                   help=">1 flattens the synthetic posteriors")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the results as JSON")
    args = p.parse_args(argv)

    if args.dev or args.test:
        if not (args.dev and args.test and args.lm):
            p.error("--dev, --test and --lm go together")
        dev, test, lm = load_posteriors(args.dev), load_posteriors(args.test), args.lm
    else:
        dev, test, lm = _synthetic(args)
    frames = float(test.lengths.mean())
    print(f"dev {len(dev.refs)} utts, test {len(test.refs)} utts ({frames:.0f} frames on average),"
          f" LM {lm}", flush=True)
    kw = {"tokens": test.tokens, "blank": test.blank, "word_delimiter": test.word_delimiter}

    tuned: dict[tuple[str, int], tuple[float, float]] = {}
    names = [n for n in args.decoders if n != "greedy"]
    if args.tuned_from:
        previous = json.loads(args.tuned_from.read_text())["tuned"]
        for key, (alpha, beta) in previous.items():
            name, beam = key.rsplit("@", 1)
            tuned[name, int(beam)] = (alpha, beta)
        print(f"alpha/beta from {args.tuned_from}: {previous}", flush=True)
    for name in names:
        for beam in ([args.tune_beam] if args.tune_beam else args.beams):
            if (name, beam) in tuned:
                continue
            try:
                best = tune(dev, lm, name, beam)
            except Exception as err:  # a peer that is missing or broken is reported, not fatal
                print(f"{name}: skipped ({type(err).__name__}: {err})", flush=True)
                break
            tuned[name, beam] = (best["alpha"], best["beta"])
            print(f"{name}: beam {beam} tuned alpha {best['alpha']} beta {best['beta']} dev WER "
                  f"{100 * best['wer']:.2f}%", flush=True)

    def weights(name: str, beam: int) -> tuple[float, float] | None:
        return tuned.get((name, args.tune_beam or beam))

    rows = []
    hyps: dict[tuple[str, int], list[str]] = {}
    if "greedy" in args.decoders:
        wer, ms, cpu, _ = _timed(make_decoder("greedy", **kw), test)
        rows.append({"decoder": "greedy", "beam": 1, "threads": 1, "wer": wer, "ms": ms,
                     "cpu_ms": cpu})
    for beam in args.beams:
        for threads in args.threads:
            for name in names:
                if weights(name, beam) is None:
                    continue
                alpha, beta = weights(name, beam)
                runs = []
                for _ in range(args.repeats + 1):  # a fresh decoder each time: every run is cold
                    # pyctcdecode returns text only; the adapter's forced alignment (token
                    # frames) is not the peer's work, so it is left out of its time
                    extra = {"token_frames": False} if name == "pyctcdecode" else {}
                    dec = make_decoder(name, **kw, lm=lm, alpha=alpha, beta=beta,
                                       beam_size=beam, num_threads=threads, **extra)
                    runs.append(_timed(dec, test))
                runs = runs[1:]  # the first warms the process (threads' malloc arenas, pages)
                wer, _, _, texts = runs[0]
                ms = statistics.median(r[1] for r in runs)
                cpu = statistics.median(r[2] for r in runs)
                hyps.setdefault((name, beam), texts)
                rows.append({"decoder": name, "beam": beam, "threads": threads, "wer": wer,
                             "ms": ms, "cpu_ms": cpu, "alpha": alpha, "beta": beta})
                each = " ".join(f"{r[1]:.3f}" for r in runs)
                print(f"  {name:<12} beam {beam:>3} threads {threads}  WER {100 * wer:6.2f}%  "
                      f"{ms:8.2f} ms/utt  (CPU {cpu:8.2f} ms; runs {each})", flush=True)

    comparisons = _compare_with_best_peer(test, hyps, args.beams)
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; ratios = peer time /"
          " this row's time at the same beam and threads (wall; CPU in brackets)")
    print("| decoder | beam | threads | WER % | ms/utt wall | ms/utt CPU | vs pyctcdecode |"
          " vs flashlight |")
    print("|---|---|---|---|---|---|---|---|")
    index = {(r["decoder"], r["beam"], r["threads"]): r for r in rows}

    def ratio(peer: dict | None, row: dict) -> str:
        if not peer:
            return "-"
        return f"{peer['ms'] / row['ms']:.1f} ({peer['cpu_ms'] / max(row['cpu_ms'], 1e-9):.1f})"

    for r in rows:
        rp = ratio(index.get(("pyctcdecode", r["beam"], r["threads"])), r)
        rf = ratio(index.get(("flashlight", r["beam"], r["threads"])), r)
        print(f"| {r['decoder']} | {r['beam']} | {r['threads']} | {100 * r['wer']:.2f} | "
              f"{r['ms']:.2f} | {r['cpu_ms']:.2f} | {rp} | {rf} |")
    if comparisons:
        print("\nours - best peer, test WER points (paired bootstrap, 95% interval; "
              "P = probability that ours is better)")
        print("| beam | best peer | ours % | peer % | difference | 95% interval | P |")
        print("|---|---|---|---|---|---|---|")
        for c in comparisons:
            print(f"| {c['beam']} | {c['peer']} | {100 * c['ours']:.2f} | "
                  f"{100 * c['peer_wer']:.2f} | {100 * c['delta']:+.2f} | "
                  f"[{100 * c['low']:+.2f}, {100 * c['high']:+.2f}] | "
                  f"{c['prob_ours_better']:.2f} |")
    if args.out:
        table = {f"{name}@{beam}": ab for (name, beam), ab in tuned.items()}
        atomic_write_text(args.out, json.dumps({"tuned": table, "rows": rows,
                                                "comparisons": comparisons}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
