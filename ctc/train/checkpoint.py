"""Checkpoints: atomic saving, finding the one to decode with, averaging.

A *model checkpoint* (``epoch-NNN.pt``, ``best.pt``, ``averaged.pt``) is self-describing:
``model`` (state dict), ``model_config``, ``vocab_size``, ``tokenizer`` (``to_dict``),
``featurizer`` (``to_dict``), ``epoch``, ``step``, ``metrics``. The *training state*
``last.pt`` adds optimiser, scheduler, scaler, RNG states and loop counters for ``resume``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ctc.errors import InputError
from ctc.io import atomic_save

LAST = "last.pt"
BEST = "best.pt"
AVERAGED = "averaged.pt"
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
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # corrupt or foreign file
        raise InputError(f"{path}: not a readable carousel checkpoint ({err})") from None


def find_checkpoint(path: str | os.PathLike, which: str = "auto") -> Path:
    """The checkpoint file for ``path``: itself if a file; in an experiment directory
    ``averaged.pt``, then ``best.pt``, then ``last.pt`` (``which="auto"``), or the named one
    (``"averaged"``, ``"best"``, ``"last"``)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputError(f"no such checkpoint or experiment directory: {path}")
    names = PREFERENCE if which == "auto" else (f"{which}.pt",)
    for name in names:
        if (path / name).is_file():
            return path / name
    raise InputError(f"{path}: no checkpoint ({' / '.join(names)}) in this directory")


def model_only(state: dict[str, Any]) -> dict[str, Any]:
    """The model-checkpoint part of a training state (drops optimiser, RNG, counters)."""
    keys = ("model", "model_config", "vocab_size", "tokenizer", "featurizer", "epoch", "step",
            "metrics", "config")
    return {k: state[k] for k in keys if k in state}


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
