"""Before training: the tokenizer, and the data check that keeps only trainable utterances.

An utterance is kept if its text is in the vocabulary, its input can be measured (or read), and
it is CTC-feasible: the model's output frames after subsampling are at least
``required_frames(targets)`` (labels plus adjacent repeats; Graves et al. 2006).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ctc.data.manifest import Record
from ctc.data.tokens import CharTokenizer, tokenizer_from_dict
from ctc.errors import InputError
from ctc.loss.feasibility import required_frames
from ctc.modality import Featurizer, modality_of
from ctc.train.config import TokenizerConfig
from ctc.train.dataset import Example, FeaturizedDataset, estimate_frames

SHOW_IDS = 5


def build_tokenizer(config: TokenizerConfig, texts: Sequence[str]):
    """A tokenizer from ``config``: loaded from ``config.path`` or built from ``texts``."""
    if config.path:
        path = Path(config.path)
        if not path.is_file():
            raise InputError(f"tokenizer file not found: {path}")
        return tokenizer_from_dict(json.loads(path.read_text(encoding="utf-8")))
    if config.kind == "char":
        return CharTokenizer.build(texts, min_count=config.min_count)
    if config.kind == "bpe":
        from ctc.data.bpe import BPETokenizer

        return BPETokenizer.train(texts, vocab_size=config.vocab_size)
    raise InputError(f"tokenizer.kind must be 'char' or 'bpe', got {config.kind!r}")


@dataclass
class DataCheck:
    """What the check kept and left out, with a few ids of each kind left out."""

    kept: int = 0
    lenient: bool = False  # validation: infeasible / unknown-character utterances are kept
    unknown_chars: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    infeasible: list[str] = field(default_factory=list)

    def summary(self, name: str) -> str:
        parts = [f"{name}: {self.kept} utterances kept"]
        for label, ids in (("CTC-infeasible, input too short for the labels", self.infeasible),
                           ("characters outside the vocabulary", self.unknown_chars),
                           ("unreadable input", self.unreadable)):
            if ids:
                shown = ", ".join(ids[:SHOW_IDS]) + (", ..." if len(ids) > SHOW_IDS else "")
                verb = "kept" if self.lenient and ids is not self.unreadable else "skipped"
                parts.append(f"{len(ids)} {verb}: {label} (e.g. {shown})")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"kept": self.kept, "infeasible": len(self.infeasible),
                "unknown_chars": len(self.unknown_chars), "unreadable": len(self.unreadable),
                "infeasible_ids": self.infeasible[:SHOW_IDS],
                "unreadable_ids": self.unreadable[:SHOW_IDS]}


def prepare_examples(records: Sequence[Record], tokenizer, featurizer: Featurizer,
                     output_lengths: Callable[[torch.Tensor], torch.Tensor], *,
                     drop_infeasible: bool = True,
                     num_workers: int = 0) -> tuple[list[Example], DataCheck]:
    """Encode texts, measure inputs and check CTC feasibility; return kept examples and report.

    Inputs whose length cannot be estimated from the manifest are featurized once to measure
    them (those that fail are reported unreadable). With ``drop_infeasible=False`` (validation)
    infeasible utterances and those with characters outside the vocabulary are kept (their
    targets leave those characters out; scoring uses the full text) but still counted.
    """
    check = DataCheck(lenient=not drop_infeasible)
    encoded: list[tuple[Record, tuple[int, ...], int | None]] = []
    for record in records:
        text = record.text
        unknown = tokenizer.unknown(text)
        if unknown:
            check.unknown_chars.append(record.id)
            if drop_infeasible:
                continue
            text = "".join(ch for ch in text if ch not in unknown)
        encoded.append((record, tuple(tokenizer.encode(text)),
                        estimate_frames(featurizer, record)))
    unknown = [i for i, (_, _, frames) in enumerate(encoded) if frames is None]
    if unknown:
        measure = FeaturizedDataset([Example(encoded[i][0], (), 0) for i in unknown], featurizer,
                                    train=False)
        loader = torch.utils.data.DataLoader(measure, batch_size=None, num_workers=num_workers)
        for j, item in zip(unknown, loader):
            rec, targets, _ = encoded[j]
            frames = None
            if item.features is not None:
                frames = modality_of(featurizer).length(item.features)
            encoded[j] = (rec, targets, frames)
    measured = [(r, t, f) for r, t, f in encoded if f is not None]
    check.unreadable = [r.id for r, _, f in encoded if f is None]
    if not measured:
        return [], check
    out_frames = output_lengths(torch.tensor([f for _, _, f in measured])).tolist()
    examples = []
    for (record, targets, frames), t_out in zip(measured, out_frames):
        if t_out < required_frames(targets) or t_out == 0:
            check.infeasible.append(record.id)
            if drop_infeasible:
                continue
        examples.append(Example(record, targets, frames))
    check.kept = len(examples)
    return examples, check
