"""Fault injection (slow): training killed with SIGKILL at random moments, some of them in the
middle of a checkpoint write, and resumed each time. After every kill the saved state must load,
no temporary file may outlive the next start, the log must stay one consistent run, and the
final weights must equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]

OVERRIDES = ["train.ctc_impl=torch", "model.layers=2", "model.hidden=24", "model.dropout=0.3",
             "model.conv_channels=4", "model.subsampling=2", "optim.lr=1e-2",
             "optim.warmup_steps=3", "data.max_frames=100", "train.progress=false",
             "train.epochs=4", "train.checkpoint_every=1", "train.log_every=1",
             "train.average_last=2", "train.keep_best=2"]

SCRIPT = """
import os, random, signal, sys
from pathlib import Path
import ctc.checkpoint
from ctc.io import atomic_open
from ctc.train import load_config, run_training
from ctc.train.synthetic import SyntheticFeaturizer, synthetic_records

out, resume = Path(sys.argv[1]), sys.argv[2] == "resume"
chance = float(os.environ.get("KILL_IN_WRITE", "0"))
rng = random.Random(int(os.environ.get("KILL_SEED", "0")))
save = ctc.checkpoint.atomic_save


def save_or_die(state, path):
    if rng.random() < chance:  # die half-way through writing: the temporary file stays behind
        import torch
        with atomic_open(path, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            handle.truncate(handle.tell() // 2)
            os.kill(os.getpid(), signal.SIGKILL)
    save(state, path)


ctc.checkpoint.atomic_save = save_or_die
cfg = load_config(None, {overrides!r})
records = synthetic_records(20)
run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records[:4], out, resume=resume)
"""


def _start(script: Path, out: Path, seed: int, chance: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "KILL_IN_WRITE": str(chance), "KILL_SEED": str(seed)}
    mode = "resume" if (out / "last.pt").is_file() else "fresh"
    return subprocess.Popen([sys.executable, str(script), str(out), mode], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _log_is_one_run(out: Path) -> None:
    path = out / "train_log.jsonl"
    if not path.is_file():
        return
    steps = [json.loads(line)["step"] for line in path.read_text().splitlines()
             if line.strip() and json.loads(line)["kind"] == "train"]
    assert steps == list(range(1, len(steps) + 1)), steps  # each step once, in order


@pytest.mark.slow
def test_random_kills_and_resumes_end_where_an_uninterrupted_run_ends(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(overrides=OVERRIDES)))
    full, broken = tmp_path / "full", tmp_path / "broken"
    started = time.monotonic()
    proc = _start(script, full, 0, 0.0)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-2000:]
    whole = time.monotonic() - started  # kill times scale with this machine's speed

    rng = random.Random(1)
    kills = in_write = 0
    for attempt in range(40):
        chance = 0.25 if attempt % 2 else 0.0  # every other run may die inside a write
        proc = _start(script, broken, attempt, chance)
        try:
            proc.wait(timeout=rng.uniform(0.4, 0.9) * whole)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        stderr = proc.stderr.read()
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, stderr[-2000:]
        kills += 1
        in_write += bool(list(broken.glob(".*.tmp")))
        if (broken / "last.pt").is_file():
            torch.load(broken / "last.pt", weights_only=True)  # never a torn file
        time.sleep(0.05)
    else:
        pytest.fail("the run never finished")
    assert kills >= 3
    assert not list(broken.glob(".*.tmp")), "temporaries outlived a restart"
    _log_is_one_run(broken)
    a = torch.load(full / "last.pt", weights_only=True)
    b = torch.load(broken / "last.pt", weights_only=True)
    assert a["step"] == b["step"]
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], rtol=0, atol=1e-6,
                                   msg=name)
    for name in ("best.pt", "checkpoint_choice.json"):
        assert (broken / name).is_file()
    print(f"{kills} kills, {in_write} left a half-written temporary behind")
