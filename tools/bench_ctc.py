"""Benchmark: our compiled CTC loss against torch.nn.functional.ctc_loss, in the same run.

For each case (N utterances of T frames, targets of S labels, C classes) it times forward +
backward, on all available cores, of:

* ``ctc``:   log_probs (T, N, C) leaf -> CTC loss (mean) -> backward   (ours vs torch's op);
* ``fused``: logits leaf -> ours from logits, vs torch log_softmax + CTC -> backward.

Each implementation runs in its own subprocess; its peak memory is the peak resident set size
during its first forward+backward minus the resident size before it (Linux: the peak is reset
through /proc/self/clear_refs; elsewhere getrusage's maxrss, which can hide it). Before timing,
the main process checks that loss and gradient agree with torch (max abs difference printed).

    python tools/bench_ctc.py [--repeats 5] [--cases 0,1,2] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

CASES = [  # (N, T, S, C)
    (32, 800, 200, 32),
    (32, 400, 80, 1000),
    (8, 3000, 600, 32),
]


def make_inputs(case: tuple[int, int, int, int], seed: int = 0):
    """Random logits (T, N, C) float32, padded targets (N, S), full lengths."""
    n, t, s, c = case
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(t, n, c, generator=gen) * 3
    targets = torch.randint(1, c, (n, s), generator=gen)
    return logits, targets, torch.full((n,), t), torch.full((n,), s)


def step(impl: str, mode: str, x: torch.Tensor, targets, il, tl) -> torch.Tensor:
    """One forward + backward; returns the gradient of the leaf ``x``."""
    from ctc.loss import ctc_loss, ctc_loss_from_logits

    x = x.detach().requires_grad_()
    if mode == "ctc":
        fn = ctc_loss if impl == "ours" else torch.nn.functional.ctc_loss
        loss = fn(x, targets, il, tl)
    elif impl == "ours":
        loss = ctc_loss_from_logits(x, targets, il, tl)
    else:
        loss = torch.nn.functional.ctc_loss(x.log_softmax(-1), targets, il, tl)
    loss.backward()
    return loss.detach(), x.grad


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current resident size
        return True
    except OSError:
        return False


def worker(impl: str, mode: str, case_index: int, repeats: int) -> dict:
    logits, targets, il, tl = make_inputs(CASES[case_index])
    x = logits.log_softmax(-1) if mode == "ctc" else logits
    if _reset_peak():
        before = _status_kib("VmRSS")
        step(impl, mode, x, targets, il, tl)
        peak_kib = _status_kib("VmHWM") - before
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        step(impl, mode, x, targets, il, tl)
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(impl, mode, x, targets, il, tl)
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "min": min(times), "peak_mib": peak_kib / 1024}


def run_worker(impl: str, mode: str, case_index: int, repeats: int, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", impl, mode, str(case_index),
           "--repeats", str(repeats), "--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def max_abs_diff(case_index: int, mode: str) -> tuple[float, float]:
    logits, targets, il, tl = make_inputs(CASES[case_index])
    x = logits.log_softmax(-1) if mode == "ctc" else logits
    ours_loss, ours_grad = step("ours", mode, x, targets, il, tl)
    torch_loss, torch_grad = step("torch", mode, x, targets, il, tl)
    if mode == "ctc":  # torch returns exp(lp) - occupancy, ours -occupancy: compare like with like
        ours_grad = ours_grad + x.exp() / (tl.clamp_min(1)[None, :, None] * tl.numel())
    return (abs(ours_loss - torch_loss).item(), (ours_grad - torch_grad).abs().max().item())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default=",".join(str(i) for i in range(len(CASES))))
    parser.add_argument("--modes", default="ctc,fused")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "MODE", "CASE"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.worker:
        impl, mode, case_index = args.worker
        print(json.dumps(worker(impl, mode, int(case_index), args.repeats)))
        return 0

    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.repeats} "
          "forward+backward runs (float32)")
    header = (f"{'case (N,T,S,C)':<22} {'mode':<6} {'torch s':>9} {'ours s':>9} {'speed-up':>9} "
              f"{'torch MiB':>10} {'ours MiB':>9} {'|dloss|':>9} {'|dgrad|':>9}")
    print(header)
    print("-" * len(header))
    for case_index in (int(i) for i in args.cases.split(",")):
        for mode in args.modes.split(","):
            dloss, dgrad = max_abs_diff(case_index, mode)
            theirs = run_worker("torch", mode, case_index, args.repeats, args.threads)
            ours = run_worker("ours", mode, case_index, args.repeats, args.threads)
            ratio = theirs["median"] / ours["median"]
            print(f"{CASES[case_index]!s:<22} {mode:<6} {theirs['median']:>9.4f} "
                  f"{ours['median']:>9.4f} {ratio:>8.1f}x {theirs['peak_mib']:>10.1f} "
                  f"{ours['peak_mib']:>9.1f} {dloss:>9.2e} {dgrad:>9.2e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
