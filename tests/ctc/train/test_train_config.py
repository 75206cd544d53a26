"""Training config: YAML -> dataclasses, typed --set overrides, round trip; batching; schedules."""

from __future__ import annotations

import math

import pytest
import torch

from ctc.checkpoint import average_checkpoints, save_checkpoint
from ctc.data.batching import BucketBatchSampler, bucket_batches, pad_features
from ctc.errors import CarouselError, InputError
from ctc.train.config import load_config, save_config
from ctc.train.ctc_impl import get_ctc_loss
from ctc.train.schedule import lr_factor


def test_config_round_trip_and_typed_overrides(tmp_path):
    path = tmp_path / "in.yaml"
    path.write_text("frontend: {n_mels: 80, sample_rate: 16000}\n"
                    "model: {hidden: 320, layers: 3}\n"
                    "optim: {lr: 1e-3}\n")
    cfg = load_config(path, ["model.hidden=512", "optim.lr=0.002", "train.precision=bf16",
                             "model.cnn_channels=[8, 16]", "frontend.n_mels=40",
                             "train.progress=false", "optim.warmup_steps=2.0"])
    assert cfg.model.hidden == 512 and cfg.model.layers == 3
    assert cfg.optim.lr == 0.002 and isinstance(cfg.optim.lr, float)
    assert cfg.model.cnn_channels == [8, 16]
    assert cfg.frontend == {"n_mels": 40, "sample_rate": 16000}
    assert cfg.train.progress is False and cfg.optim.warmup_steps == 2
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 1e-3}\n")
    assert load_config(path).optim.lr == 1e-3


@pytest.mark.parametrize("override, message", [
    ("model.hiden=3", "unknown key.*model.hiden"),
    ("model.hidden=big", "model.hidden: expected an integer"),
    ("train.progress=3", "expected true or false"),
    ("nonsense", "not key.sub=value"),
    ("train.precision=half", r"train\.precision.*must be one of fp32, bf16, fp16, auto"),
    ("train.cpu_bf16_min_sequences=0", r"train\.cpu_bf16_min_sequences=0: must be >= 1"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(InputError, match=message):
        load_config(None, [override])


def test_line_cnn_poolings_must_fit_the_blocks():
    base = ["model.frontend=line_cnn", "model.cnn_channels=[8, 8, 16, 16]"]
    cfg = load_config(None, [*base, "model.cnn_pooled=2", "model.cnn_convs_per_pool=2"])
    assert cfg.model.cnn_convs_per_pool == 2
    with pytest.raises(InputError, match=r"model\.cnn_pooled.*cnn_convs_per_pool=2 must be in"):
        load_config(None, [*base, "model.cnn_pooled=3", "model.cnn_convs_per_pool=2"])
    with pytest.raises(InputError, match=r"model\.cnn_convs_per_pool.*must be >= 1"):
        load_config(None, [*base, "model.cnn_convs_per_pool=0"])


def test_missing_config_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_bucket_batches_respect_max_frames_and_cover_every_index():
    lengths = [5, 50, 7, 30, 30, 8, 100, 12, 3, 60]
    batches = bucket_batches(lengths, 120, shuffle=True, seed=1, epoch=2)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 120
    assert batches == bucket_batches(lengths, 120, shuffle=True, seed=1, epoch=2)
    orders = {tuple(map(tuple, bucket_batches(lengths, 120, shuffle=True, seed=1, epoch=e)))
              for e in range(6)}
    assert len(orders) > 1  # reshuffled per epoch


def test_sampler_splits_global_batches_across_ranks():
    lengths = [10] * 9
    ranks = [list(BucketBatchSampler(lengths, 40, seed=0, rank=r, world=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1])
    assert sorted(len(b0) + len(b1) for b0, b1 in zip(*ranks)) == [1, 4, 4]
    assert sorted(len(b) for b in ranks[1]) == [0, 2, 2]  # rank 1 has no share of one batch
    seen = sorted(i for r in ranks for b in r for _, i in b)
    assert seen == list(range(9))
    resumed = list(BucketBatchSampler(lengths, 40, seed=0, rank=0, world=2, skip=1))
    assert resumed == ranks[0][1:]


def test_pad_features_audio_and_image():
    x, lengths = pad_features([torch.ones(3, 4), torch.ones(5, 4)], 0)
    assert x.shape == (2, 5, 4) and lengths.tolist() == [3, 5] and x[0, 3:].sum() == 0
    x, lengths = pad_features([torch.ones(8, 10), torch.ones(8, 6)], 1)
    assert x.shape == (2, 1, 8, 10) and lengths.tolist() == [10, 6] and x[1, 0, :, 6:].sum() == 0


def test_schedules_warm_up_then_decay():
    cosine = lr_factor("cosine", 10, 110, 0.1)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(60) == pytest.approx(0.55) and cosine(110) == pytest.approx(0.1)
    noam = lr_factor("noam", 100, 0)
    assert noam(400) == pytest.approx(0.5)
    assert lr_factor("linear", 0, 100, 0.0)(50) == pytest.approx(0.5)
    assert all(math.isfinite(lr_factor("cosine", 0, 0)(s)) for s in range(3))


def test_checkpoint_averaging(tmp_path):
    for i in range(3):
        save_checkpoint({"model": {"w": torch.full((2,), float(i)),
                                   "n": torch.tensor(i)}}, tmp_path / f"{i}.pt")
    avg = average_checkpoints([tmp_path / f"{i}.pt" for i in range(3)])
    assert avg["model"]["w"].tolist() == [1.0, 1.0] and int(avg["model"]["n"]) == 2


def test_ctc_impl_selection():
    assert get_ctc_loss("torch") is not None
    with pytest.raises(CarouselError, match="ctc_impl must be one of"):
        get_ctc_loss("warp")
    try:
        from ctc.loss import ctc_loss  # noqa: F401
    except ImportError:
        with pytest.raises(CarouselError, match=r"set train\.ctc_impl=torch"):
            get_ctc_loss("carousel")
    else:
        assert get_ctc_loss("carousel") is not None


def test_example_config_loads():
    from pathlib import Path

    import ctc.train

    cfg = load_config(Path(ctc.train.__file__).parent / "example.yaml")
    assert cfg.model.hidden == 320 and cfg.optim.lr == 1e-3


def test_data_check_keeps_validation_lines_with_unknown_characters():
    from ctc.data.manifest import Record
    from ctc.data.tokens import CharTokenizer
    from ctc.train.prepare import prepare_examples
    from ctc.train.synthetic import SyntheticFeaturizer

    tok = CharTokenizer.build(["ab"])
    records = [Record("u", "audio", "x", "abz"), Record("v", "audio", "y", "ab")]
    featurizer = SyntheticFeaturizer(feature_dim=4)
    kept, check = prepare_examples(records, tok, featurizer, lambda n: n)
    assert [e.record.id for e in kept] == ["v"] and check.unknown_chars == ["u"]
    kept, check = prepare_examples(records, tok, featurizer, lambda n: n, drop_infeasible=False)
    assert [e.targets for e in kept] == [(1, 2), (1, 2)]
    assert "1 kept: characters outside the vocabulary (e.g. u)" in check.summary("valid")
