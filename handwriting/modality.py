"""The ``image`` modality: text lines as ``(H, W)`` normalised images, placed in pixels of the
original image (a line image, or the page of a PAGE/ALTO document).

Registers itself with ``ctc.modality`` (found by the ``carousel.plugins`` entry point): the line
featurizer, recognition of line images and of the lines of PAGE-XML and ALTO files (batched,
``--batch-size``), and the txt, json, page and alto formats.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import Modality, OutputFormat, Posteriorgram, register_modality
from handwriting.featurizer import LineImageFeaturizer
from handwriting.recognize import (
    DEFAULT_BATCH_SIZE,
    FORMATS,
    document_posteriorgrams,
    find_inputs,
    write_output,
)


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
    batch_size = getattr(args, "batch_size", DEFAULT_BATCH_SIZE)
    yield from document_posteriorgrams(recognizer, inputs, on_progress, batch_size)


def _batch_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_recognize_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=_batch_size, default=DEFAULT_BATCH_SIZE,
                        metavar="N",
                        help="lines per forward pass, packed by similar width (default "
                             f"{DEFAULT_BATCH_SIZE}; 1: one line at a time)")


IMAGE = register_modality(Modality(
    name="image", title="handwriting", time_axis=1, unit="px", model_frontend="line_cnn",
    build_featurizer=build_featurizer, find_inputs=find_inputs,
    measure_inputs=lambda inputs: (float(len(inputs)), "files"),
    posteriorgrams=posteriorgrams,
    writers={fmt: OutputFormat(lambda source, results, fmt=fmt: write_output(source, results,
                                                                              fmt),
                               f".{fmt}.xml" if fmt in ("page", "alto") else f".{fmt}")
             for fmt in FORMATS},
    recognize_command=(
        "recognize",
        "Recognise text-line images and the lines of PAGE-XML and ALTO files (files or "
        "directories, searched recursively; the page images a PAGE/ALTO file names are read "
        "through it). --format page|alto writes each document back with the recognised text "
        "(line and word level, with confidences); a bare page image without its PAGE/ALTO file "
        "is an error. Unreadable files and lines are reported on stderr and skipped; the exit "
        "status is then 1."),
    add_recognize_options=add_recognize_options,
    input_noun="image"))
