"""tools/bench_recognize.py runs and prints one row per batch size (no timing is asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import bench_recognize


def test_bench_prints_rows(capsys):
    assert bench_recognize.main(["--lines", "3", "--height", "16", "--batch-sizes", "1", "4",
                                 "--repeats", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["1", "4"]
    assert rows[1].split("|")[3].strip() == "1.00"
