"""The contract between a modality's front-end (``asr``, ``handwriting``) and the shared engine.

A featurizer turns one manifest record into the tensor the encoder's front-end consumes:

- audio: ``(T, F)`` float32 features (T frames of F coefficients, e.g. 80 log-mel bins);
- image: ``(H, W)`` float32 line image, fixed height H, ink high and background 0, W columns.

The engine pads a batch to ``(N, T, F)`` or ``(N, 1, H, W)`` and passes lengths (frames or
columns) to the model. Featurizers are saved in checkpoints with ``to_dict``, whose ``type``
names the class as ``"module:Class"``; ``featurizer_from_dict`` rebuilds it, so ``ctc`` never
imports a front-end package statically.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ctc.data.manifest import Record


@runtime_checkable
class Featurizer(Protocol):
    """Turns a record into model input; see the module docstring for shapes."""

    modality: str  # "audio" | "image"
    feature_dim: int  # F for audio, H for images
    frame_shift: float  # seconds (audio) or pixels (image) per input frame / column

    def __call__(self, record: Record, train: bool = False,
                 rng: np.random.Generator | None = None) -> torch.Tensor:
        """Load and featurize ``record``; augment when ``train``; raise InputError on bad input."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Constructor arguments plus ``type`` ("module:Class"), enough to rebuild it."""
        ...

    # Optional: ``num_frames(record) -> int``, the exact number of input frames (columns) of a
    # record without featurizing it. Without it the engine estimates ``duration / frame_shift``
    # for audio or ``width * feature_dim / height`` for images, and checks each batch exactly.


def featurizer_from_dict(state: dict[str, Any]) -> Featurizer:
    """Rebuild a featurizer from ``to_dict()`` output by importing ``state['type']``."""
    module_name, _, class_name = state["type"].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    kwargs = {k: v for k, v in state.items() if k != "type"}
    return cls(**kwargs)
