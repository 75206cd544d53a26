"""The handwriting front-end: a manifest record -> a ``(H, W)`` normalised line image tensor."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import Placement, register_featurizer
from handwriting.augment import AugmentConfig, augment
from handwriting.images import LineGeometry, load_gray, normalize_line


@register_featurizer
class LineImageFeaturizer:
    """Loads a line image and normalises it to height ``height`` (see ``handwriting.images``).

    Output: ``(H, W)`` float32, ink high, paper 0 (``ctc.modality`` image layout). With
    ``train=True`` the image is distorted by ``handwriting.augment`` using the given generator.
    ``augment`` is a dict of ``AugmentConfig`` fields overriding its defaults, or False for none.
    """

    kind = "line_image"
    modality = "image"
    frame_shift = 1.0  # one input column per normalised pixel

    def __init__(self, height: int = 64, binarize: bool = False, contrast: bool = True,
                 deslant: bool = False, augment: dict[str, Any] | bool = True,
                 min_width: int = 8) -> None:
        if height < 8:
            raise InputError(f"image height must be at least 8 pixels, got {height}")
        self.height = int(height)
        self.binarize = bool(binarize)
        self.contrast = bool(contrast)
        self.deslant = bool(deslant)
        self.min_width = int(min_width)
        if augment is True or augment is None:
            self.augment_config: AugmentConfig | None = AugmentConfig()
        elif augment is False:
            self.augment_config = None
        else:
            try:
                self.augment_config = AugmentConfig(**dict(augment))
            except TypeError as err:
                raise InputError(f"frontend.augment: {err}") from None

    @property
    def feature_dim(self) -> int:
        return self.height

    def num_frames(self, record: Record) -> int | None:
        """Columns after normalising to ``height``, estimated from the manifest's size (None
        without it; the engine then measures the image)."""
        if record.width and record.height:
            return round(record.width * self.height / record.height)
        return None

    def normalized(self, path: str) -> tuple[np.ndarray, LineGeometry]:
        """Load ``path`` -> ``(H, W)`` float32 array and its geometry (no augmentation)."""
        return self.normalize_gray(load_gray(path))

    def normalize_gray(self, gray: np.ndarray) -> tuple[np.ndarray, LineGeometry]:
        """Grey levels ``(h, w)`` uint8 (a line already in memory, e.g. cut from a page) ->
        ``(H, W)`` float32 array and its geometry in ``gray``'s pixels (no augmentation)."""
        ink, geometry = normalize_line(gray, self.height, binarize=self.binarize,
                                       contrast=self.contrast, deslant=self.deslant)
        if ink.shape[1] < self.min_width:  # keep at least a few columns for the CNN
            ink = np.pad(ink, ((0, 0), (0, self.min_width - ink.shape[1])))
        return ink, geometry

    def place(self, record: Record) -> tuple[torch.Tensor, Placement]:
        """Features of ``record`` (no augmentation) and where their columns lie in the file."""
        ink, geometry = self.normalized(record.path)
        return (torch.from_numpy(np.ascontiguousarray(ink, dtype=np.float32)),
                Placement(geometry.x0, geometry.scale, float(geometry.width)))

    def __call__(self, record: Record, train: bool = False,
                 rng: np.random.Generator | None = None) -> torch.Tensor:
        """``(H, W)`` float32 tensor of ``record.path``; InputError naming the file if bad."""
        ink, _ = self.normalized(record.path)
        if train and self.augment_config is not None:
            ink = augment(ink, rng if rng is not None else np.random.default_rng(),
                          self.augment_config)
        return torch.from_numpy(np.ascontiguousarray(ink, dtype=np.float32))

    def to_dict(self) -> dict[str, Any]:
        augment_state: dict[str, Any] | bool = (
            False if self.augment_config is None else self.augment_config.to_dict())
        return {"height": self.height,
                "binarize": self.binarize, "contrast": self.contrast, "deslant": self.deslant,
                "augment": augment_state, "min_width": self.min_width}
