"""The demo pipeline at toy size: corpora, LMs, training, evaluation, transcription (slow)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_demo_smoke_runs_end_to_end_and_reuses_its_work(tmp_path):
    out = tmp_path / "demo"
    cmd = [sys.executable, "tools/demo.py", "--size", "smoke", "--out", str(out), "--tick", "30"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500)
    assert first.returncode == 0, first.stderr[-3000:]
    results = (out / "RESULTS.md").read_text()
    for heading in ("## speech", "## handwriting", "### Held-out voice", "### Held-out font"):
        assert heading in results
    # greedy and LM rows for both modalities, each with numeric error rates
    rates = r"\| [\d.]+ \| [\d.]+ \|"
    decoding = r" \| [^|]+ \| "
    assert len(re.findall(r"\| test-espeak, (greedy|3-gram LM)" + decoding + "12 " + rates,
                          results)) == 2
    assert len(re.findall(r"\| test, (greedy|\d-gram LM)" + decoding + r"\d+ " + rates,
                          results)) == 2
    assert re.search(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", results), "no SRT timing"
    for exp in ("speech", "handwriting"):
        assert list((out / "exp" / exp).glob("*.pt")), f"no checkpoint for {exp}"

    # a rerun reuses every finished stage: no stage runs again
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    logs = (out / "logs/speech.log").read_text() + (out / "logs/handwriting.log").read_text()
    assert logs.count("already") >= 10, logs[-2000:]
