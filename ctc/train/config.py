"""Training configuration: YAML -> dataclasses, ``--set key.sub=value`` overrides, saving.

Sections: ``frontend`` (a free dict handed verbatim to the modality's featurizer; opaque here),
``model`` (:class:`ctc.models.ModelConfig`), ``optim``, ``train``, ``data``, ``tokenizer``.
Override values are parsed as YAML scalars and then typed by the dataclass field they set, so
``--set optim.lr=1e-3`` is a float and ``--set model.cnn_channels=[8,16]`` a list of ints.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ctc.errors import InputError
from ctc.io import atomic_write_text
from ctc.models import ModelConfig
from ctc.models.rnn import CPU_BF16_MIN_SEQUENCES

PRECISIONS = ("fp32", "bf16", "fp16", "auto")  # train.precision (ctc.train.engine)


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule.

    name: ``adam`` | ``adamw``. schedule: ``constant`` | ``cosine`` (to ``min_lr_ratio * lr`` at
    the last step) | ``linear`` (likewise, linearly) | ``noam`` (``lr * sqrt(warmup / step)``
    after warm-up, Vaswani et al. 2017). The first ``warmup_steps`` optimiser steps ramp linearly.
    """

    name: str = "adam"
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 500
    min_lr_ratio: float = 0.01


@dataclass
class LoopConfig:
    """The training loop.

    epochs / max_steps (0: no limit) / max_minutes (wall-clock budget, 0: none): when to stop,
    whichever comes first; with a budget the learning-rate schedule spans the budget (its decay
    follows the fraction of the time spent) and the run stops early enough to validate and
    choose its checkpoint within it. accum_steps: micro-batches per optimiser step.
    grad_clip: max global gradient norm (0: off). precision: ``fp32`` | ``bf16`` | ``fp16`` |
    ``auto`` (autocast of the training steps; fp16 on a GPU only, bf16 also on a CPU, fast there
    with native bf16 instructions: ``ctc.cpu_features``; ``auto``: bf16 where the hardware has
    it natively, else fp32; validation runs in fp32, as decoding does).
    cpu_bf16_min_sequences: under bf16 on a CPU, a batch of fewer sequences runs its recurrent
    layers in fp32, faster there (``ctc.models.rnn.CPU_BF16_MIN_SEQUENCES``; 1: always bf16).
    ctc_impl: ``carousel`` (ctc.loss.ctc_loss) | ``torch``.
    loss_norm: ``utterance`` (sum / utterances) | ``token`` (sum / target tokens).
    checkpoint_every: steps between checkpoints (0: only each epoch). keep_best: epoch
    checkpoints kept by ``best_metric`` (``cer`` | ``wer`` | ``loss``); average_last: at the
    end, the last k epoch checkpoints are averaged, and so are the best ``keep_best``; each
    average is validated and the better one becomes ``averaged.pt`` only if it validates better
    than the best single epoch (``best.pt``); ``checkpoint_choice.json`` records the
    comparison, and decoding picks the validated best (0/1: no averaging).
    device: ``auto`` | ``cpu`` | ``cuda``. threads: torch intra-op threads (0: the cores that
    are free when training starts, ``ctc.threads.intra_op_threads``). progress: tqdm bar.
    log_every: steps between log rows. freeze: parameters left as they are, by module path or
    shell-style pattern of their names (``[frontend, "encoder.*_layers.0.*"]``; the model's
    names are listed when a pattern matches none), for fine-tuning (``ctc.train.freeze``);
    freeze_steps: optimiser steps after which they train too (0: frozen for the whole run).
    inter_ctc_layers, inter_ctc_weight: intermediate CTC (Lee & Watanabe 2021, "Intermediate
    loss regularization for CTC-based speech recognition"): the outputs of these recurrent
    layers (1-based, below the last) are read by the same output layer and trained with CTC on
    the same targets; the loss is ``(1 - w) * final + w * mean(intermediate)`` with ``w`` =
    ``inter_ctc_weight`` (0: off). Training only: it adds no parameters, and decoding reads
    the last layer as before (with ``model.self_condition_layers`` the same layers' predictions
    also feed the layers above, in decoding too). The logged train loss is that sum; the valid
    loss, the last layer's alone.
    """

    epochs: int = 10
    max_steps: int = 0
    max_minutes: float = 0.0
    accum_steps: int = 1
    grad_clip: float = 5.0
    precision: str = "fp32"
    cpu_bf16_min_sequences: int = CPU_BF16_MIN_SEQUENCES
    seed: int = 0
    ctc_impl: str = "carousel"
    loss_norm: str = "utterance"
    checkpoint_every: int = 1000
    keep_best: int = 3
    best_metric: str = "cer"
    average_last: int = 5
    device: str = "auto"
    threads: int = 0
    progress: bool = True
    log_every: int = 50
    freeze: list[str] = field(default_factory=list)
    freeze_steps: int = 0
    inter_ctc_layers: list[int] = field(default_factory=list)
    inter_ctc_weight: float = 0.0


@dataclass
class DataConfig:
    """Data: manifests (read by the front-end's command line), batching and loading.

    max_frames: padded input frames per global batch (all ranks together, before
    accumulation). valid_max_frames: the same for validation (0: max_frames).
    """

    train_manifest: str = ""
    valid_manifest: str = ""
    max_frames: int = 20000
    valid_max_frames: int = 0
    num_workers: int = 0
    shuffle: bool = True


@dataclass
class TokenizerConfig:
    """kind: ``char`` | ``bpe`` (sentencepiece). vocab_size: BPE pieces. min_count: characters
    rarer than this are left out (their utterances skipped). path: a saved tokenizer JSON
    (``to_dict``) to use instead of building one from the training texts."""

    kind: str = "char"
    vocab_size: int = 256
    min_count: int = 1
    path: str = ""


@dataclass
class TrainConfig:
    """Everything a training run needs, as saved in ``config.yaml`` next to its checkpoints."""

    frontend: dict[str, Any] = field(default_factory=dict)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: LoopConfig = field(default_factory=LoopConfig)
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert ``value`` to the annotated type ``tp``; InputError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except InputError as err:
                errors.append(str(err))
        raise InputError(errors[0] if errors else f"{key}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InputError(f"config {key}: expected a mapping, got {value!r}")
        return _build(tp, value, key)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise InputError(f"config {key}: expected a list, got {value!r}")
        (arg,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(v, arg, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise InputError(f"config {key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise InputError(f"config {key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise InputError(f"config {key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-3" as a string
            except ValueError:
                pass
        raise InputError(f"config {key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise InputError(f"config {key}: expected a string, got {value!r}")
    return value


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise InputError(f"config: unknown key(s) {', '.join(where + k for k in unknown)} "
                         f"(known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in values.items()}
    return cls(**kwargs)


def _check(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise InputError(f"config {key}={value!r}: {rule}")


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _check_lower_layers(key: str, chosen: list[int], layers: int) -> None:
    """InputError unless ``chosen`` are distinct recurrent layers below the last (1-based)."""
    _check(all(1 <= k < layers for k in chosen) and len(set(chosen)) == len(chosen), key, chosen,
           f"must be distinct recurrent layers in 1..{layers - 1} "
           f"(below the last of model.layers={layers})")


def validate_config(config: TrainConfig) -> TrainConfig:
    """Check every value's domain before any work starts; InputError naming the first bad key.

    Checked here rather than where each value is used, so that a bad ``--set`` fails in a line
    before data is read, statistics are computed or files are written.
    """
    from ctc.models.frontends import SUBSAMPLINGS
    from ctc.models.rnn import CELLS
    from ctc.train.ctc_impl import CTC_IMPLS
    from ctc.train.schedule import SCHEDULES

    m, o, t, d, k = config.model, config.optim, config.train, config.data, config.tokenizer
    _check(m.frontend in ("conv2d", "line_cnn"), "model.frontend", m.frontend,
           "must be conv2d or line_cnn")
    _check(m.input_dim >= 0, "model.input_dim", m.input_dim, "must be >= 0 (0: the featurizer's)")
    if m.frontend == "conv2d":
        _check(m.subsampling in SUBSAMPLINGS, "model.subsampling", m.subsampling,
               f"must be one of {SUBSAMPLINGS}")
        _check(m.conv_channels >= 1, "model.conv_channels", m.conv_channels, "must be >= 1")
    else:
        _check(bool(m.cnn_channels) and all(c >= 1 for c in m.cnn_channels),
               "model.cnn_channels", m.cnn_channels,
               "must be a non-empty list of positive channel counts")
        _check(m.cnn_convs_per_pool >= 1, "model.cnn_convs_per_pool", m.cnn_convs_per_pool,
               "must be >= 1")
        _check(0 <= m.cnn_pooled * m.cnn_convs_per_pool <= len(m.cnn_channels), "model.cnn_pooled",
               m.cnn_pooled, f"times model.cnn_convs_per_pool={m.cnn_convs_per_pool} must be in "
               f"[0, {len(m.cnn_channels)}] (the number of CNN blocks)")
    _check(m.cell in CELLS, "model.cell", m.cell, f"must be one of {CELLS}")
    _check(m.layers >= 1, "model.layers", m.layers, "must be >= 1")
    _check(m.hidden >= 1, "model.hidden", m.hidden, "must be >= 1")
    _check(0 <= m.proj_size < m.hidden, "model.proj_size", m.proj_size,
           f"must be in [0, model.hidden={m.hidden})")
    _check(m.proj_size == 0 or m.cell != "gru", "model.proj_size", m.proj_size,
           "is not supported with cell gru")
    for key, value in (("model.dropout", m.dropout), ("model.cnn_dropout", m.cnn_dropout)):
        _check(0.0 <= value < 1.0, key, value, "must be in [0, 1)")
    _check(_finite(m.forget_bias), "model.forget_bias", m.forget_bias, "must be finite")
    _check_lower_layers("model.self_condition_layers", m.self_condition_layers, m.layers)

    _check(o.name in ("adam", "adamw"), "optim.name", o.name, "must be adam or adamw")
    _check(_finite(o.lr) and o.lr > 0, "optim.lr", o.lr, "must be a positive number")
    _check(len(o.betas) == 2 and all(0.0 <= b < 1.0 for b in o.betas), "optim.betas", o.betas,
           "must be two numbers in [0, 1)")
    _check(_finite(o.eps) and o.eps > 0, "optim.eps", o.eps, "must be a positive number")
    _check(_finite(o.weight_decay) and o.weight_decay >= 0, "optim.weight_decay",
           o.weight_decay, "must be >= 0")
    _check(o.schedule in SCHEDULES, "optim.schedule", o.schedule, f"must be one of {SCHEDULES}")
    _check(o.warmup_steps >= 0, "optim.warmup_steps", o.warmup_steps, "must be >= 0")
    _check(0.0 <= o.min_lr_ratio <= 1.0, "optim.min_lr_ratio", o.min_lr_ratio,
           "must be in [0, 1]")

    _check(t.epochs >= 1, "train.epochs", t.epochs, "must be >= 1")
    _check(t.max_steps >= 0, "train.max_steps", t.max_steps, "must be >= 0 (0: no limit)")
    _check(_finite(t.max_minutes) and t.max_minutes >= 0, "train.max_minutes", t.max_minutes,
           "must be >= 0 (0: no budget)")
    _check(t.accum_steps >= 1, "train.accum_steps", t.accum_steps, "must be >= 1")
    _check(_finite(t.grad_clip) and t.grad_clip >= 0, "train.grad_clip", t.grad_clip,
           "must be >= 0 (0: off)")
    _check(t.precision in PRECISIONS, "train.precision", t.precision,
           f"must be one of {', '.join(PRECISIONS)}")
    _check(t.cpu_bf16_min_sequences >= 1, "train.cpu_bf16_min_sequences",
           t.cpu_bf16_min_sequences, "must be >= 1 (1: always bf16)")
    _check(t.ctc_impl in CTC_IMPLS, "train.ctc_impl", t.ctc_impl, f"must be one of {CTC_IMPLS}")
    _check(t.loss_norm in ("utterance", "token"), "train.loss_norm", t.loss_norm,
           "must be utterance or token")
    _check(t.checkpoint_every >= 0, "train.checkpoint_every", t.checkpoint_every, "must be >= 0")
    _check(t.keep_best >= 1, "train.keep_best", t.keep_best, "must be >= 1")
    _check(t.best_metric in ("cer", "wer", "loss"), "train.best_metric", t.best_metric,
           "must be cer, wer or loss")
    _check(t.average_last >= 0, "train.average_last", t.average_last, "must be >= 0")
    _check(t.device in ("auto", "cpu", "cuda") or t.device.startswith("cuda:"), "train.device",
           t.device, "must be auto, cpu, cuda or cuda:N")
    _check(t.threads >= 0, "train.threads", t.threads, "must be >= 0 (0: the free cores)")
    _check(t.log_every >= 1, "train.log_every", t.log_every, "must be >= 1")
    _check(all(p.strip() for p in t.freeze), "train.freeze", t.freeze,
           "must be a list of module paths or name patterns (no empty ones)")
    _check(t.freeze_steps >= 0, "train.freeze_steps", t.freeze_steps,
           "must be >= 0 (0: frozen for the whole run)")
    _check(t.freeze_steps == 0 or bool(t.freeze), "train.freeze_steps", t.freeze_steps,
           "needs train.freeze (the parameters to unfreeze)")
    _check(_finite(t.inter_ctc_weight) and 0.0 <= t.inter_ctc_weight < 1.0,
           "train.inter_ctc_weight", t.inter_ctc_weight, "must be in [0, 1) (0: off)")
    _check_lower_layers("train.inter_ctc_layers", t.inter_ctc_layers, m.layers)
    _check(bool(t.inter_ctc_layers) == (t.inter_ctc_weight > 0), "train.inter_ctc_weight",
           t.inter_ctc_weight, "and train.inter_ctc_layers go together (a weight above 0 "
           f"and the layers to train; train.inter_ctc_layers={t.inter_ctc_layers!r})")
    _check(set(m.self_condition_layers) <= set(t.inter_ctc_layers), "model.self_condition_layers",
           m.self_condition_layers, "must be trained by intermediate CTC: each of them among "
           f"train.inter_ctc_layers={t.inter_ctc_layers!r} (with train.inter_ctc_weight > 0)")

    _check(d.max_frames >= 1, "data.max_frames", d.max_frames, "must be >= 1")
    _check(d.valid_max_frames >= 0, "data.valid_max_frames", d.valid_max_frames, "must be >= 0")
    _check(d.num_workers >= 0, "data.num_workers", d.num_workers, "must be >= 0")

    _check(k.kind in ("char", "bpe"), "tokenizer.kind", k.kind, "must be char or bpe")
    _check(k.vocab_size >= 2, "tokenizer.vocab_size", k.vocab_size, "must be >= 2")
    _check(k.min_count >= 1, "tokenizer.min_count", k.min_count, "must be >= 1")
    return config


ARCHITECTURE = ("model", "tokenizer")  # sections a resumed run cannot change


def check_resume(config: TrainConfig, out_dir: str | os.PathLike) -> None:
    """Before resuming ``out_dir``: InputError when ``config`` changes the model or tokenizer of
    the run saved there (its ``config.yaml``), naming each changed key."""
    saved_path = Path(out_dir) / "config.yaml"
    if not saved_path.is_file():
        return
    saved = load_config(saved_path)
    changed = []
    for section in ARCHITECTURE:
        ours, theirs = asdict(getattr(config, section)), asdict(getattr(saved, section))
        for key, value in ours.items():
            if key == "input_dim" and value == 0:
                continue  # resolved from the featurizer when the run started
            if theirs.get(key) != value:
                changed.append(f"{section}.{key}={value!r} (the run has {theirs.get(key)!r})")
    if changed:
        raise InputError(f"--resume {out_dir}: cannot change the architecture of a run: "
                         + "; ".join(changed))


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig` from nested dicts (missing keys take their defaults) and
    check every value (:func:`validate_config`)."""
    return validate_config(_build(TrainConfig, values or {}, ""))


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set ``key.sub=value`` overrides (values parsed as YAML) in nested ``values``; new dict."""
    out = yaml.safe_load(yaml.safe_dump(values)) or {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"override {item!r} is not key.sub=value")
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"override {item!r}: {part} is not a section")
        try:
            node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return out


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (None: all defaults), apply ``overrides``, and type-check it."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"config file not found: {path}")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise InputError(f"{path}: invalid YAML ({err})") from None
        if not isinstance(values, dict):
            raise InputError(f"{path}: expected a mapping of sections")
    return config_from_dict(apply_overrides(values, list(overrides or [])))


def save_config(config: TrainConfig, path: str | os.PathLike) -> None:
    """Write ``config`` as YAML atomically (readable back with :func:`load_config`)."""
    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False,
                                           allow_unicode=True))
