"""The modality contract: what a kind of input (speech, text-line images) tells the shared core.

The core (training, evaluation, recognition, checkpoints) never imports ``asr`` or
``handwriting``: each of them describes itself with a :class:`Modality` and registers it, and its
featurizer classes, under stable names. Checkpoints store those names (``"audio"``,
``"logmel"``), never module paths, so code can move without breaking saved models. Plugins are
found through the ``carousel.plugins`` entry points (pyproject.toml) the first time a name is
looked up that is not registered yet.

A modality gives:

- ``name``: the stable name, also each manifest record's ``modality`` field;
- its featurizers (:class:`Featurizer`): manifest record -> model input, ``(T, F)`` frames of
  features (``time_axis`` 0) or an ``(H, W)`` line image (``time_axis`` 1), and
  ``build_featurizer``, which makes one from a config's ``frontend`` section and the training
  records (global statistics, say);
- ``model_frontend``: the encoder front-end (``ctc.models``) that fits its layout;
- ``unit``: what encoder frames map to in the source (``"s"`` or ``"px"``); the mapping itself
  comes with each input's :class:`Posteriorgram`;
- recognition of raw inputs: ``find_inputs`` (files and folders -> input files),
  ``measure_inputs`` (their total size for a progress bar: seconds of audio, or a count) and
  ``posteriorgrams`` (each input file -> the posteriors of its units, placed on it: one for an
  audio file or a line image, one per line for a page's PAGE-XML or ALTO file; in input order,
  calling ``on_progress`` with the size done), the recognition command's name and description
  (``recognize_command``), its command-line options (``add_recognize_options``), and
  ``writers``: output formats, each turning one input's recognised units into the text of its
  output file (:class:`OutputFormat`; the first is the default).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ctc.data.manifest import Record
from ctc.errors import InputError

PLUGIN_GROUP = "carousel.plugins"


@runtime_checkable
class Featurizer(Protocol):
    """Turns a manifest record into model input.

    Attributes: ``kind`` (stable name of the class, stored in checkpoints), ``modality`` (name of
    the :class:`Modality` whose layout it produces), ``feature_dim`` (F for frames, H for
    images), ``frame_shift`` (seconds or pixels per input frame / column).
    """

    kind: str
    modality: str
    feature_dim: int
    frame_shift: float

    def __call__(self, record: Record, train: bool = False,
                 rng: np.random.Generator | None = None) -> torch.Tensor:
        """Load and featurize ``record``; augment when ``train``; raise InputError on bad input."""
        ...

    def num_frames(self, record: Record) -> int | None:
        """Input frames (columns) ``record`` featurizes to, without featurizing it, or None when
        that cannot be known without reading it. May be off by a frame or two (the engine checks
        each batch exactly)."""
        ...

    # Optional: ``place(record) -> (features, Placement)``, the features without augmentation
    # and where their frames lie in the source (see :func:`featurize_placed`).

    def to_dict(self) -> dict[str, Any]:
        """Constructor arguments, enough to rebuild it (``kind`` is added by the core)."""
        ...


@dataclass(frozen=True)
class Placement:
    """Where a featurized item lies in its source: input frame (column) ``f`` starts at
    ``offset + f * scale`` seconds of the recording or pixels of the original image; ``extent``
    is the source's duration or width (None when unknown)."""

    offset: float
    scale: float
    extent: float | None = None

    def at(self, frame: float) -> float:
        """The source position of input frame boundary ``frame``."""
        return self.offset + frame * self.scale


def featurize_placed(featurizer: Featurizer, record: Record) -> tuple[torch.Tensor, Placement]:
    """Features of ``record`` (no augmentation) and their placement: the featurizer's ``place``
    when it has one (images are cropped and scaled), else ``frame * frame_shift``."""
    place = getattr(featurizer, "place", None)
    if callable(place):
        return place(record)
    return featurizer(record, train=False), Placement(0.0, float(featurizer.frame_shift))


@dataclass(frozen=True)
class Posteriorgram:
    """The CTC posteriors of one raw input, placed on it.

    ``log_probs``: ``(T', V)``; ``position(frame)``: where encoder frame boundary ``frame`` lies
    in the source, in the modality's unit (seconds from the start of the file, or pixels of the
    original image); ``extent``: the source's duration or width; ``meta``: what a writer may need
    of the input (the image's height, a document line's id, ...).
    """

    source: str
    log_probs: torch.Tensor
    position: Callable[[float], float]
    extent: float
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputFormat:
    """``write(source, results) -> text``: one input's recognised units
    (``ctc.results.Recognition``, in order) as the content of its output file, named
    ``STEM + suffix`` under ``--output``."""

    write: Callable[[str, Sequence[Any]], str]
    suffix: str


@dataclass(frozen=True)
class Modality:
    """One kind of input; see the module docstring."""

    name: str
    title: str
    time_axis: int
    unit: str
    model_frontend: str
    build_featurizer: Callable[[dict[str, Any], Sequence[Record], argparse.Namespace], Featurizer]
    find_inputs: Callable[[Sequence[str]], list[str]]
    measure_inputs: Callable[[Sequence[str]], tuple[float, str]]
    posteriorgrams: Callable[[Any, Sequence[str], argparse.Namespace, Callable[[float], Any]],
                             Iterator[tuple[str, list[Posteriorgram] | InputError]]]
    writers: Mapping[str, OutputFormat]
    recognize_command: tuple[str, str]
    add_recognize_options: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    add_train_options: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    input_noun: str = "input"

    def length(self, features: torch.Tensor) -> int:
        """Frames (columns) of one featurized item."""
        return int(features.shape[self.time_axis])

    def check_features(self, features: torch.Tensor, feature_dim: int) -> None:
        """Raise InputError unless ``features`` is one item of this layout with ``feature_dim``."""
        other = 1 - self.time_axis
        if features.dim() != 2 or features.shape[other] != feature_dim:
            layout = "(T, F)" if self.time_axis == 0 else "(H, W)"
            raise InputError(f"features must be {layout} with {feature_dim} "
                             f"{'bins' if self.time_axis == 0 else 'rows'}, "
                             f"got shape {tuple(features.shape)}")


_MODALITIES: dict[str, Modality] = {}
_FEATURIZERS: dict[str, type] = {}
_LOADED_PLUGINS = False

# checkpoints written before featurizers had stable names stored "module:Class"
_LEGACY_TYPES = {"asr.featurizer:LogMelFeaturizer": "logmel",
                 "handwriting.featurizer:LineImageFeaturizer": "line_image",
                 "ctc.train.synthetic:SyntheticFeaturizer": "synthetic"}


def register_modality(modality: Modality) -> Modality:
    """Make ``modality`` known by its name (idempotent for the same object)."""
    _MODALITIES[modality.name] = modality
    return modality


def register_featurizer(cls: type) -> type:
    """Class decorator: make a featurizer class known by its ``kind``."""
    _FEATURIZERS[cls.kind] = cls
    return cls


def _load_plugins() -> None:
    global _LOADED_PLUGINS
    if _LOADED_PLUGINS:
        return
    _LOADED_PLUGINS = True
    for entry in metadata.entry_points(group=PLUGIN_GROUP):
        importlib.import_module(entry.value)


def get_modality(name: str) -> Modality:
    """The registered modality ``name``; InputError if no installed plugin provides it."""
    if name not in _MODALITIES:
        _load_plugins()
    if name not in _MODALITIES:
        known = ", ".join(sorted(_MODALITIES)) or "none (is carousel installed? pip install -e .)"
        raise InputError(f"unknown modality {name!r} (known: {known})")
    return _MODALITIES[name]


def featurizer_class(kind: str) -> type:
    """The featurizer class registered as ``kind``."""
    if kind not in _FEATURIZERS:
        _load_plugins()
    if kind not in _FEATURIZERS:
        raise InputError(f"unknown featurizer {kind!r} (known: {', '.join(sorted(_FEATURIZERS))})")
    return _FEATURIZERS[kind]


def featurizer_state(featurizer: Featurizer) -> dict[str, Any]:
    """What a checkpoint stores of a featurizer: its ``kind`` and constructor arguments."""
    return {"kind": featurizer.kind, **featurizer.to_dict()}


def featurizer_from_state(state: dict[str, Any]) -> Featurizer:
    """Rebuild a featurizer from :func:`featurizer_state` (or a legacy ``"type"`` entry)."""
    state = dict(state)
    kind = state.pop("kind", None)
    legacy = state.pop("type", None)
    if kind is None:
        kind = _LEGACY_TYPES.get(legacy or "")
        if kind is None:
            raise InputError(f"unknown featurizer {legacy!r}")
    try:
        return featurizer_class(kind)(**state)
    except (TypeError, ValueError) as err:
        raise InputError(f"cannot rebuild featurizer {kind!r}: {err}") from None


def modality_of(featurizer: Featurizer) -> Modality:
    """The modality whose layout ``featurizer`` produces."""
    return get_modality(featurizer.modality)
