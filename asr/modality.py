"""The ``audio`` modality: speech as ``(T, F)`` log-mel frames, placed in seconds.

Registers itself with ``ctc.modality`` (found by the ``carousel.plugins`` entry point): the
featurizer factory (global CMVN statistics from the training set), long-file transcription in
overlapping chunks (``asr.transcribe``) or, with ``--vad``, in chunks cut at pauses
(``asr.vad``), and the transcript formats txt, json, srt, vtt and ctm (several chunks of one
file are merged into one transcript).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from asr.audio import audio_info, find_audio_files
from asr.featurizer import LogMelFeaturizer, compute_global_cmvn
from asr.transcribe import FORMATS, file_posteriorgram, format_transcript
from asr.vad import BACKENDS as VAD_BACKENDS
from asr.vad import VadConfig, vad_config, vad_posteriorgrams
from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import Modality, OutputFormat, Posteriorgram, register_modality


def build_featurizer(frontend: dict[str, Any], train_records: Sequence[Record],
                     args: argparse.Namespace) -> LogMelFeaturizer:
    """The featurizer of ``config.frontend``; global CMVN statistics from the training set, or
    from the ``--init`` model's featurizer when it is kept (``args.init_featurizer``)."""
    kwargs = dict(frontend)
    kwargs.pop("type", None)
    init = getattr(args, "init_featurizer", None)  # train --init with --init-frontend keep
    if (kwargs.get("cmvn") == "global" and not kwargs.get("cmvn_mean") and init is not None
            and getattr(init, "cmvn", None) == "global"):
        if init.feature_dim != LogMelFeaturizer(**{**kwargs, "cmvn": "none"}).feature_dim:
            raise ValueError("--init's features have another dimension than this config's")
        kwargs.update(cmvn_mean=init.cmvn_mean, cmvn_std=init.cmvn_std)
        print("global CMVN statistics kept from the --init model", file=sys.stderr)
    needs_stats = kwargs.get("cmvn") == "global" and not kwargs.get("cmvn_mean")
    if needs_stats:
        kwargs.update(cmvn="none", cmvn_mean=None, cmvn_std=None)
    featurizer = LogMelFeaturizer(**kwargs)
    if needs_stats:
        limit = getattr(args, "cmvn_utterances", 2000)
        mean, std, skipped = compute_global_cmvn(featurizer, train_records, limit)
        print(f"global CMVN statistics from {min(len(train_records), limit)} "
              f"training utterances ({len(skipped)} unreadable)", file=sys.stderr)
        featurizer = featurizer.with_global_cmvn(mean, std)
    return featurizer


def add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cmvn-utterances", type=int, default=2000,
                        help="training utterances used for global CMVN statistics (default 2000)")


def add_recognize_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("long audio")
    group.add_argument("--chunk-seconds", type=float, default=20.0,
                       help="audio per chunk, kept part (default 20)")
    group.add_argument("--context-seconds", type=float, default=2.0,
                       help="extra audio on each side of a chunk, discarded (default 2)")
    group.add_argument("--batch-size", type=int, default=4, help="chunks per forward pass")
    vad = parser.add_argument_group(
        "voice-activity detection",
        "With --vad, long audio is cut at pauses into chunks of speech (each at most "
        "--vad-max-seconds) instead of fixed windows, and stretches without speech are not "
        "transcribed; --chunk-seconds and --context-seconds are then unused.")
    vad.add_argument("--vad", action="store_true",
                     help="cut long audio at the pauses a voice-activity detector finds")
    vad.add_argument("--vad-backend", choices=VAD_BACKENDS, default="auto",
                     help="silero (the silero-vad package's bundled model), energy (a "
                          "frame-energy detector) or auto (silero when installed, else energy; "
                          "default)")
    vad.add_argument("--vad-max-seconds", type=float, default=VadConfig.max_seconds,
                     help=f"longest chunk (default {VadConfig.max_seconds:g})")
    vad.add_argument("--vad-min-seconds", type=float, default=VadConfig.min_seconds,
                     help=f"shorter chunks are widened to this (default "
                          f"{VadConfig.min_seconds:g})")
    vad.add_argument("--vad-pad-seconds", type=float, default=VadConfig.pad,
                     help=f"audio kept around each stretch of speech (default {VadConfig.pad:g})")
    vad.add_argument("--vad-min-silence", type=float, default=VadConfig.min_silence,
                     help=f"shorter pauses do not end speech (default "
                          f"{VadConfig.min_silence:g} s)")
    vad.add_argument("--vad-max-gap", type=float, default=VadConfig.max_gap,
                     help=f"longest pause kept inside a chunk (default {VadConfig.max_gap:g} s)")
    vad.add_argument("--vad-threshold", type=float, default=None,
                     help="silero: speech probability (default 0.5); energy: fraction of the way "
                          "from the noise floor to the speech level (default 0.3)")


def check_chunking(args: argparse.Namespace) -> None:
    """InputError for chunking options outside their domain."""
    if not args.chunk_seconds > 0 or args.chunk_seconds > 3600:
        raise InputError(f"--chunk-seconds must be in (0, 3600], got {args.chunk_seconds}")
    if not 0 <= args.context_seconds <= 60:
        raise InputError(f"--context-seconds must be in [0, 60], got {args.context_seconds}")
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")


def measure_inputs(inputs: Sequence[str]) -> tuple[float, str]:
    total = 0.0
    for path in inputs:
        try:
            total += audio_info(path).duration
        except InputError:
            pass
    return total, "s"


def posteriorgrams(recognizer: Any, inputs: Sequence[str], args: argparse.Namespace,
                   on_progress: Callable[[float], Any]
                   ) -> Iterator[tuple[str, list[Posteriorgram] | InputError]]:
    check_chunking(args)
    config = vad_config(args) if getattr(args, "vad", None) else None
    for path in inputs:
        try:
            if config is not None:
                grams = vad_posteriorgrams(recognizer, path, config, args.batch_size,
                                           on_progress)
                yield path, grams or [_no_speech(recognizer, path)]
            else:
                yield path, [file_posteriorgram(recognizer, path, args.chunk_seconds,
                                                args.context_seconds, args.batch_size,
                                                on_progress=on_progress)]
        except InputError as err:
            yield path, err


def _no_speech(recognizer: Any, path: str) -> Posteriorgram:
    """An empty posteriorgram for a file in which the detector found no speech."""
    import torch

    return Posteriorgram(str(path), torch.zeros(0, len(recognizer.tokenizer)),
                         lambda frame: 0.0, audio_info(path).duration)


AUDIO = register_modality(Modality(
    name="audio", title="speech", time_axis=0, unit="s", model_frontend="conv2d",
    build_featurizer=build_featurizer,
    find_inputs=lambda inputs: [str(p) for p in find_audio_files(list(inputs))],
    measure_inputs=measure_inputs, posteriorgrams=posteriorgrams,
    writers={fmt: OutputFormat(lambda source, results, fmt=fmt:
                               format_transcript(results, fmt), f".{fmt}")
             for fmt in FORMATS},
    recognize_command=("transcribe", "Transcribe audio files or folders (wav, flac, ogg, ...; "
                                     "any rate or channel count) with word timestamps. Long files "
                                     "are streamed in overlapping chunks with bounded memory; "
                                     "word times come from the CTC alignment."),
    add_recognize_options=add_recognize_options, add_train_options=add_train_options,
    input_noun="audio file"))
