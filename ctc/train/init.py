"""Fine-tuning: start a model from another model's weights (``train --init CKPT``).

Every parameter of the same name and shape is copied. The output layer is resized to this run's
vocabulary: the rows of symbols both vocabularies share are copied, rows of new symbols keep
their fresh initialisation (as Kraken's ``--resize``), so a model trained on one alphabet starts
another with what it knows of their common symbols. The self-conditioning projection
(``model.self_condition_layers``) reads the vocabulary: its columns of shared symbols are
copied, those of new symbols stay zero; absent from the source, it stays zero (the model starts
reading exactly as the source did).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ctc.errors import InputError

HEAD = ("head.weight", "head.bias")  # the output layer of ctc.models.CTCModel: (V, E) and (V,)
SELF_CONDITION = "self_condition.weight"  # CTCModel's posteriors -> encoder projection: (E, V)
ARCHITECTURE_KEYS = ("frontend", "subsampling", "conv_channels", "cnn_channels", "cnn_pooled",
                     "cnn_convs_per_pool", "cnn_batch_norm", "cell", "layers", "hidden",
                     "proj_size", "bidirectional")


@dataclass(frozen=True)
class InitReport:
    """What :func:`initialize_from` copied: parameters, and output rows of shared symbols."""

    parameters: int
    shared_symbols: int
    new_symbols: int

    def summary(self, source: str) -> str:
        return (f"initialised from {source}: {self.parameters} parameter tensors, output rows of "
                f"{self.shared_symbols} shared symbols ({self.new_symbols} new)")


def check_architecture(model_config, saved_config: dict, source: str) -> None:
    """InputError naming each architecture option that differs from the model at ``source``."""
    ours = asdict(model_config)
    changed = [f"model.{k}={ours[k]!r} (the checkpoint has {saved_config.get(k)!r})"
               for k in ARCHITECTURE_KEYS if k in saved_config and saved_config[k] != ours[k]]
    if model_config.input_dim and saved_config.get("input_dim") not in (None, 0,
                                                                        model_config.input_dim):
        changed.append(f"model.input_dim={model_config.input_dim} (the checkpoint has "
                       f"{saved_config['input_dim']}: the features differ)")
    if changed:
        raise InputError(f"--init {source}: the model does not fit this config: "
                         + "; ".join(changed))


def initialize_from(model: torch.nn.Module, symbols: list[str], state: dict[str, torch.Tensor],
                    saved_symbols: list[str], source: str) -> InitReport:
    """Copy ``state`` (a saved model's weights over ``saved_symbols``) into ``model`` (whose
    output layer spans ``symbols``); InputError when a non-output tensor does not fit."""
    own = model.state_dict()
    copied = 0
    with torch.no_grad():
        for name, tensor in own.items():
            if name in HEAD or name == SELF_CONDITION or name not in state:
                continue
            if state[name].shape != tensor.shape:
                raise InputError(f"--init {source}: {name} has shape {tuple(state[name].shape)} "
                                 f"there but {tuple(tensor.shape)} here")
            tensor.copy_(state[name])
            copied += 1
        index = {s: i for i, s in enumerate(saved_symbols)}
        shared = [(i, index[s]) for i, s in enumerate(symbols) if s in index]
        rows = torch.tensor([i for i, _ in shared], dtype=torch.long)
        from_rows = torch.tensor([j for _, j in shared], dtype=torch.long)
        for name in HEAD:
            if name in state and name in own:
                own[name][rows] = state[name][from_rows].to(own[name].dtype)
                copied += 1
        if SELF_CONDITION in state and SELF_CONDITION in own:
            own[SELF_CONDITION][:, rows] = state[SELF_CONDITION][:, from_rows].to(
                own[SELF_CONDITION].dtype)
            copied += 1
    model.load_state_dict(own)
    return InitReport(copied, len(shared), len(symbols) - len(shared))
