"""The Asterisk recipe's TRAIN_SPEAKERS option: its domain and the one-line errors of the core
speaker's training set (stage 4 stops before any training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ["bash", str(ROOT / "recipes/asterisk/run.sh"), "LANG=es"]


def run_stage4(tmp_path: Path, train: str | None, dev: str | None,
               speakers: str = "core") -> subprocess.CompletedProcess:
    manifests = tmp_path / "manifests"
    manifests.mkdir(exist_ok=True)
    for name, text in (("train", train), ("dev", dev)):
        if text is not None:
            (manifests / f"{name}.jsonl").write_text(text, encoding="utf-8")
    env = dict(os.environ, PYTHON=sys.executable, MANIFESTS=str(manifests),
               EXP=str(tmp_path / "exp"), TRAIN_SPEAKERS=speakers)
    return subprocess.run([*RECIPE, "--stage", "4", "--stop-stage", "4"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def record(utt: str, speaker: str) -> str:
    return json.dumps({"id": utt, "speaker": speaker}) + "\n"


def test_unknown_value_is_refused(tmp_path):
    proc = run_stage4(tmp_path, record("a", "101"), record("b", "101"), speakers="both")
    assert proc.returncode != 0
    assert "TRAIN_SPEAKERS=both: choose all or core" in proc.stderr
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("train, dev, message", [
    (record("a", "102"), record("b", "101"),
     "no utterance of {m}/train.jsonl is by a speaker of {m}/dev.jsonl"),
    (record("a", "101") + "not json\n", record("b", "101"),
     "{m}/train.jsonl:2: not a JSON manifest record"),
    (record("a", "101"), None, "cannot read {m}/dev.jsonl (No such file or directory)"),
])
def test_core_set_errors_name_the_file_and_line(tmp_path, train, dev, message):
    proc = run_stage4(tmp_path, train, dev)
    assert proc.returncode != 0
    expected = "TRAIN_SPEAKERS=core: " + message.format(m=tmp_path / "manifests")
    assert expected in proc.stderr.splitlines(), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "exp" / "train-core.jsonl").exists()
