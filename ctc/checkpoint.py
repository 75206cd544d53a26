"""Checkpoints: atomic saving, reading a model back, finding the one to decode with, averaging.

A *model checkpoint* (``epoch-NNN.pt``, ``best.pt``, ``averaged.pt``) is self-describing:
``model`` (state dict), ``model_config``, ``vocab_size``, ``tokenizer`` (``to_dict``),
``modality`` (the stable name of a registered :class:`ctc.modality.Modality`), ``featurizer``
(its ``kind`` and arguments, :func:`ctc.modality.featurizer_state`), ``epoch``, ``step``,
``metrics``. The *training state* ``last.pt`` adds optimiser, scheduler, scaler, RNG states and
loop counters for ``resume``. Checkpoints written before ``modality`` existed (featurizers named
by ``"module:Class"``) still load. Inference imports this module, never the training engine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ctc.errors import InputError
from ctc.io import atomic_save
from ctc.modality import Featurizer, Modality, featurizer_from_state, get_modality

LAST = "last.pt"
BEST = "best.pt"
AVERAGED = "averaged.pt"
CHOICE = "checkpoint_choice.json"  # the training run's validated choice between the two above
PREFERENCE = (AVERAGED, BEST, LAST)


def epoch_name(epoch: int) -> str:
    return f"epoch-{epoch:03d}.pt"


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` atomically (temporary file + fsync + rename)."""
    atomic_save(state, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`; InputError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: not a readable carousel checkpoint (the file is empty)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # corrupt or foreign file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: not a readable carousel checkpoint ({reason})") from None


def find_checkpoint(path: str | os.PathLike, which: str = "auto") -> Path:
    """The checkpoint file for ``path``: itself if a file; in an experiment directory the file
    the run chose by validation (``checkpoint_choice.json``: ``averaged.pt`` only when it
    validated better than ``best.pt``), else ``averaged.pt``, ``best.pt``, ``last.pt``
    (``which="auto"``), or the named one (``"averaged"``, ``"best"``, ``"last"``)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputError(f"no such checkpoint or experiment directory: {path}")
    names: tuple[str, ...] = PREFERENCE if which == "auto" else (f"{which}.pt",)
    if which == "auto" and (path / CHOICE).is_file():
        try:
            chosen = json.loads((path / CHOICE).read_text(encoding="utf-8"))["chosen"]
            names = (str(chosen), *names)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an unreadable choice falls back to the preference order
    for name in names:
        if (path / name).is_file():
            return path / name
    raise InputError(f"{path}: no checkpoint ({' / '.join(names)}) in this directory")


MODEL_KEYS = ("model", "model_config", "vocab_size", "tokenizer", "modality", "featurizer",
              "epoch", "step", "metrics", "config")


def model_only(state: dict[str, Any]) -> dict[str, Any]:
    """The model-checkpoint part of a training state (drops optimiser, RNG, counters)."""
    return {k: state[k] for k in MODEL_KEYS if k in state}


@dataclass
class SavedModel:
    """A model checkpoint read back: the network and everything needed to feed and decode it."""

    path: Path
    model: Any  # ctc.models.CTCModel, in eval mode on the CPU
    tokenizer: Any
    featurizer: Featurizer
    modality: Modality
    state: dict[str, Any]


def read_model(path: str | os.PathLike, which: str = "auto") -> SavedModel:
    """Load a model from a checkpoint file or an experiment folder (see :func:`find_checkpoint`)."""
    from ctc.data.tokens import tokenizer_from_dict
    from ctc.models import ModelConfig, build_model

    file = find_checkpoint(path, which)
    state = load_checkpoint(file, map_location="cpu")
    needed = ("model", "model_config", "tokenizer", "featurizer")
    missing = [k for k in needed if k not in state]
    if missing:
        raise InputError(f"{file}: not a model checkpoint (missing {', '.join(missing)})")
    try:
        tokenizer = tokenizer_from_dict(state["tokenizer"])
        featurizer = featurizer_from_state(state["featurizer"])
    except (InputError, ValueError) as err:
        raise InputError(f"{file}: {err}") from None
    modality = get_modality(state.get("modality") or featurizer.modality)
    model = build_model(ModelConfig.from_dict(state["model_config"]),
                        state.get("vocab_size", len(tokenizer)))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise InputError(f"{file}: weights do not fit the stored model config ({first})") from None
    return SavedModel(file, model.eval(), tokenizer, featurizer, modality, state)


def average_checkpoints(paths: Sequence[str | os.PathLike]) -> dict[str, Any]:
    """Average the model weights of ``paths`` (floating tensors; others from the last file).

    Returns the last checkpoint's dict with its ``model`` replaced by the average and
    ``averaged_from`` listing the file names.
    """
    if not paths:
        raise ValueError("no checkpoints to average")
    states = [load_checkpoint(p) for p in paths]
    out = dict(states[-1])
    avg = {}
    for key, value in states[-1]["model"].items():
        if value.is_floating_point():
            total = sum(s["model"][key].double() for s in states)
            avg[key] = (total / len(states)).to(value.dtype)
        else:
            avg[key] = value.clone()
    out["model"] = avg
    out["averaged_from"] = [Path(p).name for p in paths]
    return out
