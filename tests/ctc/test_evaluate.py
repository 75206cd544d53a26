"""evaluate(): report from a recognizer with any decoder, skipped files, posteriors dump."""

from __future__ import annotations

import json

import pytest
import torch

from ctc.data.manifest import Record
from ctc.decode.hypothesis import Hypothesis
from ctc.evaluate import evaluate
from ctc.recognizer import Recognizer
from ctc.train.synthetic import synthetic_records


@pytest.fixture(scope="module")
def recognizer(train_tiny_experiment):
    out = train_tiny_experiment("train.average_last=0")
    return Recognizer.load(out)


def test_greedy_evaluation_writes_report_and_lists_skipped(recognizer, tmp_path):
    records = synthetic_records(12)
    records.append(Record("lost", "audio", "lost.bad", "ab"))
    summary = evaluate(recognizer, records, tmp_path / "report", title="synthetic")
    assert summary["utterances"] == 12 and summary["cer"]["rate"] == 0.0
    assert summary["wer"]["rate"] == 0.0
    assert len(summary["skipped"]) == 1 and "lost.bad" in summary["skipped"][0]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["title"] == "synthetic" and report["extra"]["skipped"] == 1
    assert (tmp_path / "report" / "posteriorgram.png").is_file()
    rows = [json.loads(x) for x in (tmp_path / "report" / "hypotheses.jsonl").read_text()
            .splitlines()]
    assert [r["id"] for r in rows] == [r.id for r in records[:12]]
    assert all(r["hyp"] == r["ref"] for r in rows)


def test_custom_decoder_text_is_scored(recognizer, tmp_path):
    calls = []

    def always_abc(log_probs, lengths):
        calls.append(tuple(log_probs.shape))
        assert log_probs.dim() == 3 and lengths.shape == (log_probs.shape[0],)
        return [Hypothesis((), (), 0.0, "abc") for _ in range(log_probs.shape[0])]

    records = [Record("u", "audio", "x", "abc"), Record("v", "audio", "y", "cab")]
    summary = evaluate(recognizer, records, tmp_path, decoder=always_abc, title="t")
    assert calls and summary["wer"]["rate"] == 0.5
    assert summary["extra"]["decoder"] == "always_abc"


def test_posteriors_dump_format(recognizer, tmp_path):
    records = synthetic_records(3, seed=9)
    evaluate(recognizer, records, tmp_path, title="t", dump_posteriors=tmp_path / "post.pt")
    dump = torch.load(tmp_path / "post.pt", weights_only=True)
    assert set(dump) == {"tokens", "blank", "word_delimiter", "word_prefix", "items"}
    assert dump["tokens"] == recognizer.tokenizer.symbols and dump["blank"] == 0
    assert dump["word_delimiter"] == " "
    assert [item["id"] for item in dump["items"]] == [r.id for r in records]
    expected = {r.record: r.log_probs for r in recognizer.iter_results(records)}
    for item, record in zip(dump["items"], records):
        assert item["ref"] == record.text
        assert item["log_probs"].dtype == torch.float32
        torch.testing.assert_close(item["log_probs"], expected[record])


def test_report_measures_word_confidence_calibration(recognizer, tmp_path):
    summary = evaluate(recognizer, synthetic_records(12), tmp_path / "r", title="t")
    calibration = summary["calibration"]
    assert calibration["words"] == sum(len(r.text.split()) for r in synthetic_records(12))
    assert 0.0 <= calibration["ece"] <= 1.0 and calibration["accuracy"] == 1.0
    assert (tmp_path / "r" / "reliability.png").is_file()
    assert "Word confidence calibration" in (tmp_path / "r" / "report.md").read_text()


def test_a_segment_row_names_its_segment_on_the_recording():
    from ctc.evaluate import _hypothesis_row
    from ctc.results import Recognition

    record = Record("s1", "audio", "rec.wav", "a b", start=12.25, end=14.5)
    row = json.loads(_hypothesis_row(record, Recognition("rec.wav", "a b", 0.0, 14.5, "s")))
    assert row["segment"] == [12.25, 14.5] and row["extent"] == 14.5
    whole = Record("w", "audio", "rec.wav", "a b")
    assert "segment" not in json.loads(_hypothesis_row(whole, Recognition("rec.wav", "a b", 0.0,
                                                                          2.0, "s")))
