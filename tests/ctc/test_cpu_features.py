"""ctc.cpu_features: the CPU flags read from /proc/cpuinfo."""

from __future__ import annotations

from ctc.cpu_features import cpu_flags, cpu_has_native_bf16

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse2 avx2 avx512f avx512bw {extra}
bugs\t\t: sysret_ss_attrs

processor\t: 1
flags\t\t: fpu sse2
"""


def _cpuinfo(tmp_path, name: str, text: str):
    """A cpuinfo file of its own name (``cpu_flags`` caches by path)."""
    path = tmp_path / f"cpuinfo-{name}"
    path.write_text(text)
    return path


def test_native_bf16_needs_avx512_bf16_or_amx(tmp_path):
    for extra, native in (("avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512vl", False)):
        path = _cpuinfo(tmp_path, extra.split()[0], X86.format(extra=extra))
        assert cpu_has_native_bf16(path) is native, extra
        assert "avx512f" in cpu_flags(path) and "bugs" not in cpu_flags(path)


def test_unreadable_or_flagless_cpuinfo_knows_nothing(tmp_path):
    assert cpu_flags(tmp_path / "missing") == frozenset()
    assert not cpu_has_native_bf16(_cpuinfo(tmp_path, "flagless",
                                            "processor\t: 0\nmodel name\t: x\n"))
    arm = _cpuinfo(tmp_path, "arm", "processor\t: 0\nFeatures\t: fp asimd\n")
    assert cpu_flags(arm) == frozenset({"fp", "asimd"})
