"""results_table: the recipes' RESULTS.md from every report.json under an experiment folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.errors import InputError
from ctc.metrics.report import ScoredUtterance, write_report
from ctc.metrics.results_table import collect_rows, main, read_row, results_table

ROOT = Path(__file__).resolve().parents[3]

RESULTS = [
    ScoredUtterance("u1", "the cat sat", "the bat sat"),   # 1 of 3 words, 1 of 11 chars
    ScoredUtterance("u2", "a dog", "a dog"),
]


def _experiment(tmp_path: Path) -> Path:
    """An experiment folder as the recipes leave it: reports in two subfolders, tuned weights."""
    exp = tmp_path / "exp"
    write_report(RESULTS, exp / "decode/test-greedy", title="test, greedy",
                 extra={"decoder": "greedy"}, plots=False)
    write_report(RESULTS[1:], exp / "decode/test-lm3", title="test, 3-gram LM",
                 extra={"decoder": "ours beam=8 lm=3gram.arpa alpha=1.0 beta=5.0"}, plots=False)
    write_report(RESULTS, exp / "tune/dev|greedy", title="", plots=False)
    (exp / "lm_tuned.json").write_text(json.dumps(
        {"alpha": 1.0, "beta": 5.0, "wer": 0.0515, "decoder": "ours", "beam_size": 100,
         "lm": str(exp / "lm/3gram.arpa"), "utterances": 200, "grid": []}))
    return exp


def test_one_row_per_report_in_path_order(tmp_path):
    exp = _experiment(tmp_path)
    rows = collect_rows(exp)
    assert [r.name for r in rows] == ["test, greedy", "test, 3-gram LM", "tune/dev|greedy"]
    greedy, lm, tune = rows
    assert greedy.decoding == "greedy" and greedy.utterances == 2
    assert greedy.wer == pytest.approx(1 / 5) and greedy.cer == pytest.approx(1 / 16)
    assert lm.decoding.startswith("ours beam=8") and lm.wer == 0.0 and lm.utterances == 1
    assert tune.decoding == "-"                  # no decoder recorded: a dash


def test_markdown_table_and_tuned_weights(tmp_path):
    exp = _experiment(tmp_path)
    lines = results_table(exp).splitlines()
    assert lines[0] == f"# Results: {exp}"
    assert lines[2:4] == [
        "| report | decoding | utterances | WER % | CER % | WER 95 % CI | CER 95 % CI |",
        "|---|---|---|---|---|---|---|"]
    # two utterances, one with 1 of 3 words wrong: the bootstrap resamples hold 0-2 copies of
    # it, so the word interval runs from 0 to 1/3, the character one from 0 to 1/11
    assert lines[4] == "| test, greedy | greedy | 2 | 20.00 | 6.25 | 0.00-33.33 | 0.00-9.09 |"
    assert lines[5] == ("| test, 3-gram LM | ours beam=8 lm=3gram.arpa alpha=1.0 beta=5.0 | 1 | "
                        "0.00 | 0.00 | 0.00-0.00 | 0.00-0.00 |")
    # the pipe of the folder name escaped
    assert lines[6] == r"| tune/dev\|greedy | - | 2 | 20.00 | 6.25 | 0.00-33.33 | 0.00-9.09 |"
    tuned = lines[-1]
    assert "alpha 1.0, beta 5.0" in tuned and "LM 3gram.arpa" in tuned and "beam 100" in tuned
    assert "WER 5.15 % on the tuning set of 200 utterances" in tuned


def test_bad_reports_are_skipped_with_a_warning(tmp_path):
    exp = _experiment(tmp_path)
    (exp / "decode/broken").mkdir()
    (exp / "decode/broken/report.json").write_text("{not json")
    (exp / "decode/other").mkdir()
    (exp / "decode/other/report.json").write_text('{"title": "x"}')
    summary = json.loads((exp / "decode/test-lm3/report.json").read_text())
    summary["wer"]["rate"] = None                # non-finite rates are stored as null
    summary["cer"]["ci95"]["high"] = None        # an interval without its bound: n/a
    (exp / "decode/test-lm3/report.json").write_text(json.dumps(summary))
    (exp / "lm_tuned.json").write_text("{}")
    warnings: list[str] = []
    text = results_table(exp, warn=warnings.append)
    assert len(warnings) == 3
    assert any("broken/report.json" in w for w in warnings)
    assert any("lm_tuned.json" in w for w in warnings)
    assert ("| test, 3-gram LM | ours beam=8 lm=3gram.arpa alpha=1.0 beta=5.0 | 1 | n/a | 0.00 "
            "| 0.00-0.00 | n/a |") in text
    assert "tuned" not in text
    with pytest.raises(InputError, match="not an evaluation report"):
        read_row(exp / "decode/other/report.json", exp)


def test_empty_and_missing_folders(tmp_path):
    assert "No report.json under" in results_table(tmp_path)
    with pytest.raises(InputError, match="experiment folder not found"):
        results_table(tmp_path / "missing")
    assert main([str(tmp_path / "missing")]) == 1


def test_command_writes_the_file(tmp_path, capsys):
    exp = _experiment(tmp_path)
    assert main([str(exp), "--out", str(exp / "RESULTS.md")]) == 0
    assert capsys.readouterr().out == ""
    text = (exp / "RESULTS.md").read_text()
    assert text == results_table(exp)
    assert [p.name for p in exp.iterdir() if p.name.startswith(".")] == []  # no temporary left
    assert main([str(exp)]) == 0
    assert capsys.readouterr().out == text


def test_runs_as_a_module(tmp_path):
    exp = _experiment(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "ctc.metrics.results_table", str(exp)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "| test, greedy | greedy | 2 | 20.00 | 6.25 |" in proc.stdout
