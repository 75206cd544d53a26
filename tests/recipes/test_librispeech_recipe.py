"""Slow: the LibriSpeech recipe end to end on a tiny generated corpus (stages 0-5), then chunked
transcription of a trained BiLSTM against whole-file posteriors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")]


@pytest.fixture(scope="module")
def recipe_exp(tmp_path_factory):
    work = tmp_path_factory.mktemp("recipe")
    env = dict(os.environ, PYTHON=sys.executable, CORPUS_ROOT=str(work / "corpus"),
               EXP=str(work / "exp"), SYNTH_TRAIN="120", SYNTH_DEV="12", SYNTH_TEST="12",
               SYNTH_LM_SENTENCES="200", NJ="2", BEAM="8",
               TRAIN_ARGS="--set train.epochs=2 --set model.layers=2 --set model.hidden=64 "
                          "--set train.progress=false --set train.ctc_impl=torch")
    proc = subprocess.run(["bash", str(ROOT / "recipes/librispeech/run.sh")], env=env,
                          capture_output=True, text=True, timeout=1500, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "exp", proc


STAGES = ["synth", "prepare", "lm", "train", "evaluate", "report"]


def test_recipe_runs_all_stages_and_is_idempotent(recipe_exp):
    exp, _ = recipe_exp
    assert sorted(p.name for p in (exp / ".done").iterdir()) == [
        f"stage{n}.{name}" for n, name in enumerate(STAGES)]
    results = (exp / "RESULTS.md").read_text()
    rates = r"\| [\d.]+ \| [\d.]+ \|"
    assert re.search(r"^\| test-espeak, greedy \| greedy \| 12 " + rates, results, re.M), results
    assert re.search(r"^\| test-espeak, 3-gram LM \| ours [^|]+ \| 12 " + rates, results, re.M)
    assert re.search(r"^\| dev-espeak, greedy \(for tuning\) \| greedy \| 12 ", results, re.M)
    tuned = json.loads((exp / "lm_tuned.json").read_text())
    assert f"alpha {tuned['alpha']}, beta {tuned['beta']}" in results
    report = json.loads((exp / "decode/test-espeak-lm3/report.json").read_text())
    assert report["utterances"] == 12 and 0.0 <= report["wer"]["rate"] <= 2.0
    assert f"alpha={tuned['alpha']} beta={tuned['beta']}" in report["extra"]["decoder"]

    env = dict(os.environ, PYTHON=sys.executable, CORPUS_ROOT=str(exp.parent / "corpus"),
               EXP=str(exp))
    recipe = ["bash", str(ROOT / "recipes/librispeech/run.sh")]
    rerun = subprocess.run([*recipe, "--stage", "1"], env=env, capture_output=True, text=True,
                           timeout=300, check=False)
    assert rerun.returncode == 0 and rerun.stderr.count("already done") == 5, rerun.stderr
    (exp / "RESULTS.md").unlink()
    forced = subprocess.run([*recipe, "--stage", "5", "--force"], env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert forced.returncode == 0 and "already done" not in forced.stderr, forced.stderr
    assert (exp / "RESULTS.md").read_text() == results


def test_chunked_posteriors_match_whole_file_on_a_bilstm(recipe_exp):
    from asr.audio import iter_audio_blocks, load_audio
    from asr.transcribe import stitched_log_probs
    from ctc.data.manifest import read_manifest
    from ctc.recognizer import Recognizer

    exp, _ = recipe_exp
    rec = Recognizer.load(exp)
    record = max(read_manifest(exp / "manifests/test-espeak.jsonl"), key=lambda r: r.duration)
    whole, lengths = rec.log_probs([rec.featurizer.from_waveform(load_audio(record.path))])
    whole = whole[0, : int(lengths[0])]
    stitched = stitched_log_probs(rec, iter_audio_blocks(record.path, 16000, 0.5),
                                  chunk_seconds=1.0, context_seconds=1.0)
    assert stitched.shape == whole.shape
    diff = (stitched.exp() - whole.exp()).abs().max()
    assert float(diff) < 0.1
    assert torch.equal(stitched.argmax(-1), whole.argmax(-1)) or float(diff) < 0.02
