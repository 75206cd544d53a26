"""Recognizer: loading an experiment directory, batched posteriors, manifest-order iteration."""

from __future__ import annotations

import pytest
import torch

from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.infer import Recognizer
from ctc.train.synthetic import synthetic_records


@pytest.fixture(scope="module")
def expdir(train_tiny_experiment):
    out = train_tiny_experiment("train.average_last=2")
    return out


def test_load_picks_averaged_then_best_then_last(expdir):
    rec = Recognizer.load(expdir)
    assert rec.checkpoint.name == "averaged.pt"
    assert Recognizer.load(expdir, which="last").checkpoint.name == "last.pt"
    assert Recognizer.load(expdir / "best.pt").checkpoint.name == "best.pt"
    assert not rec.model.training
    assert rec.output_frame_shift == pytest.approx(0.02)  # 10 ms frames, 2x subsampling
    assert rec.tokenizer.symbols[0] == "<b>"


def test_load_errors_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such checkpoint"):
        Recognizer.load(tmp_path / "missing")
    with pytest.raises(InputError, match="no checkpoint"):
        Recognizer.load(tmp_path)
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(InputError, match="not a readable carousel checkpoint"):
        Recognizer.load(tmp_path / "junk.pt")


def test_batched_log_probs_equal_one_at_a_time(expdir):
    rec = Recognizer.load(expdir)
    feats = [rec.featurizer(r) for r in synthetic_records(4, seed=3)]
    log_probs, lengths = rec.log_probs(feats)
    assert log_probs.shape[0] == 4 and log_probs.shape[2] == len(rec.tokenizer)
    for i, f in enumerate(feats):
        alone, n = rec.log_probs([f])
        assert int(n[0]) == int(lengths[i])
        torch.testing.assert_close(log_probs[i, : int(n[0])], alone[0], rtol=1e-5, atol=1e-5)


def test_iter_log_probs_keeps_manifest_order_and_reports_unreadable(expdir):
    rec = Recognizer.load(expdir)
    records = synthetic_records(7, seed=5)
    records.insert(3, Record("broken", "audio", "gone.bad", "ab"))
    out = list(rec.iter_log_probs(records, max_frames=60, window=3))
    assert [r.id for r, _ in out] == [r.id for r in records if r.id != "broken"]
    assert len(rec.skipped) == 1 and "gone.bad" in rec.skipped[0]
    for record, lp in out:
        assert lp.shape == (-(-len(record.text) * 4 // 2), len(rec.tokenizer))


def test_log_probs_rejects_features_of_the_wrong_size(expdir):
    rec = Recognizer.load(expdir)
    with pytest.raises(InputError, match=r"\(T, F\) with 8 bins, got shape \(10, 5\)"):
        rec.log_probs([torch.zeros(10, 5)])


def test_iter_batches_sorts_by_length_within_windows(expdir):
    rec = Recognizer.load(expdir)
    records = synthetic_records(9, seed=2, words_per_record=1) + synthetic_records(3, seed=4)
    batches = list(rec.iter_batches(records, max_frames=10**6, window=100))
    assert len(batches) == 1
    lengths = batches[0][2].tolist()
    assert lengths == sorted(lengths) and sorted(r.id for r in batches[0][0]) == sorted(
        r.id for r in records)


def test_device_auto_and_missing_cuda():
    from ctc.infer import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="--device cuda: no CUDA device is available"):
            resolve_device("cuda")
