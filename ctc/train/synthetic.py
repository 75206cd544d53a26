"""A synthetic featurizer for tests and benchmarks: text -> per-character feature prototypes.

Each character gets a fixed random prototype vector (seeded by ``seed`` and its code point); an
utterance is its characters' prototypes, each held for ``frames_per_char`` frames, plus Gaussian
noise seeded by the record id (or by ``rng`` when training). The record's ``path`` is not read;
a path ending in ``.bad`` raises InputError, to exercise error handling.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import torch

from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import register_featurizer


@register_featurizer
class SyntheticFeaturizer:
    """Audio-like ``(T, F)`` features (``modality="audio"``) or ``(H, W)`` "images" with
    ``H = feature_dim`` (``modality="image"``) made from the record's text."""

    kind = "synthetic"

    def __init__(self, feature_dim: int = 16, frames_per_char: int = 4, noise: float = 0.1,
                 seed: int = 0, modality: str = "audio", frame_shift: float = 0.01) -> None:
        self.feature_dim = feature_dim
        self.frames_per_char = frames_per_char
        self.noise = noise
        self.seed = seed
        self.modality = modality
        self.frame_shift = frame_shift

    def prototype(self, char: str) -> np.ndarray:
        """The ``(F,)`` prototype of ``char``."""
        rng = np.random.default_rng([self.seed, ord(char)])
        return rng.standard_normal(self.feature_dim).astype(np.float32)

    def num_frames(self, record: Record) -> int:
        """Frames (or columns) that ``record`` featurizes to, without featurizing it."""
        return max(1, len(record.text) * self.frames_per_char)

    def __call__(self, record: Record, train: bool = False,
                 rng: np.random.Generator | None = None) -> torch.Tensor:
        if record.path.endswith(".bad"):
            raise InputError(f"{record.path}: cannot read (synthetic unreadable file)")
        protos = [self.prototype(c) for c in record.text] or [np.zeros(self.feature_dim,
                                                                        np.float32)]
        feats = np.repeat(np.stack(protos), self.frames_per_char, axis=0)  # (T, F)
        if rng is None or not train:
            rng = np.random.default_rng([self.seed, zlib.crc32(record.id.encode())])
        feats = feats + self.noise * rng.standard_normal(feats.shape).astype(np.float32)
        out = torch.from_numpy(feats.astype(np.float32))
        return out.t().contiguous() if self.modality == "image" else out

    def to_dict(self) -> dict[str, Any]:
        return {"feature_dim": self.feature_dim,
                "frames_per_char": self.frames_per_char, "noise": self.noise, "seed": self.seed,
                "modality": self.modality, "frame_shift": self.frame_shift}


def synthetic_records(n: int, *, words: tuple[str, ...] = ("ab", "ba", "abc", "cab", "bca"),
                      words_per_record: int = 2, seed: int = 0,
                      modality: str = "audio") -> list[Record]:
    """``n`` records whose texts are random words joined by spaces."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        text = " ".join(words[j] for j in rng.integers(0, len(words), words_per_record))
        out.append(Record(f"utt{i:04d}", modality, f"synthetic/{i}", text))
    return out
