"""Inference: a trained model with its tokenizer, featurizer and modality; CTC posteriors of
manifest records in manifest order.

Legend: N batch, T input frames (or image columns), T' encoder output frames, V vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ctc.checkpoint import read_model
from ctc.data.batching import pad_features
from ctc.data.manifest import Record
from ctc.distributed import resolve_device
from ctc.errors import InputError
from ctc.modality import (
    Featurizer,
    Modality,
    Placement,
    Posteriorgram,
    featurize_placed,
    modality_of,
)
from ctc.models import CTCModel


@dataclass(frozen=True)
class RecordPosteriors:
    """One manifest record's result: ``log_probs`` ``(T', V)`` (CPU, float32) and where its
    input frames lie in the source (``placement``), or the ``error`` that kept it from being
    read (``log_probs`` None)."""

    index: int
    record: Record
    log_probs: torch.Tensor | None
    error: str | None = None
    placement: Placement | None = None


class _Featurize(torch.utils.data.Dataset):
    """Featurizes records for inference (no augmentation); errors become messages."""

    def __init__(self, records: Sequence[Record], featurizer: Featurizer) -> None:
        self.records, self.featurizer = records, featurizer

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int
                    ) -> tuple[int, torch.Tensor | None, str | None, Placement | None]:
        try:
            features, placement = featurize_placed(self.featurizer, self.records[index])
            return index, features.float(), None, placement
        except InputError as err:
            return index, None, str(err), None


class Recognizer:
    """A trained CTC model with its tokenizer, featurizer and modality, in eval mode.

    Attributes: ``model``, ``tokenizer``, ``featurizer``, ``modality``, ``device``,
    ``checkpoint`` (the file loaded), ``output_frame_shift`` (seconds or pixels per encoder
    output frame).
    """

    def __init__(self, model: CTCModel, tokenizer, featurizer: Featurizer,
                 device: str | torch.device = "cpu", checkpoint: Path | None = None,
                 modality: Modality | None = None) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.featurizer = featurizer
        self.modality = modality or modality_of(featurizer)
        self.checkpoint = checkpoint
        if self.device.type == "cuda" and hasattr(featurizer, "device"):
            featurizer.device = "cuda"  # features computed on the GPU too

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu",
             which: str = "auto") -> Recognizer:
        """Load from a checkpoint file or an experiment folder (see
        :func:`ctc.checkpoint.find_checkpoint` for ``which``). ``device``: ``cpu``, ``cuda``
        (InputError when no CUDA device exists) or ``auto``."""
        device = resolve_device(device)
        saved = read_model(path, which)
        return cls(saved.model, saved.tokenizer, saved.featurizer, device, saved.path,
                   saved.modality)

    @property
    def output_frame_shift(self) -> float:
        """Seconds (audio) or pixels (images) per encoder output frame."""
        return float(self.featurizer.frame_shift) * self.model.subsampling

    def posteriorgram(self, result: RecordPosteriors) -> Posteriorgram:
        """A readable record's posteriors placed on its source (for words, tokens, reports)."""
        placement = result.placement or Placement(0.0, float(self.featurizer.frame_shift))
        step = self.model.subsampling
        extent = placement.extent
        if extent is None:
            extent = placement.at(result.log_probs.shape[0] * step)
        return Posteriorgram(result.record.path, result.log_probs,
                             lambda frame: placement.at(frame * step), float(extent))

    @torch.no_grad()
    def log_probs(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Posteriors of featurized inputs (the modality's layout, ``(T, F)`` or ``(H, W)``).

        Returns log-probabilities ``(N, T', V)`` (float32, on the recognizer's device) and
        output lengths ``(N,)``.
        """
        for f in features:
            self.modality.check_features(f, self.model.config.input_dim)
        inputs, lengths = pad_features([f.float() for f in features], self.modality.time_axis)
        return self.model(inputs.to(self.device), lengths.to(self.device))

    def iter_windows(self, records: Iterable[Record], *, max_frames: int = 20000,
                     num_workers: int = 0, window: int = 128) -> Iterator[list[RecordPosteriors]]:
        """Per window of ``window`` records: their results, in manifest order.

        Within a window the readable records are sorted by length and run in batches whose
        padded size stays within ``max_frames``, so batches carry little padding; unreadable
        records come back with their error message in their place.
        """
        records = list(records)
        loader = torch.utils.data.DataLoader(_Featurize(records, self.featurizer),
                                             batch_size=None, num_workers=num_workers)
        pending: list[tuple] = []
        for item in loader:
            pending.append(item)
            if len(pending) >= max(1, window):
                yield self._run_window(records, pending, max_frames)
                pending = []
        if pending:
            yield self._run_window(records, pending, max_frames)

    def iter_results(self, records: Iterable[Record], *, max_frames: int = 20000,
                     num_workers: int = 0, window: int = 128) -> Iterator[RecordPosteriors]:
        """Every record's :class:`RecordPosteriors`, in manifest order (see
        :meth:`iter_windows`)."""
        for results in self.iter_windows(records, max_frames=max_frames,
                                         num_workers=num_workers, window=window):
            yield from results

    def _run_window(self, records: Sequence[Record], items: list, max_frames: int
                    ) -> list[RecordPosteriors]:
        out: dict[int, RecordPosteriors] = {}
        readable = []
        placements = {}
        for index, features, error, placement in items:
            if features is None:
                out[index] = RecordPosteriors(index, records[index], None,
                                              error or f"{records[index].id}: unreadable")
            else:
                readable.append((index, features))
                placements[index] = placement
        readable.sort(key=lambda item: self.modality.length(item[1]))
        group: list[tuple[int, torch.Tensor]] = []
        for item in readable:  # ascending lengths: the newest item is the longest
            if group and (len(group) + 1) * self.modality.length(item[1]) > max_frames:
                self._run_group(records, group, out, placements)
                group = []
            group.append(item)
        if group:
            self._run_group(records, group, out, placements)
        return [out[item[0]] for item in items]

    def _run_group(self, records: Sequence[Record], group: list[tuple[int, torch.Tensor]],
                   out: dict[int, RecordPosteriors], placements: dict[int, Placement]) -> None:
        log_probs, lengths = self.log_probs([features for _, features in group])
        log_probs, lengths = log_probs.float().cpu(), lengths.cpu()
        for i, (index, _) in enumerate(group):
            out[index] = RecordPosteriors(index, records[index],
                                          log_probs[i, : int(lengths[i])].clone(),
                                          placement=placements[index])
