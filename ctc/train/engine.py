"""The training loop shared by speech and handwriting: ``run_training``.

Legend: N batch, T input frames, T' output frames, V vocabulary, S target tokens.

One optimiser step = ``accum_steps`` global batches of at most ``data.max_frames`` padded frames.
Each process takes its share of every global batch; the loss is normalised by the global number
of utterances (or tokens), so 1 process and k processes compute the same gradient.
Resumable: ``last.pt`` holds everything the loop needs (weights, optimiser, scheduler, scaler,
RNG states, epoch, step, batches consumed), and the data order depends only on (seed, epoch).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from ctc import checkpoint as ckpt
from ctc.cpu_features import cpu_has_native_bf16
from ctc.data.batching import Batch, BucketBatchSampler, PadCollate, bucket_batches
from ctc.data.manifest import Record
from ctc.data.tokens import tokenizer_from_dict
from ctc.decode.greedy import greedy_decode
from ctc.distributed import (
    DistInfo,
    all_reduce_sum,
    barrier,
    broadcast_object,
    gather_objects,
    setup_distributed,
    teardown,
)
from ctc.errors import CarouselError, InputError
from ctc.io import atomic_write_text, remove_orphan_temporaries
from ctc.loss.feasibility import required_frames_batch
from ctc.metrics.errors import count_errors
from ctc.modality import Featurizer, featurizer_state, modality_of
from ctc.models import CTCModel, RNNEncoder, build_model
from ctc.threads import use_threads
from ctc.train.config import TrainConfig, check_resume, save_config
from ctc.train.ctc_impl import get_ctc_loss
from ctc.train.dataset import FeaturizedDataset
from ctc.train.freeze import count_parameters, select_frozen, set_frozen
from ctc.train.init import check_architecture, initialize_from
from ctc.train.monitor import MetricsLog, plot_curves
from ctc.train.prepare import build_tokenizer, prepare_examples
from ctc.train.schedule import Budget, lr_factor


def _say(message: str, info: DistInfo) -> None:
    if info.is_main:
        try:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)
        except ImportError:
            print(message, file=sys.stderr)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _autocast(precision: str, device: torch.device):
    if precision == "fp32" or device.type not in ("cuda", "cpu"):
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device.type, dtype=dtype)


def _training_precision(requested: str, device: torch.device, info: DistInfo) -> str:
    """The precision the run trains in: fp16 needs a GPU; bf16 also runs on a CPU, where it is
    fast only with native bf16 instructions (``cpu_has_native_bf16``); ``auto`` takes bf16
    where the hardware has it natively, else fp32."""
    if requested == "auto":
        if device.type == "cuda":
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        else:
            native = device.type == "cpu" and cpu_has_native_bf16()
        chosen = "bf16" if native else "fp32"
        _say(f"train.precision=auto: {chosen} (native bf16 on this {device.type}: "
             f"{'yes' if native else 'no'})", info)
        return chosen
    if requested == "fp32" or device.type == "cuda":
        return requested
    if requested == "bf16" and device.type == "cpu":
        if not cpu_has_native_bf16():
            _say("note: train.precision=bf16 on a CPU without native bf16 instructions "
                 "(avx512_bf16 / amx_bf16): it may train slower than fp32", info)
        return "bf16"
    _say(f"note: train.precision={requested} needs a GPU; training in fp32", info)
    return "fp32"


class Trainer:
    """Holds the state of one run; ``run()`` trains and returns the final metrics."""

    def __init__(self, config: TrainConfig, featurizer: Featurizer, train_records: list[Record],
                 valid_records: list[Record], out_dir: Path, resume: bool, tokenizer,
                 info: DistInfo, init: ckpt.SavedModel | None = None) -> None:
        self.info = info
        self.out_dir = Path(out_dir)
        self.featurizer = featurizer
        self.modality = modality_of(featurizer)
        self.resume = resume
        loop = config.train
        self.precision = _training_precision(loop.precision, info.device, info)
        self.ctc_loss = get_ctc_loss(loop.ctc_impl)
        threads = use_threads(loop.threads)
        if loop.threads == 0:
            _say(f"threads: {threads} (the free cores now; train.threads=N to choose)", info)
        seed_everything(loop.seed)

        self.tokenizer = tokenizer or self._resumed_tokenizer(out_dir, resume) or \
            build_tokenizer(config.tokenizer, [r.text for r in train_records])
        self.config = self._resolve_model_config(config, featurizer)
        self.model: CTCModel = build_model(self.config.model, len(self.tokenizer))
        for module in self.model.modules():
            if isinstance(module, RNNEncoder):
                module.cpu_bf16_min_sequences = loop.cpu_bf16_min_sequences
        if init is not None and not (resume and (self.out_dir / ckpt.LAST).is_file()):
            check_architecture(self.config.model, init.state["model_config"], str(init.path))
            report = initialize_from(self.model, list(self.tokenizer.symbols),
                                     init.state["model"], list(init.tokenizer.symbols),
                                     str(init.path))
            _say(report.summary(str(init.path)), info)
        self.frozen = select_frozen(self.model, loop.freeze)
        if loop.freeze_steps and info.world > 1:
            raise InputError("train.freeze_steps: unfreezing during a multi-process run is "
                             "not supported (the gradient synchronisation is set up for the "
                             "parameters that train at the start); freeze for the whole run")
        self.frozen_now = False
        if self.frozen:
            until = (f"until step {loop.freeze_steps}" if loop.freeze_steps
                     else "for the whole run")
            _say(f"frozen {until}: {len(self.frozen)} parameter tensors, "
                 f"{count_parameters(self.model, self.frozen):,} of "
                 f"{sum(p.numel() for p in self.model.parameters()):,} weights "
                 f"({', '.join(loop.freeze)})", info)
        self.model = self.model.to(info.device)

        workers = config.data.num_workers
        self.train_examples, train_check = prepare_examples(
            train_records, self.tokenizer, featurizer, self.model.output_lengths,
            num_workers=workers)
        self.valid_examples, valid_check = prepare_examples(
            valid_records, self.tokenizer, featurizer, self.model.output_lengths,
            drop_infeasible=False, num_workers=workers)
        _say(train_check.summary("train"), info)
        if valid_records:
            _say(valid_check.summary("valid"), info)
        self.data_check = {"train": train_check.to_dict(), "valid": valid_check.to_dict()}
        if not self.train_examples:
            raise CarouselError("no trainable utterances left after the data check "
                                f"({train_check.summary('train')})")
        self.train_set = FeaturizedDataset(self.train_examples, featurizer, train=True,
                                           seed=loop.seed)
        self.valid_set = FeaturizedDataset(self.valid_examples, featurizer, train=False)
        self.train_lengths = [ex.frames for ex in self.train_examples]
        batches = len(bucket_batches(self.train_lengths, config.data.max_frames))
        self.batches_per_epoch = batches
        steps_per_epoch = math.ceil(batches / loop.accum_steps)
        self.total_steps = loop.max_steps or steps_per_epoch * loop.epochs

        opt = self.config.optim
        params = list(self.model.parameters())  # frozen ones too: they get no gradient
        kwargs = {"lr": opt.lr, "betas": tuple(opt.betas), "eps": opt.eps,
                  "weight_decay": opt.weight_decay}
        optimizer = torch.optim.AdamW if opt.name == "adamw" else torch.optim.Adam
        self.optimizer = optimizer(params, **kwargs)
        self.budget = Budget(loop.max_minutes)
        self.budget_stop = False
        self.valid_seconds: float | None = None  # the last validation's duration
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_factor(opt.schedule, opt.warmup_steps, self.total_steps,
                                      opt.min_lr_ratio,
                                      (lambda _: self.budget.fraction()) if self.budget.enabled
                                      else None))
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.step = 0
        self._apply_freeze()  # before DDP, which synchronises the parameters that train
        self.ddp = (DistributedDataParallel(self.model, device_ids=None if info.device.type
                                            == "cpu" else [info.device.index])
                    if info.world > 1 else None)

        self.epoch = 0
        self.batch_in_epoch = 0
        self.epoch_loss = [0.0, 0]  # sum of utterance losses, utterances (this process)
        self.scores: list[tuple[float, int]] = []  # (validation metric, epoch), kept epochs
        self.unreadable_named: set[int] = set()  # training examples already reported
        self.counters = {"nonfinite_batches": 0, "skipped_steps": 0, "unreadable": 0,
                         "infeasible_in_batch": 0}
        self.last_valid: dict[str, Any] = {}
        self.log = MetricsLog(self.out_dir / "train_log.jsonl",
                              self.out_dir / "tensorboard" if info.is_main else None)

    @staticmethod
    def _resumed_tokenizer(out_dir: Path, resume: bool):
        """The tokenizer of the run being resumed, if any (never rebuilt from the texts)."""
        path = Path(out_dir) / ckpt.LAST
        if not (resume and path.is_file()):
            return None
        return tokenizer_from_dict(ckpt.load_checkpoint(path)["tokenizer"])

    @staticmethod
    def _resolve_model_config(config: TrainConfig, featurizer: Featurizer) -> TrainConfig:
        model = config.model
        expected = modality_of(featurizer).model_frontend
        if model.frontend != expected:
            raise CarouselError(f"model.frontend={model.frontend!r} does not fit "
                                f"{featurizer.modality} input (use {expected!r})")
        if model.input_dim == 0:
            model = replace(model, input_dim=int(featurizer.feature_dim))
        elif model.input_dim != featurizer.feature_dim:
            raise CarouselError(f"model.input_dim={model.input_dim} but the featurizer gives "
                                f"{featurizer.feature_dim} (set it to 0 to follow the featurizer)")
        return replace(config, model=model)

    # -- checkpoints -------------------------------------------------------------------------

    def _model_state(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "model_config": self.config.model.to_dict(),
                "vocab_size": len(self.tokenizer), "tokenizer": self.tokenizer.to_dict(),
                "modality": self.modality.name, "featurizer": featurizer_state(self.featurizer),
                "epoch": self.epoch, "step": self.step,
                "metrics": metrics or {}, "config": self.config.to_dict()}

    def save_last(self) -> None:
        """Write the resume state (collective: every process calls it at the same step)."""
        rng = gather_objects(_rng_state(), self.info)  # one state per process
        if not self.info.is_main:
            return
        state = self._model_state(self.last_valid)
        state.update(optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                     scaler=self.scaler.state_dict() if self.scaler else None,
                     rng=rng, batch_in_epoch=self.batch_in_epoch,
                     epoch_loss=list(self.epoch_loss), scores=[list(s) for s in self.scores],
                     counters=dict(self.counters), budget_spent=self.budget.elapsed())
        ckpt.save_checkpoint(state, self.out_dir / ckpt.LAST)

    def load_last(self) -> bool:
        path = self.out_dir / ckpt.LAST
        if not path.is_file():
            return False
        state = ckpt.load_checkpoint(path)  # on CPU: RNG states must be; the rest is copied
        if state["vocab_size"] != len(self.tokenizer):
            raise CarouselError(f"{path}: vocabulary of {state['vocab_size']} tokens, but this "
                                f"run's tokenizer has {len(self.tokenizer)}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"][self.info.rank if self.info.rank < len(state["rng"]) else 0])
        self.step, self.epoch = state["step"], state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.epoch_loss = list(state["epoch_loss"])
        self.scores = [(float(m), int(e)) for m, e in state["scores"]]
        self.counters.update(state["counters"])
        self.budget.spent = float(state.get("budget_spent", 0.0))
        self.last_valid = state.get("metrics", {})
        return True

    def _ranked(self) -> list[tuple[float, int]]:
        """Kept epochs, best first (lower metric; on ties, the later epoch)."""
        return sorted(self.scores, key=lambda s: (s[0], -s[1]))

    def save_epoch(self, metrics: dict[str, Any]) -> None:
        """Epoch checkpoint; keep best-k by the validation metric and the last k for averaging."""
        if not self.info.is_main:
            return
        loop = self.config.train
        state = self._model_state(metrics)
        ckpt.save_checkpoint(state, self.out_dir / ckpt.epoch_name(self.epoch))
        score = metrics.get(loop.best_metric, math.inf) if metrics else math.inf
        self.scores.append((float(score), self.epoch))
        best = self._ranked()[: max(1, loop.keep_best)]
        if best[0][1] == self.epoch:
            ckpt.save_checkpoint(state, self.out_dir / ckpt.BEST)
        keep = {e for _, e in best} | {e for _, e in self.scores[-max(1, loop.average_last):]}
        for _, e in self.scores:
            if e not in keep:
                (self.out_dir / ckpt.epoch_name(e)).unlink(missing_ok=True)
        self.scores = [s for s in self.scores if s[1] in keep]

    def choose_checkpoint(self) -> dict[str, Any]:
        """Average the last ``average_last`` epochs, and the best ``keep_best``; validate each
        average and keep the better one as ``averaged.pt`` only if it validates better than the
        best single epoch (``best.pt``). Writes ``checkpoint_choice.json`` (collective)."""
        loop, info = self.config.train, self.info
        metric = loop.best_metric
        self.scores = broadcast_object(self.scores, info)  # kept by the main process
        if not self.scores:
            return {}
        best_score, best_epoch = self._ranked()[0]
        candidates = [{"file": ckpt.BEST, "epochs": [best_epoch + 1], metric: best_score}]
        groups = {}
        if loop.average_last > 1 and self.valid_examples:
            groups = {"last": sorted(e for _, e in self.scores)[-loop.average_last:],
                      "best": sorted(e for _, e in self._ranked()[: max(1, loop.keep_best)])}
        tried: set[tuple[int, ...]] = set()
        averages: dict[tuple[int, ...], dict[str, Any]] = {}
        for name, epochs in groups.items():
            epochs = [e for e in epochs if (self.out_dir / ckpt.epoch_name(e)).is_file()]
            if len(epochs) < 2 or tuple(epochs) in tried:
                continue
            tried.add(tuple(epochs))
            state = None
            if info.is_main:
                state = ckpt.average_checkpoints(
                    [self.out_dir / ckpt.epoch_name(e) for e in epochs])
            state = broadcast_object(state, info)
            score = self._validate_weights(state["model"]).get(metric, math.inf)
            averages[tuple(epochs)] = state
            candidates.append({"file": f"average of the {name} {len(epochs)} epochs",
                               "epochs": [e + 1 for e in epochs], metric: score})
        winner = min(candidates, key=lambda c: c[metric])
        chosen = ckpt.BEST
        if info.is_main:
            target = self.out_dir / ckpt.AVERAGED
            if winner["file"] != ckpt.BEST and winner[metric] < best_score:
                state = averages[tuple(e - 1 for e in winner["epochs"])]
                state["metrics"] = {**state.get("metrics", {}), metric: winner[metric]}
                ckpt.save_checkpoint(state, target)
                chosen = ckpt.AVERAGED
            else:
                target.unlink(missing_ok=True)  # a stale average must not be picked
            choice = {"metric": metric, "chosen": chosen, "candidates": candidates}
            atomic_write_text(self.out_dir / ckpt.CHOICE, json.dumps(choice, indent=1) + "\n")
            shown = "; ".join(f"{c['file']}: {metric} {c[metric]:.4g}" for c in candidates)
            _say(f"checkpoint choice by validation {metric}: {chosen} ({shown})", info)
        return {"chosen": chosen, "candidates": candidates}

    def _validate_weights(self, weights: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Validation metrics of the model with ``weights``, the current ones restored after."""
        current = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(weights)
        try:
            return self.validate()
        finally:
            self.model.load_state_dict(current)

    # -- steps -------------------------------------------------------------------------------

    def _dummy_input(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A tiny all-zero input so a process with an empty share still joins the all-reduce."""
        width = 4 * self.model.subsampling
        dim = self.config.model.input_dim
        if self.config.model.frontend == "line_cnn":
            x = torch.zeros(1, 1, dim, width)
        else:
            x = torch.zeros(1, width, dim)
        return x.to(self.info.device), torch.tensor([width], device=self.info.device)

    def _apply_freeze(self) -> None:
        """Freeze ``train.freeze``'s parameters before step ``train.freeze_steps`` (always when
        it is 0), unfreeze them from then on; a resumed run lands in the same state."""
        loop = self.config.train
        frozen = bool(self.frozen) and (loop.freeze_steps == 0 or self.step < loop.freeze_steps)
        if frozen == self.frozen_now:
            return
        set_frozen(self.model, self.frozen, frozen)
        if self.frozen_now and not frozen:
            _say(f"step {self.step}: unfreezing {', '.join(loop.freeze)}", self.info)
        self.frozen_now = frozen

    def train_batch(self, batch: Batch, sync: bool) -> tuple[float, int]:
        """Forward/backward one micro-batch; returns (loss sum, utterances) of this process."""
        info, loop = self.info, self.config.train
        self._apply_freeze()
        self.counters["unreadable"] += len(batch.errors)
        for index, message in batch.errors:  # each unreadable file named once, then skipped
            if index not in self.unreadable_named:
                self.unreadable_named.add(index)
                _say(f"warning: skipping {self.train_examples[index].record.id}: {message}", info)
        module = self.ddp or self.model
        no_sync = self.ddp.no_sync() if (self.ddp is not None and not sync) else \
            contextlib.nullcontext()
        device = info.device
        empty = len(batch) == 0
        if empty:
            inputs, lengths = self._dummy_input()
        else:
            inputs = batch.inputs.to(device, non_blocking=True)
            lengths = batch.lengths.to(device)
        targets = batch.targets.to(device)
        target_lengths = batch.target_lengths.to(device)
        inter_layers = loop.inter_ctc_layers
        with no_sync:
            with _autocast(self.precision, device):
                outputs, out_lengths, *inter = module(inputs, lengths, output=self.ctc_loss.input,
                                                      intermediate=inter_layers)
            if empty:  # outputs (N, T', V): logits or log-probs, as the loss takes; lengths (N,)
                losses = outputs.sum()[None] * 0.0
                ok = torch.zeros(1, dtype=torch.bool, device=device)
                units = torch.zeros(1, device=device)
            else:
                losses = self.ctc_loss(outputs, targets, out_lengths, target_lengths)  # (N,)
                if inter_layers:
                    w = loop.inter_ctc_weight
                    inter_losses = [self.ctc_loss(scores, targets, out_lengths, target_lengths)
                                    for scores in inter[0]]
                    losses = (1.0 - w) * losses + w * torch.stack(inter_losses).mean(0)
                ok = out_lengths >= required_frames_batch(targets, target_lengths)
                units = (target_lengths.float() if loop.loss_norm == "token"
                         else torch.ones_like(losses))
                self.counters["infeasible_in_batch"] += int((~ok).sum())
            bad = (ok & ~torch.isfinite(losses)).any()
            masked = torch.where(ok & torch.isfinite(losses), losses, torch.zeros_like(losses))
            totals = all_reduce_sum(torch.stack([(units * ok).sum(), bad.float()]).detach(),
                                    info)
            if totals[1] > 0:
                self.counters["nonfinite_batches"] += 1
                _say(f"warning: non-finite CTC loss in a batch at step {self.step}; "
                     f"batch skipped ({self.counters['nonfinite_batches']} so far)", info)
                return 0.0, 0
            denominator = totals[0].clamp(min=1.0)
            loss = masked.sum() / denominator * (info.world / loop.accum_steps)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
            else:
                loss.backward()
        return float(masked.detach().sum()), int(ok.sum())

    def optimizer_step(self) -> float:
        loop = self.config.train
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        max_norm = loop.grad_clip if loop.grad_clip > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        elif math.isfinite(norm):
            self.optimizer.step()
        else:
            self.counters["skipped_steps"] += 1
            _say(f"warning: non-finite gradient norm at step {self.step}; update skipped",
                 self.info)
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        return norm

    # -- validation --------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> dict[str, Any]:
        """Greedy-decode the validation set: loss (feasible utterances), CER, WER.

        Collective: each process decodes every ``world``-th batch; all get the same metrics.
        """
        if not self.valid_examples:
            return {}
        data, info = self.config.data, self.info
        max_frames = data.valid_max_frames or data.max_frames
        lengths = [ex.frames for ex in self.valid_examples]
        batches = bucket_batches(lengths, max_frames)[info.rank::info.world]
        loader = torch.utils.data.DataLoader(
            self.valid_set, batch_sampler=batches, num_workers=data.num_workers,
            collate_fn=PadCollate(self.modality.time_axis))
        self.model.eval()
        refs, hyps, loss_sum, loss_count, unreadable = [], [], 0.0, 0, 0
        try:
            for batch in loader:
                unreadable += len(batch.errors)
                if len(batch) == 0:
                    continue
                device = self.info.device
                outputs, out_lengths = self.model(batch.inputs.to(device),
                                                  batch.lengths.to(device),
                                                  output=self.ctc_loss.input)
                targets = batch.targets.to(device)
                target_lengths = batch.target_lengths.to(device)
                losses = self.ctc_loss(outputs, targets, out_lengths, target_lengths)
                log_probs = outputs.log_softmax(-1) if self.ctc_loss.input == "logits" else outputs
                ok = (out_lengths >= required_frames_batch(targets, target_lengths)) & \
                    torch.isfinite(losses)
                loss_sum += float(losses[ok].sum())
                loss_count += int(ok.sum())
                for index, hyp in zip(batch.indices,
                                      greedy_decode(log_probs, out_lengths, self.tokenizer.blank)):
                    refs.append(self.valid_examples[index].record.text)
                    hyps.append(self.tokenizer.text(hyp.tokens))
        finally:
            self.model.train()
        if info.world > 1:
            parts = gather_objects((refs, hyps, loss_sum, loss_count, unreadable), info)
            refs = [r for p in parts for r in p[0]]
            hyps = [h for p in parts for h in p[1]]
            loss_sum = sum(p[2] for p in parts)
            loss_count = sum(p[3] for p in parts)
            unreadable = sum(p[4] for p in parts)
        return {"loss": loss_sum / max(1, loss_count),
                "cer": count_errors(refs, hyps, "char").rate,
                "wer": count_errors(refs, hyps, "word").rate,
                "utterances": len(refs), "unreadable": unreadable}

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        info, loop = self.info, self.config.train
        if info.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.config, self.out_dir / "config.yaml")
        resumed = self.resume and self.load_last()
        if resumed:
            _say(f"resuming from {self.out_dir / ckpt.LAST}: epoch {self.epoch + 1}, "
                 f"step {self.step}", info)
            if info.is_main:
                self.log.truncate_after(self.step)
        elif info.is_main:
            if self.log.rows():
                _say(f"note: {self.out_dir} holds the log of a run that stopped before its "
                     "first checkpoint; starting over with a new train_log.jsonl", info)
            elif self.resume:
                _say(f"note: nothing to resume in {self.out_dir} (no {ckpt.LAST}); "
                     "training from the start", info)
            self.log.truncate_after(-1)
        barrier(info)
        self.model.train()
        self.budget.start()
        done = self.step >= self.total_steps or self.epoch >= loop.epochs
        while not done:
            self._train_epoch()
            train_loss = self.epoch_loss[0] / max(1, self.epoch_loss[1])
            started = time.perf_counter()
            metrics = {**self.validate(), "train_loss": train_loss}
            self.valid_seconds = time.perf_counter() - started
            self.last_valid = metrics
            row = {"kind": "valid", "epoch": self.epoch + 1, "step": self.step, **metrics}
            if info.is_main:
                self.log.write(row)
                line = f"epoch {self.epoch + 1}: train loss {train_loss:.3f}"
                if "cer" in metrics:
                    line += (f", valid loss {metrics['loss']:.3f}, CER {100 * metrics['cer']:.2f}%"
                             f", WER {100 * metrics['wer']:.2f}%")
                _say(line, info)
            self.save_epoch(metrics)
            self.epoch += 1
            self.batch_in_epoch = 0
            self.epoch_loss = [0.0, 0]
            done = (self.step >= self.total_steps or self.epoch >= loop.epochs
                    or self.budget_stop)
            self.save_last()
            barrier(info)
        return self._finish()

    def _reserve(self, train_fps: float) -> float:
        """Seconds to keep for the end of a budgeted run: a validation (the last one's duration,
        or before any, its frames at three times the training speed) per model the checkpoint
        choice validates, with a margin."""
        margin = min(5.0, 0.02 * self.budget.seconds)
        per_validation = self.valid_seconds
        if per_validation is None:
            if self.step < 20:  # the first steps' speed says little (threads, caches warming)
                return margin
            frames = sum(ex.frames for ex in self.valid_examples)
            per_validation = frames / max(1.0, 3.0 * train_fps)
        averages = 2 if self.config.train.average_last > 1 else 0
        return 1.25 * per_validation * (1 + averages) + margin

    def _train_epoch(self) -> None:
        info, loop, data = self.info, self.config.train, self.config.data
        sampler = BucketBatchSampler(self.train_lengths, data.max_frames, shuffle=data.shuffle,
                                     seed=loop.seed, epoch=self.epoch, rank=info.rank,
                                     world=info.world, skip=self.batch_in_epoch)
        generator = torch.Generator().manual_seed(loop.seed * 1000003 + self.epoch)
        loader = torch.utils.data.DataLoader(
            self.train_set, batch_sampler=sampler, num_workers=data.num_workers,
            collate_fn=PadCollate(self.modality.time_axis), generator=generator,
            pin_memory=info.device.type == "cuda")
        bar = None
        if info.is_main and loop.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.batches_per_epoch, initial=self.batch_in_epoch,
                       desc=f"epoch {self.epoch + 1}/{loop.epochs}", unit="batch",
                       dynamic_ncols=True, leave=False)
        frames, started, window_loss = 0, time.perf_counter(), [0.0, 0]
        micro = pending = 0
        boundary = (self.batch_in_epoch, list(self.epoch_loss))  # at the last optimiser step
        try:
            for batch in loader:
                self.batch_in_epoch += 1
                micro += 1
                pending += 1
                last = self.batch_in_epoch == self.batches_per_epoch
                sync = micro % loop.accum_steps == 0 or last
                loss_sum, count = self.train_batch(batch, sync)
                self.epoch_loss[0] += loss_sum
                self.epoch_loss[1] += count
                window_loss[0] += loss_sum
                window_loss[1] += count
                frames += batch.frames * info.world
                if not sync:
                    continue
                norm = self.optimizer_step()
                micro = 0
                boundary = (self.batch_in_epoch, list(self.epoch_loss))
                elapsed = max(1e-9, time.perf_counter() - started)
                mean_loss = window_loss[0] / max(1, window_loss[1])
                if bar is not None:
                    bar.set_postfix(loss=f"{mean_loss:.3f}", fps=f"{frames / elapsed:.0f}",
                                    refresh=False)
                    bar.update(pending)
                    pending = 0
                if info.is_main and self.step % max(1, loop.log_every) == 0:
                    self.log.write({"kind": "train", "epoch": self.epoch + 1, "step": self.step,
                                    "loss": mean_loss, "lr": self.scheduler.get_last_lr()[0],
                                    "grad_norm": norm, "frames_per_s": frames / elapsed})
                    window_loss = [0.0, 0]
                if loop.checkpoint_every and self.step % loop.checkpoint_every == 0 and not last:
                    self.save_last()
                if self.step >= self.total_steps:
                    break
                if self.budget.exhausted(self._reserve(frames / elapsed)):
                    self.budget_stop = True
                    _say(f"time budget of {loop.max_minutes:g} min reached at step {self.step} "
                         f"({self.budget.elapsed() / 60:.1f} min spent): validating and "
                         "choosing the checkpoint", info)
                    break
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            self._save_interrupted(*boundary)
            raise
        if bar is not None:
            bar.close()

    def _save_interrupted(self, batch_in_epoch: int, epoch_loss: list) -> None:
        """After Ctrl-C in a single-process run: save the state of the last optimiser step
        (micro-batches since then are dropped) so that ``resume`` goes on from there. Dropout
        masks after the resume differ from those an uninterrupted run would have drawn."""
        if self.info.world > 1:
            return
        self.batch_in_epoch, self.epoch_loss = batch_in_epoch, epoch_loss
        self.optimizer.zero_grad(set_to_none=True)
        self.save_last()
        _say(f"interrupted: the state at step {self.step} is saved in "
             f"{self.out_dir / ckpt.LAST}; resume to go on", self.info)

    def _finish(self) -> dict[str, Any]:
        info = self.info
        result: dict[str, Any] = {}
        if self.unreadable_named:
            _say(f"warning: {len(self.unreadable_named)} unreadable training file(s) were "
                 "skipped (each named above when first met)", info)
        choice = self.choose_checkpoint()
        if info.is_main:
            averaged = self.out_dir / ckpt.AVERAGED if choice.get("chosen") == ckpt.AVERAGED \
                else None
            plot_curves(self.log.rows(), self.out_dir / "curves.png")
            best = self._ranked()[0] if self.scores else None
            result = {"epoch": self.epoch, "step": self.step,
                      "valid": self.last_valid, "data_check": self.data_check,
                      **self.counters,
                      "best_epoch": best[1] + 1 if best else None,
                      "best_" + self.config.train.best_metric: best[0] if best else None,
                      "checkpoint": str(ckpt.find_checkpoint(self.out_dir)),
                      "averaged": str(averaged) if averaged else None,
                      "checkpoint_choice": choice}
        self.log.close()
        return broadcast_object(result, info)


def run_training(config: TrainConfig, featurizer: Featurizer, train_records: list[Record],
                 valid_records: list[Record], out_dir: Path, resume: bool = False,
                 tokenizer=None, init: ckpt.SavedModel | None = None) -> dict:
    """Train a CTC model on ``train_records``, validating on ``valid_records`` each epoch.

    Writes ``config.yaml`` (resolved), ``last.pt`` (resume state), ``epoch-NNN.pt`` (best-k and
    last-k), ``best.pt``, ``averaged.pt`` (when an average validates better),
    ``checkpoint_choice.json``, ``train_log.jsonl`` and ``curves.png`` into ``out_dir``. Under
    ``torchrun`` it trains data-parallel. ``tokenizer`` (optional) replaces the one built from
    the training texts; ``init`` (a saved model) gives the starting weights
    (:mod:`ctc.train.init`). Returns the final metrics (same on every process).
    """
    out_dir = Path(out_dir)
    if not resume and (out_dir / ckpt.LAST).is_file():
        raise CarouselError(f"{out_dir} already holds a training run ({ckpt.LAST}); resume it "
                            "or choose another output directory")
    if resume and (out_dir / ckpt.LAST).is_file():
        check_resume(config, out_dir)
    info = setup_distributed(config.train.device)
    if info.is_main and out_dir.is_dir():
        for orphan in remove_orphan_temporaries(out_dir):
            _say(f"note: removed {orphan.name}, left by a write that was interrupted", info)
    try:
        trainer = Trainer(config, featurizer, train_records, valid_records, out_dir, resume,
                          tokenizer, info, init)
        result = trainer.run()
    except BaseException:
        teardown(info, synchronize=False)
        raise
    teardown(info)
    return result

