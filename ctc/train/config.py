"""Training configuration: YAML -> dataclasses, ``--set key.sub=value`` overrides, saving.

Sections: ``frontend`` (a free dict handed verbatim to the modality's featurizer; opaque here),
``model`` (:class:`ctc.models.ModelConfig`), ``optim``, ``train``, ``data``, ``tokenizer``.
Override values are parsed as YAML scalars and then typed by the dataclass field they set, so
``--set optim.lr=1e-3`` is a float and ``--set model.cnn_channels=[8,16]`` a list of ints.
"""

from __future__ import annotations

import dataclasses
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

    epochs / max_steps (0: no limit): when to stop. accum_steps: micro-batches per optimiser step.
    grad_clip: max global gradient norm (0: off). precision: ``fp32`` | ``bf16`` | ``fp16``
    (autocast, GPU only). ctc_impl: ``carousel`` (ctc.loss.ctc_loss) | ``torch``.
    loss_norm: ``utterance`` (sum / utterances) | ``token`` (sum / target tokens).
    checkpoint_every: steps between checkpoints (0: only each epoch). keep_best: epoch
    checkpoints kept by ``best_metric`` (``cer`` | ``wer`` | ``loss``); average_last: the last k
    epoch checkpoints averaged into ``averaged.pt`` at the end (0/1: off).
    device: ``auto`` | ``cpu`` | ``cuda``. threads: torch intra-op threads (0: torch's default;
    1 is much faster for small models on a busy machine). progress: tqdm bar. log_every: steps
    between log rows.
    """

    epochs: int = 10
    max_steps: int = 0
    accum_steps: int = 1
    grad_clip: float = 5.0
    precision: str = "fp32"
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


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig` from nested dicts (missing keys take their defaults)."""
    return _build(TrainConfig, values or {}, "")


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
