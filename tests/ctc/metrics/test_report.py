"""write_report: the files a researcher reads, their content, atomic output, plots."""

from __future__ import annotations

import json

import jiwer
import numpy as np
import pytest
import torch

from ctc.errors import InputError
from ctc.metrics import plots
from ctc.metrics.normalize import TextNormalizer
from ctc.metrics.report import ScoredUtterance, summarize, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

RESULTS = [
    ScoredUtterance("u1", "the cat sat on the mat", "the bat sat down on mat", "s1"),
    ScoredUtterance("u2", "hello world", "hello world", "s2"),
    ScoredUtterance("u3", "a cat", "a bat", "s1"),
]


def test_summary_matches_jiwer_and_keeps_contract_keys(tmp_path):
    summary = write_report(RESULTS, tmp_path, title="t", extra={"beam": 8}, plots=False)
    refs, hyps = [r.ref for r in RESULTS], [r.hyp for r in RESULTS]
    assert summary["wer"]["rate"] == pytest.approx(jiwer.wer(refs, hyps))
    assert summary["cer"]["rate"] == pytest.approx(jiwer.cer(refs, hyps))
    w = summary["wer"]
    assert (w["substitutions"], w["deletions"], w["insertions"], w["ref_length"]) == (2, 1, 1, 10)
    assert w["sentence_errors"] == 2 and w["sentence_error_rate"] == pytest.approx(2 / 3)
    assert w["ci95"]["low"] <= w["rate"] <= w["ci95"]["high"]
    assert summary["extra"] == {"beam": 8}
    assert json.loads((tmp_path / "report.json").read_text())["wer"]["rate"] == w["rate"]


def test_report_lists_confusions_worst_and_speakers(tmp_path):
    summary = write_report(RESULTS, tmp_path, title="My eval", plots=False)
    assert summary["confusions"]["wer"]["substitutions"][0] == ["cat", "bat", 2]
    assert summary["confusions"]["wer"]["insertions"] == [["down", 1]]
    assert summary["confusions"]["wer"]["deletions"] == [["the", 1]]
    assert [w["id"] for w in summary["worst"]] == ["u1", "u3"]
    assert [r["speaker"] for r in summary["by_speaker"]["wer"]] == ["s1", "s2"]
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# My eval")
    assert "| `cat` → `bat` | 2 |" in md
    assert "| s1 | 2 | 8 |" in md
    assert "REF:  the cat sat ***  on the mat" in md
    text = (tmp_path / "alignments.txt").read_text()
    assert "id: u2  speaker: s2" in text
    assert "HYP:  the bat sat down on *** mat" in text
    assert "EVAL:     S       I       D" in text


def test_normalisation_applies_to_both_sides_and_is_stated(tmp_path):
    results = [ScoredUtterance("a", "Hello, World!", "hello world")]
    raw = write_report(results, tmp_path / "raw", title="raw", plots=False)
    norm = write_report(results, tmp_path / "norm", title="norm", plots=False,
                        normalizer=TextNormalizer(lower=True, punct=True))
    assert raw["wer"]["rate"] == 1.0 and norm["wer"]["rate"] == 0.0
    assert "lower-cased; punctuation removed" in (tmp_path / "norm" / "report.md").read_text()
    assert norm["normalization"]["lower"] is True


def test_plots_are_png_files(tmp_path):
    log_probs = torch.randn(40, 4).log_softmax(-1)
    summary = write_report(RESULTS, tmp_path, title="t",
                           posteriorgram=("u1", log_probs, ["<b>", " ", "a", "b"]))
    for name in ("wer_by_length.png", "wer_confusions.png", "cer_confusions.png",
                 "posteriorgram.png"):
        assert name in summary["files"]
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    assert "![posteriorgram](posteriorgram.png)" in (tmp_path / "report.md").read_text()


def test_posteriorgram_with_explicit_path_and_bad_shape(tmp_path):
    log_probs = np.log(np.full((10, 3), 1 / 3))
    plots.plot_posteriorgram(log_probs, ["<b>", "x", "y"], tmp_path / "p.png",
                             path_tokens_frames=[(1, 2), (2, 7)])
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(InputError, match=r"\(time, vocab\).*3 symbols, got shape \(10, 4\)"):
        plots.plot_posteriorgram(np.zeros((10, 4)), ["<b>", "x", "y"], tmp_path / "q.png")


def test_posteriorgram_finds_blank_by_symbol(tmp_path, monkeypatch):
    seen = {}
    original = plots.greedy_path

    def spy(log_probs, blank=0):
        seen["blank"] = blank
        return original(log_probs, blank)

    monkeypatch.setattr(plots, "greedy_path", spy)
    plots.plot_posteriorgram(np.log(np.full((5, 3), 1 / 3)), ["a", "b", "<b>"], tmp_path / "p.png")
    assert seen["blank"] == 2


def test_greedy_path_merges_repeats_and_drops_blanks():
    best = [0, 1, 1, 0, 1, 2, 2, 0]
    log_probs = np.log(np.eye(3)[best] * 0.9 + 0.05)
    assert plots.greedy_path(log_probs, blank=0) == [(1, 1), (1, 4), (2, 5)]


def test_failed_report_leaves_previous_files_and_no_temporaries(tmp_path, monkeypatch):
    write_report(RESULTS, tmp_path, title="first", plots=False)
    before = (tmp_path / "report.json").read_text()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots, "plot_confusions", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(RESULTS[:1], tmp_path, title="second")
    assert (tmp_path / "report.json").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_units_subset_and_empty_references(tmp_path):
    summary, _ = summarize([ScoredUtterance("e", "", "extra words")], title="t", units=("char",))
    assert "wer" not in summary and summary["cer"]["rate"] == float("inf")
    write_report([ScoredUtterance("e", "", "x")], tmp_path, title="t", plots=False)
    assert json.loads((tmp_path / "report.json").read_text())["wer"]["rate"] is None
    with pytest.raises(ValueError, match="units must be"):
        summarize(RESULTS, title="t", units=("phone",))
