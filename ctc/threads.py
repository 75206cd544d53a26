"""How many intra-op threads to use: the cores that are free now, not all the cores.

torch starts one intra-op thread per core. Its parallel regions end in a barrier, so when
another process keeps a core busy, every region waits for the thread that shares that core
with it, and a run slows down far more than in proportion to the core it lost: ``asr
transcribe`` of a one-hour file took 35.5 s with one thread and 112 s with two while the other
core was busy. ``tools/bench_threads.py`` measures it (a 3x256 BiLSTM forward; 2 cores, see the
README): with the other cores busy, two threads were 10-22x slower than one (while two other
processes trained on the machine), yet on an idle machine two threads are faster than one.

``intra_op_threads()`` counts the cores this process may use (CPU affinity, cgroup quota) and
subtracts those that other processes keep busy, sampled from ``/proc/stat`` over a short window
(Linux; elsewhere the one-minute load average). ``CAROUSEL_THREADS`` overrides it, and so does
``OMP_NUM_THREADS`` (torchrun sets it to 1 for each of its processes). The commands call
``use_threads(requested)`` once at their start: ``--threads N`` or ``train.threads`` when given.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from ctc.errors import InputError

ENV = "CAROUSEL_THREADS"
OMP_ENV = "OMP_NUM_THREADS"


def use_threads(requested: int = 0) -> int:
    """Set torch's intra-op threads: ``requested`` when positive, else ``intra_op_threads()``.
    Returns the count set."""
    import torch

    count = requested if requested > 0 else intra_op_threads()
    torch.set_num_threads(count)
    return count


def intra_op_threads(window: float = 0.1, busy_threshold: float = 0.5) -> int:
    """Intra-op threads for this process: ``CAROUSEL_THREADS`` if set, else ``OMP_NUM_THREADS``
    if set, else the usable cores minus the cores other processes keep busy (a core counts as
    busy from ``busy_threshold`` of its time in the last ``window`` seconds); at least 1.

    Raises:
        InputError (a ValueError): ``CAROUSEL_THREADS`` or ``OMP_NUM_THREADS`` is set but not a
            positive integer.
    """
    for name in (ENV, OMP_ENV):
        explicit = os.environ.get(name, "").strip()
        if explicit:
            if not explicit.isdigit() or int(explicit) < 1:
                raise InputError(f"{name} must be a positive integer, got {explicit!r}")
            return int(explicit)
    cores = usable_cores()
    if cores <= 1:
        return 1
    busy = busy_cores(window)
    taken = math.floor(busy + (1.0 - busy_threshold))  # busy_threshold of a core counts as one
    return max(1, cores - taken)


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def busy_cores(window: float = 0.1) -> float:
    """Cores' worth of time other processes spent running during the next ``window`` seconds,
    over the CPUs this process may use (this process sleeps meanwhile, so it counts nothing).
    From ``/proc/stat``; elsewhere the one-minute load average; 0 when neither is available."""
    cpus = _affinity()
    before = _cpu_times(cpus)
    if before is None:
        try:
            return float(os.getloadavg()[0])
        except (AttributeError, OSError):
            return 0.0
    time.sleep(window)
    after = _cpu_times(cpus)
    if after is None:
        return 0.0
    busy = 0.0
    for cpu, (total0, idle0) in before.items():
        total1, idle1 = after.get(cpu, (total0, idle0))
        if total1 > total0:
            busy += 1.0 - (idle1 - idle0) / (total1 - total0)
    return busy


def _affinity() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _cpu_times(cpus: set[int] | None) -> dict[int, tuple[int, int]] | None:
    """``{cpu: (total jiffies, idle + iowait jiffies)}`` from /proc/stat, or None."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    times = {}
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        cpu = int(name[3:])
        if cpus is not None and cpu not in cpus:
            continue
        values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
        times[cpu] = (sum(values), values[3] + values[4])
    return times or None


def _cgroup_quota() -> float | None:
    """Cores allowed by this process's cgroup CPU quota (v2 ``cpu.max`` or v1
    ``cpu.cfs_quota_us``), or None when there is none."""
    try:
        entries = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    root = Path("/sys/fs/cgroup")
    for entry in entries:
        _, controllers, path = entry.split(":", 2)
        rel = path.lstrip("/")
        try:
            if controllers == "":  # v2
                quota, period = (root / rel / "cpu.max").read_text().split()[:2]
                return None if quota == "max" else int(quota) / int(period)
            if "cpu" in controllers.split(","):  # v1
                base = root / controllers / rel
                quota_us = int((base / "cpu.cfs_quota_us").read_text())
                period_us = int((base / "cpu.cfs_period_us").read_text())
                return None if quota_us <= 0 else quota_us / period_us
        except (OSError, ValueError):
            continue
    return None
