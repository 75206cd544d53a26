"""Recognizer: loading an experiment directory, batched posteriors, manifest-order iteration."""

from __future__ import annotations

import pytest
import torch

from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.recognizer import Recognizer
from ctc.train.synthetic import synthetic_records


@pytest.fixture(scope="module")
def expdir(train_tiny_experiment):
    out = train_tiny_experiment("train.average_last=2")
    return out


def test_load_picks_the_validated_choice_then_best_then_last(expdir):
    import json

    rec = Recognizer.load(expdir)
    choice = json.loads((expdir / "checkpoint_choice.json").read_text())
    assert rec.checkpoint.name == choice["chosen"]
    assert (expdir / "averaged.pt").is_file() == (choice["chosen"] == "averaged.pt")
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


def test_iter_results_keeps_manifest_order_and_reports_unreadable(expdir):
    rec = Recognizer.load(expdir)
    records = synthetic_records(7, seed=5)
    records.insert(3, Record("broken", "audio", "gone.bad", "ab"))
    results = list(rec.iter_results(records, max_frames=60, window=3))
    assert [r.record.id for r in results] == [r.id for r in records]
    skipped = [r for r in results if r.log_probs is None]
    assert len(skipped) == 1 and "gone.bad" in skipped[0].error
    out = [(r.record, r.log_probs) for r in results if r.log_probs is not None]
    assert [r.id for r, _ in out] == [r.id for r in records if r.id != "broken"]
    for record, lp in out:
        assert lp.shape == (-(-len(record.text) * 4 // 2), len(rec.tokenizer))


def test_log_probs_rejects_features_of_the_wrong_size(expdir):
    rec = Recognizer.load(expdir)
    with pytest.raises(InputError, match=r"\(T, F\) with 8 bins, got shape \(10, 5\)"):
        rec.log_probs([torch.zeros(10, 5)])


def test_batches_are_sorted_by_length_within_windows(expdir):
    rec = Recognizer.load(expdir)
    records = synthetic_records(9, seed=2, words_per_record=1) + synthetic_records(3, seed=4)
    batches = []
    run = rec.log_probs

    def spy(features):
        batches.append([f.shape[0] for f in features])
        return run(features)

    rec.log_probs = spy
    results = list(rec.iter_results(records, max_frames=10**6, window=100))
    assert len(batches) == 1 and len(batches[0]) == len(records)
    assert batches[0] == sorted(batches[0])
    assert [r.record.id for r in results] == [r.id for r in records]


def test_checkpoints_from_before_modality_names_still_load(expdir, tmp_path):
    state = torch.load(expdir / "best.pt", weights_only=True)
    state.pop("modality")
    featurizer = dict(state["featurizer"])
    featurizer.pop("kind")
    state["featurizer"] = {"type": "ctc.train.synthetic:SyntheticFeaturizer", **featurizer}
    torch.save(state, tmp_path / "old.pt")
    old = Recognizer.load(tmp_path / "old.pt")
    new = Recognizer.load(expdir / "best.pt")
    assert old.modality.name == "audio" and old.featurizer.kind == "synthetic"
    feats = [new.featurizer(r) for r in synthetic_records(2, seed=1)]
    torch.testing.assert_close(old.log_probs(feats)[0], new.log_probs(feats)[0])


def test_device_auto_and_missing_cuda():
    from ctc.distributed import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="--device cuda: no CUDA device is available"):
            resolve_device("cuda")
