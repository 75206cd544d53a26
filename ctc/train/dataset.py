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
from ctc.modality import Featurizer


def estimate_frames(featurizer: Featurizer, record: Record) -> int | None:
    """Input frames (columns) ``record`` featurizes to, without featurizing it, or None if
    unknown (the featurizer's ``num_frames``; a record whose header cannot be read is unknown,
    and featurizing it later reports why). Estimates may be off by a frame or two: the engine
    re-checks each batch exactly."""
    measure = getattr(featurizer, "num_frames", None)
    if not callable(measure):
        return None
    try:
        frames = measure(record)
    except InputError:
        return None
    return None if frames is None else int(frames)


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
