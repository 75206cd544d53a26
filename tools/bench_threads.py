"""Intra-op threads under load: inference time of a 3x256 BiLSTM with 1, 2 and the default
(``ctc.threads.intra_op_threads``) threads, on an idle machine and with other cores busy.

Each measurement is a fresh process: a conv2d/4 + 3x256 BiLSTM CTC model (80-dim features, 32
tokens) in eval mode without autograd runs ``--batches`` batches of ``--batch`` inputs of
``--frames`` frames (10 ms each; the recognizer's length-sorted batches of a long file look like
this); one untimed pass, then the median of ``--repeats`` timed passes, reported as seconds per
hour of audio. In the "busy" condition ``--busy`` processes spinning in Python (default: all
cores but one) start before the measurement and run throughout. The default thread count is
decided in the measuring process at its start, as a command would; the time that takes is
printed too.

    python tools/bench_threads.py [--frames 1500] [--batch 8] [--batches 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctc.threads import busy_cores, intra_op_threads, usable_cores

SPIN = "while True:\n    pass\n"


def worker(threads: str, frames: int, batch: int, batches: int, repeats: int) -> dict:
    start = time.perf_counter()
    count = intra_op_threads() if threads == "default" else int(threads)
    decide_s = time.perf_counter() - start
    import torch

    from ctc.models import ModelConfig, build_model

    torch.set_num_threads(count)
    torch.manual_seed(0)
    model = build_model(ModelConfig(frontend="conv2d", input_dim=80, layers=3, hidden=256),
                        vocab_size=32).eval()
    gen = torch.Generator().manual_seed(0)
    inputs = [(torch.randn(batch, frames, 80, generator=gen), torch.full((batch,), frames))
              for _ in range(batches)]

    def one_pass() -> float:
        begin = time.perf_counter()
        with torch.inference_mode():
            for x, lengths in inputs:
                model(x, lengths)
        return time.perf_counter() - begin

    one_pass()
    seconds = statistics.median(one_pass() for _ in range(repeats))
    audio_s = batches * batch * frames * 0.01
    return {"threads": count, "decide_s": decide_s, "pass_s": seconds,
            "per_hour_s": seconds * 3600 / audio_s}


def measure(threads: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", threads, "--frames", str(args.frames),
           "--batch", str(args.batch), "--batches", str(args.batches),
           "--repeats", str(args.repeats)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=max(1, usable_cores() - 1),
                        help="spinning processes in the busy condition")
    parser.add_argument("--worker", metavar="THREADS")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.frames, args.batch, args.batches,
                                args.repeats)))
        return 0

    cores = usable_cores()
    print(f"{cores} usable cores; 3x256 BiLSTM forward, {args.batches} batches of {args.batch} x "
          f"{args.frames} frames; median of {args.repeats} passes, fresh process each")
    print(f"{'condition':<28} {'threads':>8} {'s per audio hour':>17} {'vs best':>8} "
          f"{'decided in':>11}")
    for condition in ("idle", "busy"):
        spinners = []
        if condition == "busy":
            spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
            time.sleep(1.0)
        try:
            others = busy_cores(0.5)
            label = (f"{condition} (others use {others:.2f} cores)" if condition == "idle" else
                     f"busy: {args.busy} spinning ({others:.2f} cores)")
            results = [measure(threads, args) for threads in ("1", "2", "default")]
        finally:
            for proc in spinners:
                proc.kill()
                proc.wait()
        best = min(r["per_hour_s"] for r in results)
        for name, result in zip(("1", "2", "default"), results):
            shown = name if name != "default" else f"default={result['threads']}"
            decided = f"{1000 * result['decide_s']:.0f} ms" if name == "default" else ""
            print(f"{label:<28} {shown:>8} {result['per_hour_s']:>17.1f} "
                  f"{result['per_hour_s'] / best:>7.2f}x {decided:>11}", flush=True)
            label = ""
    return 0


if __name__ == "__main__":
    sys.exit(main())
