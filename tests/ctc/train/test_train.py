"""The training engine end to end on synthetic data: overfitting, data check, resume, DDP."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ctc.data.manifest import Record
from ctc.errors import CarouselError
from ctc.train import load_config, run_training
from ctc.train.synthetic import SyntheticFeaturizer, synthetic_records

ROOT = Path(__file__).resolve().parents[3]
TINY = ["train.ctc_impl=torch", "model.layers=1", "model.hidden=32", "model.conv_channels=4",
        "model.subsampling=2", "optim.lr=1e-2", "optim.warmup_steps=3",
        "optim.schedule=constant", "data.max_frames=100", "train.progress=false",
        "train.checkpoint_every=0"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a loaded 2-core machine: OpenMP threads only add synchronisation."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _valid_rows(out: Path) -> list[dict]:
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == "valid"]


def _carousel_available() -> bool:
    try:
        from ctc.loss import ctc_loss  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("impl", [
    "torch",
    pytest.param("carousel", marks=pytest.mark.skipif(not _carousel_available(),
                                                      reason="ctc.loss.ctc_loss not built")),
])
def test_tiny_bilstm_overfits_to_zero_cer(tmp_path, impl):
    cfg = load_config(None, [*TINY, "train.epochs=8", "train.average_last=3",
                             f"train.ctc_impl={impl}"])
    records = synthetic_records(12)
    result = run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records, tmp_path)
    assert result["valid"]["cer"] == 0.0 and result["valid"]["wer"] == 0.0
    assert _valid_rows(tmp_path)[0]["cer"] > 0.5  # it learned, it did not start there
    for name in ("config.yaml", "last.pt", "best.pt", "checkpoint_choice.json", "curves.png"):
        assert (tmp_path / name).is_file(), name
    with pytest.raises(CarouselError, match="already holds a training run"):
        run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records, tmp_path)
    saved = load_config(tmp_path / "config.yaml")
    assert saved.model.input_dim == 8  # resolved from the featurizer
    choice = json.loads((tmp_path / "checkpoint_choice.json").read_text())
    averages = [c for c in choice["candidates"] if c["file"].startswith("average")]
    assert averages and len(averages[0]["epochs"]) == 3
    # both reach CER 0: a tie keeps the single best epoch, and no averaged.pt is left to pick
    assert choice["chosen"] == "best.pt" and not (tmp_path / "averaged.pt").exists()
    state = torch.load(tmp_path / "best.pt", weights_only=True)
    assert state["featurizer"]["kind"] == "synthetic" and state["modality"] == "audio"


def test_an_average_is_kept_only_when_it_validates_better(tmp_path, monkeypatch):
    from ctc.checkpoint import find_checkpoint
    from ctc.train import engine

    monkeypatch.setattr(engine.Trainer, "_validate_weights", lambda self, w: {"cer": -1.0})
    cfg = load_config(None, [*TINY, "train.epochs=4", "train.average_last=3"])
    records = synthetic_records(12)
    run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records, tmp_path)
    choice = json.loads((tmp_path / "checkpoint_choice.json").read_text())
    assert choice["chosen"] == "averaged.pt" and (tmp_path / "averaged.pt").is_file()
    assert find_checkpoint(tmp_path) == tmp_path / "averaged.pt"
    state = torch.load(tmp_path / "averaged.pt", weights_only=True)
    assert len(state["averaged_from"]) in (2, 3)


def test_line_cnn_overfits_images(tmp_path):
    cfg = load_config(None, [*TINY, "model.frontend=line_cnn", "model.cnn_channels=[8, 8]",
                             "model.cnn_pooled=1", "train.epochs=10", "train.average_last=0"])
    records = synthetic_records(12, modality="image")
    featurizer = SyntheticFeaturizer(feature_dim=8, modality="image")
    result = run_training(cfg, featurizer, records, records, tmp_path)
    assert result["valid"]["cer"] == 0.0


def test_infeasible_and_unreadable_utterances_are_skipped_never_nan(tmp_path, capsys):
    cfg = load_config(None, [*TINY, "model.subsampling=4", "train.epochs=1"])
    featurizer = SyntheticFeaturizer(feature_dim=8, frames_per_char=4)
    records = synthetic_records(6)
    # 4 chars x 4 frames = 16 frames -> 4 output frames < 4 labels + 3 repeats
    records.append(Record("too-short", "audio", "x", "aaaa"))
    records.append(Record("unreadable", "audio", "x.bad", "ab"))
    result = run_training(cfg, featurizer, records, records[:3], tmp_path)
    check = result["data_check"]["train"]
    assert check["infeasible"] == 1 and check["infeasible_ids"] == ["too-short"]
    assert result["unreadable"] == 1  # found at load time, batch kept going
    assert result["nonfinite_batches"] == 0 and torch.isfinite(torch.tensor(
        result["valid"]["loss"]))
    err = capsys.readouterr().err
    assert "1 skipped: CTC-infeasible, input too short for the labels (e.g. too-short)" in err


class _NaNFeaturizer(SyntheticFeaturizer):
    def __call__(self, record, train=False, rng=None):
        features = super().__call__(record, train, rng)
        return features * float("nan") if record.id == "utt0002" else features


def test_non_finite_loss_batch_is_skipped_and_counted(tmp_path):
    cfg = load_config(None, [*TINY, "train.epochs=2"])
    records = synthetic_records(8)
    result = run_training(cfg, _NaNFeaturizer(feature_dim=8), records, records[3:5], tmp_path)
    assert result["nonfinite_batches"] == 2  # once per epoch
    weights = torch.load(tmp_path / "last.pt", weights_only=True)["model"]
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert all(math.isfinite(r["train_loss"]) for r in _valid_rows(tmp_path))


def test_accumulation_and_max_steps(tmp_path):
    records = synthetic_records(15)  # batches of 4, 4, 3, 3, 1 at max_frames=100
    cfg = load_config(None, [*TINY, "train.epochs=2", "train.accum_steps=2",
                             "optim.name=adamw", "optim.schedule=cosine"])
    result = run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, [], tmp_path / "a")
    assert result["step"] == 2 * 3  # ceil(5 / 2) optimiser steps per epoch
    cfg = load_config(None, [*TINY, "train.epochs=5", "train.max_steps=7"])
    result = run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, [], tmp_path / "b")
    assert result["step"] == 7 and result["epoch"] == 2


class _CtrlCOnce(SyntheticFeaturizer):
    """Raises KeyboardInterrupt at its 23rd training item: the 8th of epoch 2 (of 15)."""

    calls = 0

    def __call__(self, record, train=False, rng=None):
        if train:
            type(self).calls += 1
            if type(self).calls == 23:
                raise KeyboardInterrupt
        return super().__call__(record, train, rng)


def test_ctrl_c_saves_the_last_step_and_resume_finishes_the_same(tmp_path):
    cfg = load_config(None, [*TINY, "train.epochs=3", "train.average_last=0"])
    records = synthetic_records(15)
    featurizer = SyntheticFeaturizer(feature_dim=8)
    run_training(cfg, featurizer, records, records[:3], tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg, _CtrlCOnce(feature_dim=8), records, records[:3], tmp_path / "cut")
    state = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)
    # saved at the last optimiser step before the interrupt, not at the end of epoch 1
    assert state["epoch"] == 1 and 1 <= state["batch_in_epoch"] < 5
    assert state["step"] == 5 + state["batch_in_epoch"]
    run_training(cfg, featurizer, records, records[:3], tmp_path / "cut", resume=True)
    a, b = _weights(tmp_path / "full" / "last.pt"), _weights(tmp_path / "cut" / "last.pt")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)


def test_bpe_tokenizer_trains_and_round_trips(tmp_path):
    from ctc.data.tokens import tokenizer_from_dict

    cfg = load_config(None, [*TINY, "train.epochs=1", "tokenizer.kind=bpe",
                             "tokenizer.vocab_size=12"])
    records = synthetic_records(8)
    run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records[:2], tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    tok = tokenizer_from_dict(state["tokenizer"])
    assert tok.kind == "bpe" and tok.blank == 0
    assert tok.decode(tok.encode(records[0].text)) == records[0].text


SCRIPT = """
import os, signal, sys
from pathlib import Path
from ctc.train import engine, load_config, run_training
from ctc.train.synthetic import SyntheticFeaturizer, synthetic_records

out, mode = Path(sys.argv[1]), sys.argv[2]
cfg = load_config(None, {overrides!r})
if mode == "kill":
    save = engine.Trainer.save_last

    def save_and_die(self):
        save(self)
        if self.step >= {kill_step}:
            os.kill(os.getpid(), signal.SIGKILL)

    engine.Trainer.save_last = save_and_die
records = synthetic_records(15)  # the last batch holds one utterance
run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records[:4], out,
             resume=mode == "resume")
"""


def _run(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    overrides = [*TINY, "model.layers=2", "model.dropout=0.3", "train.epochs=3",
                 "train.checkpoint_every=2", "data.num_workers=1", "train.average_last=0"]
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(overrides=overrides, kill_step=5)))
    full, broken = tmp_path / "full", tmp_path / "broken"
    killed = _run([sys.executable, str(script), str(broken), "kill"], check=False)
    assert killed.returncode == -9, killed.stderr[-2000:]
    interrupted_at = torch.load(broken / "last.pt", weights_only=True)["step"]

    cfg = load_config(None, overrides)
    records = synthetic_records(15)
    featurizer = SyntheticFeaturizer(feature_dim=8)
    run_training(cfg, featurizer, records, records[:4], full)
    final_steps = torch.load(full / "last.pt", weights_only=True)["step"]
    assert 5 <= interrupted_at < final_steps
    run_training(cfg, featurizer, records, records[:4], broken, resume=True)
    a, b = _weights(full / "last.pt"), _weights(broken / "last.pt")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)
    assert [r["cer"] for r in _valid_rows(full)] == [r["cer"] for r in _valid_rows(broken)]


@pytest.mark.slow  # 11-28 s on the shared 2-core machine
def test_ddp_two_processes_match_one_process(tmp_path):
    # a large Adam epsilon makes the update sensitive to the gradient scale, not just direction
    overrides = [*TINY, "train.epochs=2", "train.average_last=0", "optim.warmup_steps=0",
                 "optim.eps=0.1"]
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(overrides=overrides, kill_step=10**9)))
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
          str(script), str(two), "full"])
    records = synthetic_records(15)
    run_training(load_config(None, overrides), SyntheticFeaturizer(feature_dim=8), records,
                 records[:4], one)
    a, b = _weights(one / "last.pt"), _weights(two / "last.pt")
    assert torch.load(one / "last.pt", weights_only=True)["step"] > 4
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)
    rows_one, rows_two = _valid_rows(one), _valid_rows(two)  # validation sharded over 2
    assert [r["utterances"] for r in rows_two] == [4, 4]
    for r1, r2 in zip(rows_one, rows_two):
        assert r1["cer"] == r2["cer"] and r1["loss"] == pytest.approx(r2["loss"], rel=1e-4)


def test_time_budget_stops_the_run_and_its_schedule_spans_the_budget(tmp_path, capsys):
    cfg = load_config(None, [*TINY, "train.epochs=100000", "train.max_minutes=0.05",
                             "optim.schedule=cosine", "optim.min_lr_ratio=0.01",
                             "train.log_every=1", "train.average_last=2"])
    records = synthetic_records(12)
    result = run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records, tmp_path)
    err = capsys.readouterr().err
    assert "time budget of 0.05 min reached" in err
    assert 1 <= result["epoch"] < 100000
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "checkpoint_choice.json").is_file()
    rows = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows if r["kind"] == "train"]
    peak = max(lrs)
    after = lrs[lrs.index(peak):]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(after))  # decays, never restarts
    assert after[-1] < 0.6 * peak  # well into the decay when the budget ran out
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert 0 < state["budget_spent"] <= 0.05 * 60 + 5.0


def test_init_copies_weights_and_resizes_the_output_layer(tmp_path, capsys):
    from ctc.checkpoint import read_model
    from ctc.data.tokens import CharTokenizer

    cfg = load_config(None, [*TINY, "train.epochs=3", "train.average_last=0"])
    first = synthetic_records(12)  # letters a, b, c
    run_training(cfg, SyntheticFeaturizer(feature_dim=8), first, first, tmp_path / "a")
    saved = read_model(tmp_path / "a")
    second = synthetic_records(12, words=("ab", "bd", "dab"), seed=3)  # d is new, c is gone
    tokenizer = CharTokenizer.build([r.text for r in second])
    cfg = load_config(None, [*TINY, "train.epochs=1", "train.max_steps=1", "optim.lr=1e-12",
                             "train.average_last=0"])
    run_training(cfg, SyntheticFeaturizer(feature_dim=8), second, second, tmp_path / "b",
                 tokenizer=tokenizer, init=saved)
    assert "output rows of 4 shared symbols (1 new)" in capsys.readouterr().err
    tuned = read_model(tmp_path / "b" / "last.pt")
    old, new = saved.state["model"], tuned.state["model"]
    for name in old:
        if not name.startswith("head."):
            torch.testing.assert_close(old[name], new[name], rtol=0, atol=1e-6, msg=name)
    for symbol in ("<b>", " ", "a", "b"):
        i, j = saved.tokenizer.symbols.index(symbol), tuned.tokenizer.symbols.index(symbol)
        torch.testing.assert_close(old["head.weight"][i], new["head.weight"][j], atol=1e-6,
                                   rtol=0)
    other = load_config(None, [*TINY, "model.hidden=48"])
    with pytest.raises(CarouselError, match=r"model.hidden=48 \(the checkpoint has 32\)"):
        run_training(other, SyntheticFeaturizer(feature_dim=8), second, second, tmp_path / "c",
                     tokenizer=tokenizer, init=saved)


def test_freeze_keeps_the_named_parameters_until_freeze_steps(tmp_path, capsys):
    from ctc.checkpoint import read_model

    records = synthetic_records(12)
    featurizer = SyntheticFeaturizer(feature_dim=8)
    run_training(load_config(None, [*TINY, "train.epochs=1", "train.max_steps=1",
                                    "optim.lr=1e-12", "train.average_last=0"]),
                 featurizer, records, records, tmp_path / "a")
    start = read_model(tmp_path / "a").state["model"]
    frozen = ["frontend", "encoder.*_layers.0.*"]

    def tune(name: str, steps: int, freeze_steps: int) -> dict[str, torch.Tensor]:
        cfg = load_config(None, [*TINY, "train.epochs=50", f"train.max_steps={steps}",
                                 "train.average_last=0", "optim.name=adamw",
                                 "optim.weight_decay=0.1", f"train.freeze={frozen}",
                                 f"train.freeze_steps={freeze_steps}"])
        run_training(cfg, featurizer, records, records, tmp_path / name,
                     init=read_model(tmp_path / "a"))
        return read_model(tmp_path / name / "last.pt").state["model"]

    def is_frozen(name: str) -> bool:
        return name.startswith("frontend.") or ".forward_layers.0." in name or \
            ".backward_layers.0." in name

    assert any(is_frozen(n) for n in start) and not all(is_frozen(n) for n in start)
    whole = tune("whole", 3, 0)
    assert "frozen for the whole run: " in capsys.readouterr().err
    for name in start:  # weight decay and momentum leave frozen parameters alone too
        same = torch.equal(start[name], whole[name])
        assert same == is_frozen(name), name
    later = tune("later", 4, 2)
    err = capsys.readouterr().err
    assert "frozen until step 2" in err and "step 2: unfreezing frontend, encoder.*_layers.0.*" \
        in err
    assert not any(torch.equal(start[n], later[n]) for n in start)


def test_freeze_patterns_are_checked_against_the_model(tmp_path):
    records = synthetic_records(4)
    featurizer = SyntheticFeaturizer(feature_dim=8)
    for freeze, message in (("[encoder.layers.0]", r"'encoder.layers.0' matches no parameter "
                                                   r"of the model \(its modules: frontend.convs"
                                                   r".0, .*head\)"),
                            ("['*']", "freezes every parameter")):
        cfg = load_config(None, [*TINY, "train.max_steps=1", f"train.freeze={freeze}"])
        with pytest.raises(CarouselError, match=message):
            run_training(cfg, featurizer, records, records, tmp_path / "x")
        assert not (tmp_path / "x" / "last.pt").exists()
    with pytest.raises(CarouselError, match=r"train\.freeze_steps=3: needs train\.freeze"):
        load_config(None, ["train.freeze_steps=3"])
    with pytest.raises(CarouselError, match=r"train\.freeze_steps=-1: must be >= 0"):
        load_config(None, ["train.freeze=[frontend]", "train.freeze_steps=-1"])


def test_intermediate_ctc_trains_a_lower_layer_through_the_same_output_layer(tmp_path,
                                                                              monkeypatch):
    """Each training batch takes the loss of the last layer and of layer 1, weighted 0.7 and
    0.3; validation the last layer's alone; the run learns as without."""
    from ctc.train import engine
    from ctc.train.ctc_impl import CTCLossFn

    real_loss, real_batch = engine.get_ctc_loss, engine.Trainer.train_batch
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []
    batches: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
    returned: list[float] = []

    def recording_loss(impl: str):
        loss = real_loss(impl)

        def fn(scores, targets, input_lengths, target_lengths):
            out = loss(scores, targets, input_lengths, target_lengths)
            calls.append((scores.detach().clone(), out.detach().clone()))
            return out
        return CTCLossFn(loss.name, loss.input, fn)

    def recording_batch(self, batch, sync):
        calls.clear()
        result = real_batch(self, batch, sync)
        batches.append(list(calls))
        returned.append(result[0])
        return result

    monkeypatch.setattr(engine, "get_ctc_loss", recording_loss)
    monkeypatch.setattr(engine.Trainer, "train_batch", recording_batch)
    cfg = load_config(None, [*TINY, "model.layers=2", "train.epochs=10", "train.average_last=0",
                             "train.inter_ctc_layers=[1]", "train.inter_ctc_weight=0.3"])
    records = synthetic_records(12)
    result = run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records, tmp_path)
    assert result["valid"]["cer"] == 0.0 and _valid_rows(tmp_path)[0]["cer"] > 0.5
    assert batches and all(len(b) == 2 for b in batches)  # the last layer, then layer 1
    for (final, final_loss), (lower, lower_loss), total in zip(*zip(*batches), returned,
                                                               strict=True):
        assert final.shape == lower.shape and not torch.equal(final, lower)
        assert total == pytest.approx(float((0.7 * final_loss + 0.3 * lower_loss).sum()),
                                      rel=1e-5)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    fresh = engine.build_model(load_config(tmp_path / "config.yaml").model,
                               len(saved["model"]["head.bias"]))
    assert saved["model"].keys() == fresh.state_dict().keys()  # no parameters added


def test_self_conditioned_ctc_trains_the_projection_and_decodes_with_it(tmp_path):
    """``model.self_condition_layers=[1]`` with intermediate CTC there: the run learns, the
    projection of layer 1's predictions is saved trained, and the saved model reads with it."""
    from ctc.checkpoint import read_model
    from ctc.train import engine

    cfg = load_config(None, [*TINY, "model.layers=2", "train.epochs=10", "train.average_last=0",
                             "train.inter_ctc_layers=[1]", "train.inter_ctc_weight=0.3",
                             "model.self_condition_layers=[1]"])
    records = synthetic_records(12)
    result = run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records, tmp_path)
    assert result["valid"]["cer"] == 0.0
    saved = read_model(tmp_path / "best.pt")
    assert saved.state["model_config"]["self_condition_layers"] == [1]
    projection = saved.state["model"]["self_condition.weight"]  # (E, V), zero at the start
    assert projection.shape == (64, len(saved.tokenizer)) and projection.abs().max() > 1e-3
    model = engine.build_model(load_config(tmp_path / "config.yaml").model, len(saved.tokenizer))
    model.load_state_dict(saved.state["model"])
    model.eval()
    x = torch.randn(1, 20, 8)
    with_it = model(x, torch.tensor([20]))[0]
    with torch.no_grad():
        model.self_condition.weight.zero_()
    assert not torch.allclose(with_it, model(x, torch.tensor([20]))[0])


@pytest.mark.parametrize("overrides, message", [
    (["model.self_condition_layers=[1]"],
     r"model\.self_condition_layers=\[1\]: must be trained by intermediate CTC: each of them "
     r"among train\.inter_ctc_layers=\[\]"),
    (["model.self_condition_layers=[1]", "train.inter_ctc_layers=[2]",
      "train.inter_ctc_weight=0.3"], r"among train\.inter_ctc_layers=\[2\]"),
    (["model.self_condition_layers=[3]", "train.inter_ctc_layers=[1]",
      "train.inter_ctc_weight=0.3"], r"model\.self_condition_layers=\[3\]: must be distinct "
                                     r"recurrent layers in 1\.\.2"),
])
def test_self_conditioning_options_are_checked(overrides, message):
    with pytest.raises(CarouselError, match=message):
        load_config(None, overrides)


@pytest.mark.parametrize("overrides, message", [
    (["train.inter_ctc_layers=[1]"], r"train\.inter_ctc_weight=0\.0: and train\.inter_ctc_layers "
                                     r"go together"),
    (["train.inter_ctc_weight=0.3"], r"go together .*train\.inter_ctc_layers=\[\]"),
    (["train.inter_ctc_layers=[3]", "train.inter_ctc_weight=0.3"],
     r"train\.inter_ctc_layers=\[3\]: must be distinct recurrent layers in 1\.\.2 "
     r"\(below the last of model\.layers=3\)"),
    (["train.inter_ctc_layers=[1, 1]", "train.inter_ctc_weight=0.3"], "must be distinct"),
    (["train.inter_ctc_layers=[0]", "train.inter_ctc_weight=0.3"], "must be distinct"),
    (["train.inter_ctc_layers=[1]", "train.inter_ctc_weight=1"], r"must be in \[0, 1\)"),
])
def test_intermediate_ctc_options_are_checked(overrides, message):
    with pytest.raises(CarouselError, match=message):
        load_config(None, overrides)


@pytest.mark.parametrize("precision, native, trained_in, note", [
    ("bf16", True, torch.bfloat16, None),
    ("bf16", False, torch.bfloat16, "without native bf16 instructions"),
    ("fp16", True, torch.float32, "needs a GPU; training in fp32"),
    ("auto", True, torch.bfloat16, "train.precision=auto: bf16 (native bf16 on this cpu: yes)"),
    ("auto", False, torch.float32, "train.precision=auto: fp32 (native bf16 on this cpu: no)"),
])
def test_cpu_precision_autocasts_training_steps_and_validates_in_fp32(
        tmp_path, monkeypatch, capsys, precision, native, trained_in, note):
    from ctc.train import engine

    seen: dict[bool, set] = {True: set(), False: set()}  # model.training -> frontend dtypes
    build = engine.build_model

    def build_and_watch(*args, **kwargs):
        model = build(*args, **kwargs)
        model.frontend.register_forward_hook(
            lambda module, inputs, output: seen[module.training].add(output[0].dtype))
        return model

    monkeypatch.setattr(engine, "build_model", build_and_watch)
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: native)
    cfg = load_config(None, [*TINY, "train.epochs=8", "train.average_last=0",
                             f"train.precision={precision}"])
    records = synthetic_records(12)
    result = run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records, tmp_path)
    assert seen == {True: {trained_in}, False: {torch.float32}}
    assert result["valid"]["cer"] <= 0.1  # bf16 steps still learn the tiny task
    notes = [line for line in capsys.readouterr().err.splitlines() if "precision" in line]
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1 and note in notes[0]
    state = torch.load(tmp_path / "best.pt", weights_only=True)
    assert all(t.dtype == torch.float32 for t in state["model"].values() if t.is_floating_point())
