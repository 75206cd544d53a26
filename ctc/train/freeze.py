"""Frozen parameters when fine-tuning (``train.freeze``, ``train.freeze_steps``).

A pattern names parameters of :class:`ctc.models.CTCModel` by their dotted names
(``model.named_parameters()``): a module path freezes everything under it (``frontend``,
``encoder.forward_layers.0``), a shell-style wildcard matches names (``encoder.*_layers.0.*``:
both directions of the first recurrent layer). Frozen parameters get no gradient, so neither the
optimiser nor weight decay moves them; batch normalisation's running statistics still follow the
training data (only the weights are frozen). Training the upper layers of a pretrained model on
a small corpus while its lower layers stay as pretrained is the transfer recipe of Kunze et al.
(2017), "Transfer learning for speech recognition on a budget"; unfreezing after some steps, of
wav2vec 2.0's fine-tuning (Baevski et al. 2020).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import torch

from ctc.errors import InputError


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or name.startswith(pattern + ".") or fnmatchcase(name, pattern)


def _modules(names: list[str]) -> str:
    """The model's module paths (parameter names less their last part), in order, once each."""
    return ", ".join(dict.fromkeys(name.rpartition(".")[0] for name in names))


def select_frozen(model: torch.nn.Module, patterns: list[str]) -> list[str]:
    """The names of the parameters ``patterns`` freeze, in the model's order.

    InputError when a pattern matches no parameter (naming the model's modules) or when the
    patterns leave nothing to train.
    """
    names = [name for name, _ in model.named_parameters()]
    for pattern in patterns:
        if not any(_matches(name, pattern) for name in names):
            raise InputError(f"config train.freeze: {pattern!r} matches no parameter of the "
                             f"model (its modules: {_modules(names)})")
    frozen = [name for name in names if any(_matches(name, p) for p in patterns)]
    if frozen and len(frozen) == len(names):
        raise InputError(f"config train.freeze={patterns!r}: freezes every parameter; "
                         "nothing would train")
    return frozen


def set_frozen(model: torch.nn.Module, names: list[str], frozen: bool) -> None:
    """Freeze (no gradient) or unfreeze the parameters ``names`` of ``model``."""
    chosen = set(names)
    for name, parameter in model.named_parameters():
        if name in chosen:
            parameter.requires_grad_(not frozen)


def count_parameters(model: torch.nn.Module, names: list[str]) -> int:
    """How many scalars the parameters ``names`` of ``model`` hold."""
    chosen = set(names)
    return sum(p.numel() for name, p in model.named_parameters() if name in chosen)
