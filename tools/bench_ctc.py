"""Benchmark: our compiled CTC loss against torch.nn.functional.ctc_loss, in the same run.

For each case (N utterances of T frames, targets of S labels, C classes) it times forward +
backward, on all available cores, of:

* ``ctc``:   log_probs (T, N, C) leaf -> CTC loss (mean) -> backward   (ours vs torch's op);
* ``fused``: logits leaf -> ours from logits, vs torch log_softmax + CTC -> backward.

Every measurement is a fresh process (``--procs`` of them per implementation, ours and torch's
interleaved so that a change of load hits both): one untimed call, whose peak memory is recorded
(the peak resident set size during it minus the resident size before it; Linux: reset through
/proc/self/clear_refs, elsewhere getrusage's maxrss, which can hide it), then timed calls, at
least ``--repeats`` of them and as many more as fit in ``--min-time`` seconds (a call of ours
takes 10-80 ms: three of them are at the mercy of one timer interrupt or one descheduling of a
thread), of which the process reports the median. A row prints the median over the processes
and their spread (min-max, and (max - min) / median for ours).

How steady the machine itself was: after every timed call the process also times a fixed
reference job (``ReferenceJob``: a 16 MiB copy and three 256x256 matrix products, about 2 ms,
memory and arithmetic like the loss) and reports its median. "machine" is the spread of that
median over ours' processes (on a virtual machine, neighbours share the cache and memory).
"norm." is the spread of ours' times each divided by its process's reference: what is left of
ours' spread once the machine's speed of the moment is taken out.

Before timing, the main process checks that loss and gradient agree with torch (max abs
difference printed).

The arithmetic limit of a case is its recursion cells (sum over utterances and frames of the
states a path can occupy, 2S + 1 at most) times 7 multiply-adds per cell (3 for alpha, 3 for
beta, 1 for their product), at the rate of double-precision FMAs this machine issues on the
same threads with the kernel's vector width (``ctc._C.fma_rate``, measured at the start);
"limit" is that time as a share of ours. For wide vocabularies the dense (T, N, C) part
(softmax, the gradient's memory traffic) is outside this limit and dominates.

On a shared machine, ``--quiet CORES`` waits before each row until other processes use fewer
than CORES cores (``ctc.threads.busy_cores``), and measures the row again (up to ``--attempts``
times) when they used more right after it.

    python tools/bench_ctc.py [--procs 5] [--repeats 3] [--min-time 1.0] [--cases 0,1,2,3,4]
                              [--threads N] [--quiet 0.15]
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
    (32, 800, 200, 32),    # characters
    (32, 400, 80, 1000),   # 1k BPE
    (8, 3000, 600, 32),    # long utterances, few of them
    (32, 400, 80, 5000),   # 5k BPE
    (64, 1600, 400, 32),   # a LibriSpeech-sized batch of characters
]
MADDS_PER_CELL = 7
MAX_CALLS = 200  # timed calls per process at most, whatever --min-time asks


def make_inputs(case: tuple[int, int, int, int], seed: int = 0):
    """Random logits (T, N, C) float32, padded targets (N, S), full lengths."""
    n, t, s, c = case
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(t, n, c, generator=gen) * 3
    targets = torch.randint(1, c, (n, s), generator=gen)
    return logits, targets, torch.full((n,), t), torch.full((n,), s)


def recursion_cells(frames: int, target: int) -> int:
    """States a complete path can occupy, summed over the frames of one utterance."""
    states = 2 * target + 1
    return sum(min(2 * t + 1, states - 1) - max(0, states - 2 * (frames - t)) + 1
               for t in range(frames))


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


class ReferenceJob:
    """A fixed job that reads the machine's speed of the moment: a 16 MiB copy (memory) and
    three 256x256 float32 matrix products (arithmetic), on the benchmark's threads."""

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(1)
        self.src = torch.randn(4 << 20, generator=gen)
        self.dst = torch.empty_like(self.src)
        self.a = torch.randn(256, 256, generator=gen)
        self.b = torch.randn(256, 256, generator=gen)
        self()

    def __call__(self) -> float:
        start = time.perf_counter()
        self.dst.copy_(self.src)
        for _ in range(3):
            torch.mm(self.a, self.b)
        return time.perf_counter() - start


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


def worker(impl: str, mode: str, case_index: int, repeats: int, min_time: float) -> dict:
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
    reference = ReferenceJob()
    times: list[float] = []
    reference_times: list[float] = []
    while len(times) < repeats or (sum(times) < min_time and len(times) < MAX_CALLS):
        start = time.perf_counter()
        step(impl, mode, x, targets, il, tl)
        times.append(time.perf_counter() - start)
        reference_times.append(reference())
    return {"median": statistics.median(times), "calls": len(times), "peak_mib": peak_kib / 1024,
            "reference": statistics.median(reference_times)}


def run_worker(impl: str, mode: str, case_index: int, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", impl, mode, str(case_index),
           "--repeats", str(args.repeats), "--min-time", str(args.min_time),
           "--threads", str(args.threads)]
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


def wait_until_quiet(cores: float) -> float:
    """Block until other processes use fewer than ``cores`` cores over 3 s; returns that use."""
    from ctc.threads import busy_cores

    while (busy := busy_cores(3.0)) >= cores:
        time.sleep(10.0)
    return busy


def measure_row(case_index: int, mode: str, args: argparse.Namespace) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {"torch": [], "ours": []}
    for _ in range(args.procs):  # interleaved: a change of load hits both
        for impl in runs:
            runs[impl].append(run_worker(impl, mode, case_index, args))
    return runs


def _spread(values: list[float]) -> float:
    """(max - min) / median."""
    return (max(values) - min(values)) / statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=5, help="fresh processes per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per process, at least")
    parser.add_argument("--min-time", type=float, default=1.0, metavar="SECONDS",
                        help="more timed calls per process until they add up to this "
                        f"(at most {MAX_CALLS})")
    parser.add_argument("--cases", default=",".join(str(i) for i in range(len(CASES))))
    parser.add_argument("--modes", default="ctc,fused")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quiet", type=float, default=None, metavar="CORES",
                        help="before each row, wait until other processes use fewer cores")
    parser.add_argument("--attempts", type=int, default=3,
                        help="with --quiet: measurements of a row disturbed by other processes")
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "MODE", "CASE"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.worker:
        impl, mode, case_index = args.worker
        print(json.dumps(worker(impl, mode, int(case_index), args.repeats, args.min_time)))
        return 0

    from ctc._ext import load_extension
    from ctc.threads import busy_cores

    if args.quiet is not None:
        wait_until_quiet(args.quiet)
    fma_rate = load_extension().fma_rate(args.threads, 1.0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} threads, float32; each time the median over "
          f"{args.procs} fresh processes (each: the median of at least {args.repeats} "
          f"forward+backward calls, as many as fit in {args.min_time:g} s, after one untimed "
          f"call), [min-max] of the processes")
    print(f"arithmetic limit at {fma_rate / 1e9:.1f} G double FMA/s ({args.threads} threads, "
          f"measured), {MADDS_PER_CELL} multiply-adds per recursion cell; load average "
          f"{load:.2f} at the start")
    header = (f"{'case (N,T,S,C)':<20} {'mode':<5} {'torch s [min-max]':>22} "
              f"{'ours s [min-max]':>22} {'spread':>7} {'machine':>7} {'norm.':>6} "
              f"{'speed-up':>8} {'limit':>6} "
              f"{'torch MiB':>9} {'ours MiB':>8} {'|dloss|':>8} {'|dgrad|':>8}")
    print(header)
    print("-" * len(header))
    for case_index in (int(i) for i in args.cases.split(",")):
        n, t, s, _ = CASES[case_index]
        limit_s = n * recursion_cells(t, s) * MADDS_PER_CELL / fma_rate
        for mode in args.modes.split(","):
            dloss, dgrad = max_abs_diff(case_index, mode)
            for attempt in range(1, args.attempts + 1):
                if args.quiet is not None:
                    wait_until_quiet(args.quiet)
                runs = measure_row(case_index, mode, args)
                if args.quiet is None or (after := busy_cores(2.0)) < args.quiet:
                    break
                print(f"  (other processes used {after:.2f} cores right after this row: "
                      f"{'measuring it again' if attempt < args.attempts else 'kept'})")
            times = {impl: [r["median"] for r in rs] for impl, rs in runs.items()}
            med = {impl: statistics.median(v) for impl, v in times.items()}
            mib = {impl: statistics.median(r["peak_mib"] for r in rs) for impl, rs in runs.items()}
            spread = _spread(times["ours"])
            machine = _spread([r["reference"] for r in runs["ours"]])
            norm = _spread([r["median"] / r["reference"] for r in runs["ours"]])
            cols = {impl: f"{med[impl]:.4f} [{min(v):.4f}-{max(v):.4f}]"
                    for impl, v in times.items()}
            print(f"{CASES[case_index]!s:<20} {mode:<5} {cols['torch']:>22} {cols['ours']:>22} "
                  f"{100 * spread:>6.0f}% {100 * machine:>6.0f}% {100 * norm:>5.0f}% "
                  f"{med['torch'] / med['ours']:>7.1f}x "
                  f"{100 * limit_s / med['ours']:>5.1f}% {mib['torch']:>9.1f} {mib['ours']:>8.1f} "
                  f"{dloss:>8.1e} {dgrad:>8.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
