"""``evaluate``: decode a manifest and write the WER/CER report, for any modality."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctc.commands.options import (
    add_decoding_options,
    add_device_option,
    decode_config,
    prog_of,
)
from ctc.errors import InputError
from ctc.modality import Modality


def add_evaluate_parser(commands: argparse._SubParsersAction, modality: Modality) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="score a model on a manifest (WER/CER report)",
        description="Decode a manifest and write report.json, report.md, alignments.txt, "
                    "hypotheses.jsonl and plots with WER and CER. Unreadable inputs are skipped "
                    "and reported; the exit status is then 1.")
    evaluate.add_argument("--model", required=True, help="experiment folder or checkpoint file")
    evaluate.add_argument("--manifest", required=True, help="manifest to evaluate (JSONL)")
    evaluate.add_argument("--report", required=True, help="output folder for the report")
    evaluate.add_argument("--dump-posteriors", type=Path, metavar="FILE",
                          help="also save log-probabilities (for ctc tune-lm)")
    evaluate.add_argument("--title", help="report title")
    add_decoding_options(evaluate)
    add_device_option(evaluate)
    evaluate.set_defaults(run=lambda args: run_evaluate(args, modality))


def load_recognizer(model: str, device: str, modality: Modality, local_rank: int = 0):
    """The model at ``model`` (on ``cuda:local_rank`` for ``cuda`` under torchrun); InputError
    when it was trained for another modality."""
    from ctc.distributed import resolve_device
    from ctc.recognizer import Recognizer

    recognizer = Recognizer.load(model, resolve_device(device, local_rank))
    if recognizer.modality.name != modality.name:
        raise InputError(f"{recognizer.checkpoint}: a {recognizer.modality.title} model, not "
                         f"{modality.title}")
    return recognizer


def run_evaluate(args: argparse.Namespace, modality: Modality) -> int:
    from ctc.data.manifest import read_manifest
    from ctc.decode import build_decoder
    from ctc.distributed import current_shard
    from ctc.evaluate import evaluate
    from ctc.results import WordConfidence

    if Path(args.report).exists() and not Path(args.report).is_dir():
        raise InputError(f"--report {args.report}: exists and is not a folder")
    config = decode_config(args, args.model)
    shard = current_shard()
    recognizer = load_recognizer(args.model, args.device, modality, shard.local_rank)
    records = read_manifest(args.manifest)
    decoder = build_decoder(config, recognizer.tokenizer)
    label = config.label()
    title = args.title or f"{Path(args.manifest).stem} ({label})"
    summary = evaluate(recognizer, records, args.report, decoder=decoder, title=title,
                       dump_posteriors=args.dump_posteriors, extra={"decoder": label},
                       nbest=config.nbest,
                       confidence=WordConfidence.of(config, recognizer.tokenizer))
    if not shard.is_main:  # rank 0 speaks for the run
        return 1 if summary.get("skipped") else 0
    print(f"model: {recognizer.checkpoint}")
    wer, cer = summary["wer"], summary["cer"]
    print(f"{title}: WER {100 * wer['rate']:.2f}% "
          f"[{wer['substitutions']} sub, {wer['deletions']} del, {wer['insertions']} ins / "
          f"{wer['ref_length']} words], CER {100 * cer['rate']:.2f}% "
          f"({summary['utterances']} utterances) -> {args.report}")
    skipped = summary.get("skipped") or []
    prog = prog_of(args)
    for line in skipped:
        print(f"{prog}: skipped: {line}", file=sys.stderr)
    if skipped:
        print(f"{prog}: error: {len(skipped)} of {len(records)} utterances skipped "
              "(unreadable)", file=sys.stderr)
        return 1
    return 0
