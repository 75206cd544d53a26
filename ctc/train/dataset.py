"""Training examples: records with their token ids and frame counts, featurized on demand.

Legend: T frames (or image columns), S target tokens.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ctc.data.batching import Item
from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.frontend import Featurizer


def estimate_frames(featurizer: Featurizer, record: Record) -> int | None:
    """Input frames (columns) ``record`` featurizes to, without reading it, or None if unknown.

    Uses ``featurizer.num_frames(record)`` when the featurizer has it; otherwise the manifest's
    ``duration / frame_shift`` (audio) or ``width * feature_dim / height`` (images are scaled to
    height ``feature_dim``). Estimates may be off by a frame or two: the engine re-checks each
    batch exactly.
    """
    exact = getattr(featurizer, "num_frames", None)
    if callable(exact):
        return int(exact(record))
    if record.modality == "audio" and record.duration:
        return round(record.duration / featurizer.frame_shift)
    if record.modality == "image" and record.width and record.height:
        return round(record.width * featurizer.feature_dim / record.height)
    return None


@dataclass(frozen=True)
class Example:
    """A training example: ``targets`` are token ids (S,), ``frames`` the input length T."""

    record: Record
    targets: tuple[int, ...]
    frames: int


class FeaturizedDataset(torch.utils.data.Dataset):
    """Featurizes examples on demand. Indexed by ``(epoch, index)`` (see BucketBatchSampler)
    or a plain index; returns :class:`ctc.data.batching.Item`, with the error message instead of
    features when the input cannot be read. Augmentation (``train``) draws from a generator
    seeded by ``(seed, epoch, crc32(id))``, so every run sees the same augmented data."""

    def __init__(self, examples: Sequence[Example], featurizer: Featurizer, *, train: bool,
                 seed: int = 0) -> None:
        self.examples = list(examples)
        self.featurizer = featurizer
        self.train = train
        self.seed = seed

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: int | tuple[int, int]) -> Item:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        ex = self.examples[index]
        rng = np.random.default_rng([self.seed, epoch, zlib.crc32(ex.record.id.encode())])
        try:
            features = self.featurizer(ex.record, train=self.train, rng=rng)
        except InputError as err:
            return Item(index, None, list(ex.targets), str(err))
        return Item(index, features.float(), list(ex.targets))
