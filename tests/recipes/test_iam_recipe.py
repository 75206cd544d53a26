"""Slow: the IAM recipe end to end on a tiny generated corpus (stages 0-5) with a tiny CONFIG,
then a rerun under the deprecated variable names (IAM_ROOT, DATA, CONF) that skips every stage,
and --force of the report stage."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ["bash", str(ROOT / "recipes/iam/run.sh")]
STAGES = ["synth", "prepare", "lm", "train", "evaluate", "report"]

TINY = """\
frontend: {height: 24, augment: false}
model: {frontend: line_cnn, cnn_channels: [8, 16], cnn_pooled: 2, layers: 1, hidden: 32}
optim: {lr: 0.003, warmup_steps: 5}
train: {epochs: 2, device: cpu, progress: false, ctc_impl: torch, keep_best: 1,
        average_last: 0, checkpoint_every: 0}
data: {max_frames: 4000}
"""

pytestmark = pytest.mark.slow


def _fonts_installed() -> bool:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import synth_iam
    finally:
        sys.path.pop(0)
    families = {synth_iam.font_family(f) for f in synth_iam.list_font_files()}
    return {*synth_iam.TEST_FAMILIES, *synth_iam.DEV_FAMILIES} <= families and len(families) > 4


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    if not _fonts_installed():
        pytest.skip("Debian handwriting fonts not installed")
    work = tmp_path_factory.mktemp("iam")
    (work / "tiny.yaml").write_text(TINY)
    env = dict(os.environ, PYTHON=sys.executable, CORPUS_ROOT=str(work / "corpus"),
               MANIFESTS=str(work / "manifests"), CONFIG=str(work / "tiny.yaml"),
               EXP=str(work / "exp"), SYNTH_TRAIN="30", SYNTH_DEV="4", SYNTH_TEST="4",
               SYNTH_LM_SENTENCES="200", NJ="2", BEAM="8", ALPHA_GRID="0.5 1.0",
               BETA_GRID="0.0 2.0", OMP_NUM_THREADS="1")
    proc = subprocess.run(RECIPE, env=env, capture_output=True, text=True, timeout=1500,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, proc


def test_recipe_runs_all_stages(recipe_run):
    work, _ = recipe_run
    exp = work / "exp"
    assert sorted(p.name for p in (exp / ".done").iterdir()) == [
        f"stage{n}.{name}" for n, name in enumerate(STAGES)]
    assert (work / "manifests/test.jsonl").is_file() and (exp / "lm/4gram.arpa").is_file()
    results = (exp / "RESULTS.md").read_text()
    rates = r"\| [\d.]+ \| [\d.]+ \|"
    for title in ("test, greedy", "test, 4-gram LM", "valid, greedy"):
        assert re.search(rf"^\| {title} \| [^|]+ \| \d+ " + rates, results, re.M), results
    tuned = json.loads((exp / "lm_tuned.json").read_text())
    assert tuned["alpha"] in (0.5, 1.0) and tuned["beta"] in (0.0, 2.0)
    assert f"alpha {tuned['alpha']}, beta {tuned['beta']}" in results


def test_rerun_with_the_deprecated_names_skips_every_stage(recipe_run):
    work, _ = recipe_run
    exp = work / "exp"
    env = dict(os.environ, PYTHON=sys.executable, IAM_ROOT=str(work / "corpus"),
               DATA=str(work / "manifests"), CONF=str(work / "tiny.yaml"), EXP=str(exp))
    for name in ("CORPUS_ROOT", "MANIFESTS", "CONFIG"):
        env.pop(name, None)
    rerun = subprocess.run(RECIPE, env=env, capture_output=True, text=True, timeout=300,
                           check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("already done") == 6, rerun.stderr
    for old, new in (("IAM_ROOT", "CORPUS_ROOT"), ("DATA", "MANIFESTS"), ("CONF", "CONFIG")):
        assert f"WARNING: {old} is deprecated, use {new}" in rerun.stderr

    results = (exp / "RESULTS.md").read_text()
    (exp / "RESULTS.md").unlink()
    forced = subprocess.run([*RECIPE, "--stage", "5", "--force", f"EXP={exp}"],
                            env=dict(os.environ, PYTHON=sys.executable), capture_output=True,
                            text=True, timeout=300, check=False)
    assert forced.returncode == 0 and "stage 5 (report): collect" in forced.stderr
    assert (exp / "RESULTS.md").read_text() == results
