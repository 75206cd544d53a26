"""recipes/lib.sh, which both recipes source: arguments, stages and sentinels, --force, logging,
tuned weights, the results table; and both run.sh use the same variable names (fast: no
training, a throwaway recipe script)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "recipes/lib.sh"
RECIPES = [ROOT / "recipes/librispeech/run.sh", ROOT / "recipes/iam/run.sh"]

# the variables the two recipes share (issue 14): one name for one thing in both
SHARED = ["CORPUS", "CORPUS_ROOT", "CONFIG", "EXP", "MANIFESTS", "LM_ORDER", "LM_TEXT", "DECODER",
          "ALPHA", "BETA", "BEAM", "TUNE_LM", "ALPHA_GRID", "BETA_GRID", "DEVICE", "TRAIN_ARGS",
          "NJ", "SYNTH_TRAIN", "SYNTH_DEV", "SYNTH_TEST", "PYTHON"]

FAKE = """#!/usr/bin/env bash
# A throwaway recipe for the tests.
#
#   fake.sh [--stage N] [--stop-stage M] [--force] [VAR=value ...]
set -euo pipefail
. "{lib}"
recipe_init "$@"
GREETING="${{GREETING:-default}}"
echo "GREETING=$GREETING PYTHON=$PYTHON PWD=$PWD"
for n in 0 1 2; do
  if want_stage "$n" "step$n" "step number $n"; then
    echo "ran $n"
    if [ "${{FAIL:-}}" = "$n" ]; then exit 3; fi
    stage_done "$n" "step$n"
  fi
done
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A recipe script in tmp_path with stages 0-2 (stage FAIL=N fails)."""
    script = tmp_path / "fake.sh"
    script.write_text(FAKE.format(lib=LIB))
    return script


def run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """bash script args, with env added to the environment (PYTHON: this interpreter)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("GREETING", "FAIL")}
    environ.update({"PYTHON": sys.executable, **env})
    return subprocess.run(["bash", str(script), *args], env=environ, capture_output=True,
                          text=True, timeout=120, check=False)


def ran(proc: subprocess.CompletedProcess) -> list[int]:
    return [int(m) for m in re.findall(r"^ran (\d)$", proc.stdout, re.M)]


def test_stages_sentinels_rerun_and_force(fake, tmp_path):
    exp = tmp_path / "exp"
    first = run(fake, f"EXP={exp}")
    assert first.returncode == 0, first.stderr
    assert ran(first) == [0, 1, 2]
    assert sorted(p.name for p in (exp / ".done").iterdir()) == [
        "stage0.step0", "stage1.step1", "stage2.step2"]
    # one log line per stage start and end: date, time, script:line, message
    line = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\S*fake\.sh:\d+\) stage 1 \(step1\): "
                      r"step number 1$", re.M)
    assert line.search(first.stderr), first.stderr

    rerun = run(fake, f"EXP={exp}")
    assert rerun.returncode == 0 and ran(rerun) == []
    assert rerun.stderr.count("already done") == 3

    forced = run(fake, "--stage", "1", "--force", f"EXP={exp}")
    assert ran(forced) == [1, 2] and "already done" not in forced.stderr
    only = run(fake, "--stage=2", "--stop_stage", "2", "--force", f"EXP={exp}")
    assert ran(only) == [2]
    assert ran(run(fake, "--stop-stage", "0", "--force", f"EXP={exp}")) == [0]


def test_a_failed_forced_stage_is_not_left_marked_done(fake, tmp_path):
    exp = tmp_path / "exp"
    assert run(fake, f"EXP={exp}").returncode == 0
    failed = run(fake, "--force", "--stage", "1", f"EXP={exp}", FAIL="1")
    assert failed.returncode == 3 and ran(failed) == [1]
    assert not (exp / ".done/stage1.step1").exists()
    assert (exp / ".done/stage2.step2").exists()      # not reached: still done from before
    assert ran(run(fake, f"EXP={exp}")) == [1]


def test_sentinels_of_the_old_recipes_are_taken_over(fake, tmp_path):
    exp = tmp_path / "exp"
    (exp / ".done").mkdir(parents=True)
    (exp / ".done/stage0").touch()                    # old librispeech recipe
    (exp / ".stages").mkdir()
    (exp / ".stages/1.step1.done").touch()            # old IAM recipe
    proc = run(fake, f"EXP={exp}")
    assert ran(proc) == [2]
    assert sorted(p.name for p in (exp / ".done").iterdir()) == [
        "stage0.step0", "stage1.step1", "stage2.step2"]
    assert not (exp / ".stages").exists()


def test_arguments(fake, tmp_path):
    exp = tmp_path / "exp"
    proc = run(fake, "--stage", "9", "GREETING=hello world", f"EXP={exp}")
    assert proc.returncode == 0 and ran(proc) == []
    assert f"GREETING=hello world PYTHON={sys.executable} PWD={ROOT}" in proc.stdout
    assert "GREETING=from-env PYTHON=" in run(fake, "--stage", "9", GREETING="from-env").stdout
    help_text = run(fake, "--help").stdout
    assert help_text == ("A throwaway recipe for the tests.\n\n"
                         "  fake.sh [--stage N] [--stop-stage M] [--force] [VAR=value ...]\n")
    assert run(fake, "-h").stdout == help_text
    for bad in (["--stage"], ["--stage", "two"], ["--stop-stage=-1"], ["--frce"], ["1X=2"]):
        proc = run(fake, *bad)
        assert proc.returncode == 2 and "try --help" in proc.stderr, bad


def test_python_default_is_the_repository_venv(fake):
    environ = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    proc = subprocess.run(["bash", str(fake), "--stage", "9"], env=environ, capture_output=True,
                          text=True, timeout=60, check=False)
    venv = ROOT / ".venv/bin/python"
    expected = str(venv) if venv.exists() else "python3"
    assert f"PYTHON={expected} " in proc.stdout


def _source(tmp_path: Path, body: str, **env: str) -> subprocess.CompletedProcess:
    script = tmp_path / "snippet.sh"
    script.write_text(f'set -euo pipefail\n. "{LIB}"\nrecipe_init\n{body}\n')
    return run(script, **env)


def test_deprecated_variable_names(tmp_path):
    body = 'deprecated_var OLD NEW\ndeprecated_var GONE ALSO "x/${GONE:-}.y"\necho "$NEW $ALSO"'
    proc = _source(tmp_path, body, OLD="a", GONE="b")
    assert proc.stdout == "a x/b.y\n"
    assert "WARNING: OLD is deprecated, use NEW (now NEW=a)" in proc.stderr
    proc = _source(tmp_path, body, OLD="a", NEW="n", ALSO="c")
    assert proc.stdout == "n c\n" and "OLD is deprecated and ignored: NEW is set" in proc.stderr
    proc = _source(tmp_path, 'deprecated_var OLD NEW\necho "${NEW:-unset}"')
    assert proc.stdout == "unset\n" and proc.stderr == ""


def test_tuned_weights(tmp_path):
    good = tmp_path / "lm_tuned.json"
    good.write_text(json.dumps({"alpha": 0.8, "beta": 0.0, "lm": "x.arpa", "wer": 0.1}))
    proc = _source(tmp_path, f'ALPHA=1 BETA=2\ntuned_weights "{good}"\necho "$ALPHA $BETA"')
    assert proc.returncode == 0 and proc.stdout == "0.8 0.0\n", proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"alpha": 1}')
    proc = _source(tmp_path, f'tuned_weights "{bad}"\necho not reached')
    assert proc.returncode == 1 and proc.stdout == ""
    assert "bad.json" in proc.stderr and "ERROR: cannot read the tuned LM weights" in proc.stderr
    assert "snippet.sh:" in proc.stderr.splitlines()[-1]   # the recipe's line, not lib.sh's


def test_need_extra_with_another_interpreter(tmp_path):
    python = tmp_path / "bin/python3"   # not the repository's .venv: nothing is installed
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    proc = _source(tmp_path, "need_extra real-data json os\necho present", PYTHON=str(python))
    assert proc.returncode == 0 and proc.stdout == "present\n" and proc.stderr == ""
    proc = _source(tmp_path, "need_extra real-data json no_such_module_q7\necho not reached",
                   PYTHON=str(python))
    assert proc.returncode == 1 and proc.stdout == ""
    last = proc.stderr.splitlines()[-1]
    assert f"ERROR: {python} lacks no_such_module_q7: {python} -m pip install " \
        f"-e '{ROOT}[real-data]'" in last and "snippet.sh:" in last


FAKE_VENV_PYTHON = """#!/usr/bin/env bash
# stands in for .venv/bin/python: imports fail until pip "installs"; pip's call is recorded
log="$(dirname "$0")/calls"
if [ "$1" = -c ]; then [ -f "$log" ] && grep -q pip "$log"; exit; fi
echo "CAROUSEL_SKIP_EXT=${CAROUSEL_SKIP_EXT:-} $*" >> "$log"
exit "${PIP_RC:-0}"
"""


def _fake_venv_python(repo: Path) -> Path:
    """repo/.venv/bin/python as FAKE_VENV_PYTHON; its pip calls land in the file calls beside it."""
    python = repo / ".venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_VENV_PYTHON)
    python.chmod(0o755)
    return python


@pytest.mark.parametrize("pip_rc", [0, 1])
def test_need_extra_installs_into_the_repository_venv(tmp_path, pip_rc):
    """With the repository's .venv as PYTHON the extra is installed there by the Makefile's
    install-extra (the extension not rebuilt); a failure is one error line naming the command."""
    repo = tmp_path / "repo"
    (repo / "recipes").mkdir(parents=True)
    shutil.copy(LIB, repo / "recipes/lib.sh")
    shutil.copy(ROOT / "Makefile", repo / "Makefile")
    python = _fake_venv_python(repo)
    script = tmp_path / "snippet.sh"
    script.write_text(f'set -euo pipefail\n. "{repo}/recipes/lib.sh"\nrecipe_init\n'
                      "need_extra real-data mlxtend\nneed_extra real-data mlxtend\necho next\n")
    proc = run(script, PYTHON=str(python), PIP_RC=str(pip_rc))
    calls = (python.parent / "calls").read_text().splitlines()
    assert calls == ["CAROUSEL_SKIP_EXT=1 -m pip install -q --no-build-isolation -e .[real-data]"]
    assert "installing the real-data extra into .venv (mlxtend missing)" in proc.stderr
    if pip_rc == 0:   # installed once: the second call finds the module
        assert proc.returncode == 0 and proc.stdout == "next\n", proc.stderr
    else:
        assert proc.returncode == 1 and proc.stdout == ""
        assert f"ERROR: could not install the real-data extra: make -C '{repo}' install-extra " \
            "EXTRA=real-data" in proc.stderr.splitlines()[-1]


def test_make_install_extra_needs_the_venv_and_a_name(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    make = ["make", "-s", "-C", str(tmp_path), "install-extra"]
    proc = subprocess.run([*make, "EXTRA=real-data"], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "no .venv/bin/python (make venv first)" in proc.stderr
    python = _fake_venv_python(tmp_path)
    proc = subprocess.run(make, capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "name the extra: EXTRA=real-data" in proc.stderr
    assert not (python.parent / "calls").exists()


def test_collect_results(tmp_path):
    from ctc.metrics.report import ScoredUtterance, write_report

    exp = tmp_path / "exp"
    write_report([ScoredUtterance("u", "a b", "a c")], exp / "decode/x", title="x, greedy",
                 extra={"decoder": "greedy"}, plots=False)
    proc = _source(tmp_path, "collect_results", EXP=str(exp))
    assert proc.returncode == 0, proc.stderr
    assert "| x, greedy | greedy | 1 | 50.00 | 33.33 |" in proc.stdout
    assert proc.stdout == (exp / "RESULTS.md").read_text()


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_recipes_parse_and_document_the_shared_variables(recipe):
    assert subprocess.run(["bash", "-n", str(recipe)], check=False).returncode == 0
    if shutil.which("shellcheck"):
        check = subprocess.run(["shellcheck", "-x", str(recipe), str(LIB)], capture_output=True,
                               text=True, check=False)
        assert check.returncode == 0, check.stdout
    text = recipe.read_text()
    help_text = run(recipe, "--help").stdout
    assert help_text.startswith(text.splitlines()[1][2:])
    variables = help_text[help_text.index("Variables"):]
    documented = set(re.findall(r"\b([A-Z][A-Z_]*[A-Z])\b", variables))
    defined = set(re.findall(r"^\s*([A-Z][A-Z_]+)=\"\$\{", text, re.M))
    assert set(SHARED) - documented == set()
    assert set(SHARED) - {"PYTHON"} - defined == set()     # PYTHON: recipe_init
    assert defined - documented == set()
    assert ". \"$(dirname \"${BASH_SOURCE[0]}\")/../lib.sh\"" in text
    for line in text.splitlines():                          # old names: only as deprecated
        if re.search(r"\b(IAM_ROOT|CONF|DATA)\b", line) and not line.startswith("#"):
            assert "deprecated_var" in line or line.startswith('case "${CONF:-}"'), line
