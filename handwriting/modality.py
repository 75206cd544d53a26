"""The ``image`` modality: text lines as ``(H, W)`` normalised images, placed in pixels of the
original image.

Registers itself with ``ctc.modality`` (found by the ``carousel.plugins`` entry point): the line
featurizer, recognition of line images and the txt and json formats.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import Modality, OutputFormat, Posteriorgram, register_modality
from handwriting.featurizer import LineImageFeaturizer
from handwriting.images import list_images
from handwriting.recognize import FORMATS, format_line, line_posteriorgrams


def build_featurizer(frontend: dict[str, Any], train_records: Sequence[Record],
                     args: argparse.Namespace) -> LineImageFeaturizer:
    """The featurizer of ``config.frontend`` (its keys are LineImageFeaturizer's arguments)."""
    kwargs = dict(frontend)
    kwargs.pop("type", None)
    try:
        return LineImageFeaturizer(**kwargs)
    except InputError as err:
        raise ValueError(str(err)) from None


def posteriorgrams(recognizer: Any, inputs: Sequence[str], args: argparse.Namespace,
                   on_progress: Callable[[float], Any]
                   ) -> Iterator[tuple[str, list[Posteriorgram] | InputError]]:
    for source, gram in line_posteriorgrams(recognizer, inputs, on_progress):
        yield source, gram if isinstance(gram, InputError) else [gram]


IMAGE = register_modality(Modality(
    name="image", title="handwriting", time_axis=1, unit="px", model_frontend="line_cnn",
    build_featurizer=build_featurizer, find_inputs=lambda inputs: list_images(list(inputs)),
    measure_inputs=lambda inputs: (float(len(inputs)), "images"),
    posteriorgrams=posteriorgrams,
    writers={fmt: OutputFormat(lambda source, results, fmt=fmt:
                               "".join(format_line(r, fmt) for r in results), f".{fmt}")
             for fmt in FORMATS},
    recognize_command=("recognize", "Recognise text-line images (files or directories, "
                                    "searched recursively). Unreadable images are reported on "
                                    "stderr and skipped; the exit status is then 1."),
    input_noun="image"))
