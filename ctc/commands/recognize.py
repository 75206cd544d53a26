"""``transcribe`` / ``recognize``: raw inputs (audio files, line images) -> text, for any
modality; the modality finds the inputs, computes their posteriors and writes the formats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctc.commands.evaluate import load_recognizer
from ctc.commands.options import (
    add_decoding_options,
    add_device_option,
    decode_config,
    prog_of,
)
from ctc.errors import InputError
from ctc.io import unique_names
from ctc.modality import Modality


def add_recognize_parser(commands: argparse._SubParsersAction, modality: Modality) -> None:
    name, description = modality.recognize_command
    parser = commands.add_parser(name, help=description.split(".")[0].lower(),
                                 description=description)
    noun = modality.input_noun.replace(" ", "_").upper()
    parser.add_argument("inputs", nargs="+", metavar=f"{noun}S_OR_DIRS",
                        help=f"{modality.input_noun} files or folders (searched recursively)")
    parser.add_argument("--model", required=True, help="experiment folder or checkpoint file")
    formats = list(modality.writers)
    parser.add_argument("--format", choices=formats, default=formats[0],
                        help=f"output format (default {formats[0]})")
    parser.add_argument("--output", metavar="DIR",
                        help="write one STEM.FORMAT file per input here (default: stdout)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    modality.add_recognize_options(parser)
    add_decoding_options(parser)
    add_device_option(parser)
    parser.set_defaults(run=lambda args: run_recognize(args, modality))


def output_names(inputs: list[str], suffix: str) -> dict[str, str]:
    """``stem + suffix`` per input; a numeric suffix where two inputs share a stem."""
    return dict(zip(inputs, unique_names([Path(p).stem for p in inputs], suffix), strict=True))


def run_recognize(args: argparse.Namespace, modality: Modality) -> int:
    """Recognise every input; under ``torchrun`` each process takes every ``world``-th input,
    writes its own output files, and rank 0 prints the standard output in input order and the
    failures (the exit status is the same on every process)."""
    from tqdm import tqdm

    from ctc.decode import build_decoder
    from ctc.distributed import broadcast_object, current_shard, gather_objects
    from ctc.io import atomic_write_text
    from ctc.results import WordConfidence, recognize_all

    out_dir = Path(args.output) if args.output else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--output {out_dir}: exists and is not a folder")
    inputs = modality.find_inputs(args.inputs)
    if not inputs:
        raise InputError(f"no {modality.input_noun}s found in {' '.join(args.inputs)}")
    config = decode_config(args, args.model)
    shard = current_shard()
    recognizer = load_recognizer(args.model, args.device, modality, shard.local_rank)
    decoder = build_decoder(config, recognizer.tokenizer)
    confidence = WordConfidence.of(config, recognizer.tokenizer)
    output = modality.writers[args.format]
    names = output_names(inputs, output.suffix)
    prog = prog_of(args)
    mine = inputs[shard.rank::shard.world]
    total, unit = modality.measure_inputs(mine)
    bar = tqdm(total=round(total, 1), unit=unit, desc="recognising",
               disable=args.quiet or not shard.is_main or None, file=sys.stderr,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} " + unit + " [{elapsed}<{remaining}]")
    printed: list[tuple[int, str]] = []  # (input position, text for stdout)
    failures: list[tuple[int, str]] = []  # (input position, message); a document may have many
    recognised: list[int] = []  # input positions with an output
    position = {source: i for i, source in enumerate(inputs)}
    for source, grams in modality.posteriorgrams(recognizer, mine, args, bar.update):
        if isinstance(grams, InputError):
            failures.append((position[source], str(grams)))
            if shard.world == 1:
                bar.write(f"{prog}: skipped: {grams}", file=sys.stderr)
            continue
        results = recognize_all(grams, decoder, recognizer.tokenizer, modality.unit,
                                config.nbest, confidence)
        content = output.write(source, results)
        recognised.append(position[source])
        if out_dir is not None:
            atomic_write_text(out_dir / names[source], content)
            continue
        if args.format == "txt" and len(inputs) > 1:
            content = "".join(f"{source}\t{line}\n" for line in content.splitlines())
        if shard.world == 1:
            bar.write(content.rstrip("\n"), file=sys.stdout)
            sys.stdout.flush()
        else:
            printed.append((position[source], content))
    bar.close()
    if shard.world > 1:  # rank 0 prints everything in input order
        printed = sorted(p for part in gather_objects(printed, shard) for p in part)
        failures = sorted(f for part in gather_objects(failures, shard) for f in part)
        recognised = [r for part in gather_objects(recognised, shard) for r in part]
        if shard.is_main:
            for _, content in printed:
                sys.stdout.write(content if content.endswith("\n") else content + "\n")
            for _, message in failures:
                print(f"{prog}: skipped: {message}", file=sys.stderr)
            sys.stdout.flush()
    status = 0
    if failures:  # an input is skipped, or (a document with bad lines) recognised in part
        troubled = {i for i, _ in failures}
        partly = troubled & set(recognised)
        if shard.is_main:
            noun = modality.input_noun
            if troubled - partly:
                print(f"{prog}: error: {len(troubled - partly)} of {len(inputs)} {noun}s "
                      "skipped (unreadable)", file=sys.stderr)
            if partly:
                print(f"{prog}: error: {len(partly)} of {len(inputs)} {noun}s recognised in "
                      "part (the lines named above were left out)", file=sys.stderr)
        status = 1
    return int(broadcast_object(status, shard))
