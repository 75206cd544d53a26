"""Inference: load a trained model from an experiment directory and compute CTC posteriors.

Legend: N batch, T input frames (or image columns), T' encoder output frames, V vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch

from ctc.data.batching import Item, pad_features
from ctc.data.manifest import Record
from ctc.data.tokens import tokenizer_from_dict
from ctc.errors import InputError
from ctc.frontend import Featurizer, featurizer_from_dict
from ctc.models import CTCModel, ModelConfig, build_model
from ctc.train.checkpoint import find_checkpoint, load_checkpoint


class _Featurize(torch.utils.data.Dataset):
    """Featurizes records for inference (no augmentation); errors become messages."""

    def __init__(self, records: Sequence[Record], featurizer: Featurizer) -> None:
        self.records, self.featurizer = records, featurizer

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Item:
        try:
            return Item(index, self.featurizer(self.records[index], train=False).float(), [])
        except InputError as err:
            return Item(index, None, [], str(err))


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` -> cuda when available, else cpu; InputError for cuda on a machine without it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA device is available")
    return device


class Recognizer:
    """A trained CTC model with its tokenizer and featurizer, in eval mode.

    Attributes: ``tokenizer``, ``featurizer``, ``model``, ``device``, ``checkpoint`` (the file
    loaded), ``output_frame_shift`` (seconds or pixels per encoder output frame), ``skipped``
    (InputError messages of records that ``iter_log_probs`` could not read).
    """

    def __init__(self, model: CTCModel, tokenizer, featurizer: Featurizer,
                 device: str | torch.device = "cpu", checkpoint: Path | None = None) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.featurizer = featurizer
        self.checkpoint = checkpoint
        self.skipped: list[str] = []

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu",
             which: str = "auto") -> Recognizer:
        """Load from a checkpoint file or an experiment directory (``averaged.pt``, else
        ``best.pt``, else ``last.pt``; or ``which`` = ``averaged`` | ``best`` | ``last``).

        ``device``: ``cpu``, ``cuda`` (InputError when no CUDA device exists) or ``auto``."""
        device = resolve_device(device)
        file = find_checkpoint(path, which)
        state = load_checkpoint(file, map_location="cpu")
        needed = ("model", "model_config", "tokenizer", "featurizer")
        missing = [k for k in needed if k not in state]
        if missing:
            raise InputError(f"{file}: not a model checkpoint (missing {', '.join(missing)})")
        tokenizer = tokenizer_from_dict(state["tokenizer"])
        try:
            featurizer = featurizer_from_dict(state["featurizer"])
        except (ImportError, AttributeError) as err:
            raise InputError(f"{file}: cannot rebuild featurizer "
                             f"{state['featurizer'].get('type')!r} ({err})") from None
        model = build_model(ModelConfig.from_dict(state["model_config"]),
                            state.get("vocab_size", len(tokenizer)))
        model.load_state_dict(state["model"])
        return cls(model, tokenizer, featurizer, device, file)

    @property
    def output_frame_shift(self) -> float:
        """Seconds (audio) or pixels (images) per encoder output frame."""
        return float(self.featurizer.frame_shift) * self.model.subsampling

    @torch.no_grad()
    def log_probs(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Posteriors of featurized inputs (``(T, F)`` audio or ``(H, W)`` images), batched.

        Returns log-probabilities ``(N, T', V)`` (float32, on the recognizer's device) and
        output lengths ``(N,)``.
        """
        expected = self.model.config.input_dim
        for f in features:
            dim = f.shape[0] if self.featurizer.modality == "image" else f.shape[-1]
            if f.dim() != 2 or dim != expected:
                layout = "(H, W)" if self.featurizer.modality == "image" else "(T, F)"
                raise InputError(f"features must be {layout} with {expected} "
                                 f"{'rows' if layout == '(H, W)' else 'bins'}, "
                                 f"got shape {tuple(f.shape)}")
        inputs, lengths = pad_features([f.float() for f in features], self.featurizer.modality)
        return self.model(inputs.to(self.device), lengths.to(self.device))

    def iter_batches(self, records: Iterable[Record], *, max_frames: int = 20000,
                     num_workers: int = 0, window: int = 128
                     ) -> Iterator[tuple[list[Record], torch.Tensor, torch.Tensor]]:
        """Yield ``(records, log_probs (N, T', V), lengths (N,))`` for all readable records.

        Records are read in manifest order ``window`` at a time and sorted by length within each
        window, so batches carry little padding; a batch closes when its padded size would pass
        ``max_frames``. Use :meth:`iter_log_probs` for manifest order. Unreadable records are left
        out and their messages appended to ``self.skipped``.
        """
        for batches in self._iter_windows(records, max_frames, num_workers, window):
            yield from batches

    def _iter_windows(self, records: Iterable[Record], max_frames: int, num_workers: int,
                      window: int):
        """Per window of records: the list of its batches (see :meth:`iter_batches`)."""
        records = list(records)
        loader = torch.utils.data.DataLoader(_Featurize(records, self.featurizer),
                                             batch_size=None, num_workers=num_workers)
        pending: list[Item] = []
        for item in loader:
            if item.features is None:
                self.skipped.append(item.error or f"{records[item.index].id}: unreadable")
                continue
            pending.append(item)
            if len(pending) >= max(1, window):
                yield self._run_window(records, pending, max_frames)
                pending = []
        if pending:
            yield self._run_window(records, pending, max_frames)

    def _run_window(self, records: Sequence[Record], items: list[Item], max_frames: int):
        dim = 1 if self.featurizer.modality == "image" else 0
        items = sorted(items, key=lambda it: it.features.shape[dim])
        batches, group = [], []
        for item in items:  # ascending lengths: the newest item is the longest
            if group and (len(group) + 1) * item.features.shape[dim] > max_frames:
                batches.append(self._run(records, group))
                group = []
            group.append(item)
        if group:
            batches.append(self._run(records, group))
        return batches

    def _run(self, records: Sequence[Record], items: list[Item]):
        log_probs, lengths = self.log_probs([it.features for it in items])
        return [records[it.index] for it in items], log_probs, lengths

    def iter_log_probs(self, records: Iterable[Record], *, max_frames: int = 20000,
                       num_workers: int = 0, window: int = 128
                       ) -> Iterator[tuple[Record, torch.Tensor]]:
        """Yield ``(record, log_probs (T', V))`` per readable record, in manifest order."""
        records = list(records)
        position = {id(r): i for i, r in enumerate(records)}
        for batches in self._iter_windows(records, max_frames, num_workers, window):
            out = [(position[id(r)], r, lp[i, : int(n[i])]) for rs, lp, n in batches
                   for i, r in enumerate(rs)]
            for _, record, log_probs in sorted(out, key=lambda x: x[0]):
                yield record, log_probs
