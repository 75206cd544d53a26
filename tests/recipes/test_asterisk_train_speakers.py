"""The Asterisk recipe's speaker options: TRAIN_SPEAKERS (its domain and the one-line errors of
the core speaker's training set; stage 4 stops before any training) and PRETRAIN_OTHER_SPEAKERS
(its domain, the pretraining set it writes and its errors; stage 3 with a stand-in trainer)."""

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


def assert_one_line_error(proc: subprocess.CompletedProcess, expected: str,
                          not_written: Path) -> None:
    """The recipe failed with `expected` as one line of stderr, before any training and
    without writing `not_written`."""
    assert proc.returncode != 0
    assert expected in proc.stderr.splitlines(), proc.stderr
    assert "Traceback" not in proc.stderr and "stand-in" not in proc.stderr
    assert not not_written.exists()


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
    (record("a", "101"), None, "{m}/dev.jsonl: no such file"),
])
def test_core_set_errors_name_the_file_and_line(tmp_path, train, dev, message):
    proc = run_stage4(tmp_path, train, dev)
    assert_one_line_error(proc, "TRAIN_SPEAKERS=core: " + message.format(m=tmp_path / "manifests"),
                          tmp_path / "exp" / "train-core.jsonl")


def run_stage3(tmp_path: Path, train: str | bytes, dev: str | None, espeak: str | None = None,
               **variables: str) -> subprocess.CompletedProcess:
    """Stage 3 with PRETRAIN_OTHER_SPEAKERS=1 and a stand-in trainer: PYTHON runs the recipe's
    scripts, and `-m MODULE` (asr train) only says it was called."""
    manifests = tmp_path / "manifests"
    manifests.mkdir(exist_ok=True)
    if isinstance(train, bytes):  # a manifest in another encoding
        (manifests / "train.jsonl").write_bytes(train)
    else:
        (manifests / "train.jsonl").write_text(train, encoding="utf-8")
    if dev is not None:
        (manifests / "dev.jsonl").write_text(dev, encoding="utf-8")
    if espeak is None:
        espeak = record("e1", "espeak") + record("e2", "espeak")
    (tmp_path / "espeak" / "manifests").mkdir(parents=True, exist_ok=True)
    (tmp_path / "espeak" / "manifests" / "train-espeak.jsonl").write_text(espeak)
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nif [ "$1" = -m ]; then echo "stand-in $*" >&2; exit 0; fi\n'
                      f'exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    env = dict(os.environ, PYTHON=str(python), MANIFESTS=str(manifests),
               ESPEAK_ROOT=str(tmp_path / "espeak"), EXP=str(tmp_path / "exp"))
    env.update({"PRETRAIN": "espeak", "TRAIN_SPEAKERS": "core",
                "PRETRAIN_OTHER_SPEAKERS": "1", **variables})
    return subprocess.run([*RECIPE, "--stage", "3", "--stop-stage", "3"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("variables, message", [
    ({"PRETRAIN_OTHER_SPEAKERS": "2"}, "PRETRAIN_OTHER_SPEAKERS=2: choose 0 or 1"),
    ({"TRAIN_SPEAKERS": "all"},
     "PRETRAIN_OTHER_SPEAKERS=1 needs TRAIN_SPEAKERS=core (else stage 4 trains on them too)"),
    ({"PRETRAIN": "none"}, "PRETRAIN_OTHER_SPEAKERS=1 needs PRETRAIN=espeak"),
])
def test_pretrain_other_speakers_refused_settings(tmp_path, variables, message):
    proc = run_stage3(tmp_path, record("a", "102"), record("b", "101"), **variables)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "stand-in" not in proc.stderr and not (tmp_path / "exp").exists()


def test_pretrain_other_speakers_joins_the_pretraining_set(tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text(record("o1", "201"))
    train = record("a1", "101") + record("b1", "102") + record("a2", "101") + record("b2", "102")
    proc = run_stage3(tmp_path, train, record("d", "101"), PRETRAIN_REAL=str(other),
                      PRETRAIN_REAL_REPEAT="3")
    assert proc.returncode == 0, proc.stderr
    assert "stand-in -m asr.cli train" in proc.stderr
    pretrain_set = tmp_path / "exp" / "pretrain" / "train-pretrain.jsonl"
    records = [json.loads(line) for line in pretrain_set.read_text().splitlines()]
    assert [(r["id"], r["speaker"]) for r in records] == [
        ("e1", "espeak"), ("e2", "espeak"),
        *[(f"real0.{k}-o1", "real0-201") for k in range(3)],
        *[(f"own.{k}-{u}", "own-102") for k in range(3) for u in ("b1", "b2")]]
    assert f"--train {pretrain_set}" in proc.stderr
    assert "2 utterances of this language's other speakers; 3x each" in proc.stdout


@pytest.mark.parametrize("train, dev, message", [
    (record("a", "101"), record("b", "101"),
     "every utterance of {m}/train.jsonl is by a speaker of {m}/dev.jsonl"),
    (record("a", "102") + "[1]\n", record("b", "101"),
     "{m}/train.jsonl:2: not a JSON manifest record"),
    (record("a", "102"), None, "{m}/dev.jsonl: no such file"),
    ((record("a", "102") + '{"id": "b", "text": "\xe9t\xe9"}\n').encode("latin-1"),
     record("b", "101"),
     "{m}/train.jsonl:2: not UTF-8 text (byte 0xe9 at column 22; convert the file, e.g. iconv "
     "-f latin1 -t utf-8)"),
])
def test_pretrain_other_speakers_errors_name_the_file_and_line(tmp_path, train, dev, message):
    proc = run_stage3(tmp_path, train, dev)
    expected = "PRETRAIN_OTHER_SPEAKERS=1: " + message.format(m=tmp_path / "manifests")
    assert_one_line_error(proc, expected, tmp_path / "exp" / "pretrain" / "train-pretrain.jsonl")


@pytest.mark.parametrize("real, message", [
    ("missing.jsonl", "PRETRAIN_REAL: {t}/missing.jsonl: no such file"),
    ("manifests/train.jsonl",
     "PRETRAIN_REAL: {t}/manifests/train.jsonl is this language's own training set"),
    ("espeak/manifests/train-espeak.jsonl",
     "ESPEAK_ROOT: {t}/espeak/manifests/train-espeak.jsonl:3: not a JSON manifest record"),
])
def test_pretrain_set_errors_name_the_file(tmp_path, real, message):
    espeak = record("e1", "espeak") + record("e2", "espeak")
    if real.startswith("espeak/"):  # the espeak-ng manifest is broken, the real one is fine
        espeak += "{not json\n"
        (tmp_path / "other.jsonl").write_text(record("o1", "201"))
        real = "other.jsonl"
    proc = run_stage3(tmp_path, record("a", "102"), record("b", "101"), espeak=espeak,
                      PRETRAIN_REAL=str(tmp_path / real), PRETRAIN_OTHER_SPEAKERS="0")
    assert_one_line_error(proc, message.format(t=tmp_path),
                          tmp_path / "exp" / "pretrain" / "train-pretrain.jsonl")
