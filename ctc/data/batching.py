"""Length-bucketed batches by total frames, and the collate that pads them.

A batch holds sequences of similar length whose padded size ``len(batch) * max_len`` stays within
``max_frames``, so batches are big for short utterances and small for long ones. The order of the
batches is shuffled per epoch with a generator seeded from ``(seed, epoch)``: the same on every
run and every process, and recomputable after a resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch


def bucket_batches(lengths: Sequence[int], max_frames: int, *, min_batch: int = 1,
                   shuffle: bool = False, seed: int = 0, epoch: int = 0) -> list[list[int]]:
    """Group indices into batches of similar length with ``len(b) * max(len) <= max_frames``.

    Sorting is by length, ties broken at random when ``shuffle`` (so equal-length utterances
    meet different partners each epoch); the list of batches is then shuffled. A batch always
    holds at least ``min_batch`` indices (for data-parallel ranks), even above ``max_frames``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch])
    if shuffle:
        order = np.lexsort((rng.random(len(lengths)), lengths))
    else:
        order = np.argsort(lengths, kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order.tolist():
        longest = int(lengths[index])  # sorted ascending: the newest is the longest
        if len(current) >= min_batch and (len(current) + 1) * longest > max_frames:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        if len(current) < min_batch and batches:
            batches[-1].extend(current)
        else:
            batches.append(current)
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches)).tolist()]
    return batches


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batch sampler over :func:`bucket_batches` for one epoch, split across data-parallel ranks.

    Global batches are formed for ``max_frames`` over all ranks, the same for any ``world``;
    rank ``r`` of ``world`` takes items ``r, r + world, ...`` of each (possibly none: the
    engine then joins the step with an empty share). Indices are yielded as ``(epoch, index)``
    pairs so that datasets can seed augmentation per item. ``skip`` batches are left out from
    the start (resume).
    """

    def __init__(self, lengths: Sequence[int], max_frames: int, *, shuffle: bool = True,
                 seed: int = 0, epoch: int = 0, rank: int = 0, world: int = 1,
                 skip: int = 0) -> None:
        self.rank, self.world, self.epoch, self.skip = rank, world, epoch, skip
        self.global_batches = bucket_batches(lengths, max_frames, shuffle=shuffle, seed=seed,
                                             epoch=epoch)

    def __len__(self) -> int:
        return max(0, len(self.global_batches) - self.skip)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for batch in self.global_batches[self.skip:]:
            yield [(self.epoch, i) for i in batch[self.rank::self.world]]


def pad_features(features: Sequence[torch.Tensor],
                 time_axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad model inputs into one tensor.

    ``time_axis`` 0: items ``(T, F)`` give ``(N, T_max, F)``; ``time_axis`` 1: items ``(H, W)``
    (line images) give ``(N, 1, H, W_max)`` (see ``ctc.modality``). Returns the padded batch and
    lengths ``(N,)`` (frames or columns).
    """
    if not features:
        raise ValueError("cannot pad an empty batch")
    if time_axis not in (0, 1):
        raise ValueError(f"time_axis must be 0 (T, F) or 1 (H, W), got {time_axis!r}")
    for f in features:
        if f.dim() != 2:
            raise ValueError(f"features must be 2-D (T, F) or (H, W), got {tuple(f.shape)}")
    first, n = features[0], len(features)
    lengths = torch.tensor([f.shape[time_axis] for f in features])
    longest = int(lengths.max())
    if time_axis == 1:
        out = first.new_zeros(n, 1, first.shape[0], longest)
        for i, f in enumerate(features):
            out[i, 0, :, : f.shape[1]] = f
    else:
        out = first.new_zeros(n, longest, first.shape[1])
        for i, f in enumerate(features):
            out[i, : f.shape[0]] = f
    return out, lengths


def pad_targets(targets: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token id lists into ``(N, S_max)`` (long, padded with 0) and lengths ``(N,)``."""
    lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    longest = int(lengths.max()) if len(targets) else 0
    out = torch.zeros(len(targets), max(1, longest), dtype=torch.long)
    for i, t in enumerate(targets):
        out[i, : len(t)] = torch.as_tensor(t, dtype=torch.long)
    return out, lengths


@dataclass
class Item:
    """One featurized example, or the error that prevented it (``features`` None)."""

    index: int
    features: torch.Tensor | None
    targets: list[int]
    error: str | None = None


@dataclass
class Batch:
    """A padded batch. ``inputs`` ``(N, T, F)`` or ``(N, 1, H, W)``, ``lengths`` ``(N,)``,
    ``targets`` ``(N, S)``, ``target_lengths`` ``(N,)``; ``indices`` into the dataset; ``errors``
    are ``(index, message)`` for items that could not be read (left out of the batch)."""

    indices: list[int]
    inputs: torch.Tensor | None
    lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor
    errors: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def frames(self) -> int:
        return int(self.lengths.sum())

    def pin_memory(self) -> Batch:
        """Page-locked copy for faster host-to-GPU transfer (DataLoader ``pin_memory``)."""
        inputs = self.inputs.pin_memory() if self.inputs is not None else None
        return Batch(self.indices, inputs, self.lengths.pin_memory(), self.targets.pin_memory(),
                     self.target_lengths.pin_memory(), self.errors)


class PadCollate:
    """DataLoader ``collate_fn``: :class:`Item` list -> :class:`Batch` (picklable)."""

    def __init__(self, time_axis: int) -> None:
        self.time_axis = time_axis

    def __call__(self, items: Sequence[Item]) -> Batch:
        good = [it for it in items if it.features is not None]
        errors = [(it.index, it.error or "unreadable") for it in items if it.features is None]
        targets, target_lengths = pad_targets([it.targets for it in good])
        if not good:
            return Batch([], None, torch.zeros(0, dtype=torch.long), targets, target_lengths,
                         errors)
        inputs, lengths = pad_features([it.features for it in good], self.time_axis)
        return Batch([it.index for it in good], inputs, lengths, targets, target_lengths, errors)
