"""What the CPU's instruction set offers, for choices that depend on it (bf16 training).

Linux only (``/proc/cpuinfo``); elsewhere nothing is known and every question answers False.
"""

from __future__ import annotations

import functools
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# AVX-512 BF16 (Cooper Lake, Zen 4 and later) and AMX-BF16 (Sapphire Rapids and later): the
# instructions oneDNN uses for bf16 matrix products; without them bf16 is emulated.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=1)
def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of the first processor listed in ``cpuinfo`` (empty when unreadable)."""
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True when the CPU multiplies bf16 matrices in hardware (see ``NATIVE_BF16_FLAGS``)."""
    return bool(cpu_flags(cpuinfo) & NATIVE_BF16_FLAGS)
