"""Character accuracy by Unicode script and category, and top confusions
(ctc.metrics.scripts), alone and in an evaluation report."""

from __future__ import annotations

import json

import pytest

from ctc.metrics.report import ScoredUtterance, write_report
from ctc.metrics.scripts import category_of, char_statistics, markdown, script_of


def test_scripts_and_categories_of_characters():
    assert [script_of(c) for c in "aжαあ中ا1 \u0301"] == [
        "Latin", "Cyrillic", "Greek", "Hiragana", "Han", "Arabic", "Common", "Common",
        "Inherited"]
    assert category_of("é") == "Ll (lowercase letter)" and category_of("7").startswith("Nd")


def test_statistics_count_errors_per_group():
    stats = char_statistics([("café αβ 12", "cafe αβ 13"), ("中文", "中"), ("abc", "abxc"),
                             ("same", "same")])
    scripts = {r["script"]: r for r in stats["scripts"]}
    assert scripts["Latin"]["chars"] == 11 and scripts["Latin"]["errors"] == 1
    assert scripts["Latin"]["insertions"] == 1
    assert scripts["Greek"]["accuracy"] == 1.0
    assert scripts["Han"] == {"script": "Han", "chars": 2, "errors": 1, "accuracy": 0.5,
                              "insertions": 0}
    assert scripts["Common"]["errors"] == 1  # the digit 2
    assert stats["chars"] == 19 and stats["errors"] == 3
    assert stats["accuracy"] == pytest.approx(16 / 19)
    categories = {r["category"]: r for r in stats["categories"]}
    assert categories["Nd (decimal digit)"]["errors"] == 1
    assert sorted(map(tuple, stats["confusions"])) == sorted(
        [("é", "e", 1), ("2", "3", 1), ("文", "", 1), ("", "x", 1)])
    text = markdown(stats)
    assert "| Han | 2 | 1 | 50.00 | 0 |" in text and "`é` U+00E9 | `e` U+0065 | 1" in text
    assert "(none) | `x` U+0078" in text


def test_combining_marks_and_empty_input():
    stats = char_statistics([("e\u0301", "e")])
    assert {r["script"]: r["errors"] for r in stats["scripts"]} == {"Latin": 0, "Inherited": 1}
    assert "U+0301" in markdown(stats)
    empty = char_statistics([])
    assert empty["accuracy"] is None and empty["scripts"] == []


def test_report_has_the_section(tmp_path):
    results = [ScoredUtterance("u1", "Ζεύς and 12", "Ζευς and 13"),
               ScoredUtterance("u2", "plain", "plain")]
    summary = write_report(results, tmp_path, title="t", plots=False)
    text = (tmp_path / "report.md").read_text()
    assert "## Character accuracy by script" in text and "| Greek | 4 | 1 | 75.00 | 0 |" in text
    assert "## Most frequent character confusions" in text
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["scripts"]["errors"] == summary["scripts"]["errors"] == 2
    write_report(results, tmp_path / "words", title="t", plots=False, units=("word",))
    assert "by script" not in (tmp_path / "words" / "report.md").read_text()
