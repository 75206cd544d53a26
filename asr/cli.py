"""The ``asr`` command: prepare LibriSpeech, train, evaluate and transcribe.

  asr prepare librispeech --root DIR --subsets dev-clean test-clean --out data/manifests
  asr train --config conf/mini.yaml --train train.jsonl --valid dev.jsonl --out exp/mini
  asr evaluate --model exp/mini --manifest test.jsonl [--lm lm.arpa] --report exp/mini/test
  asr transcribe talk.flac recordings/ --model exp/mini [--lm lm.arpa] --format srt --output out/

Every command exits 0 on success, 1 when an input was bad (one line on stderr naming it; batch
commands finish the other inputs first) and 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctc.decode.options import add_decoding_options, decoder_from_options
from ctc.errors import InputError, cli_entry

# --------------------------------------------------------------------------- prepare


def run_prepare(args: argparse.Namespace) -> int:
    from asr.librispeech import prepare_librispeech

    reports = prepare_librispeech(args.root, args.subsets, args.out)
    status = 0
    for rep in reports:
        print(f"{rep.subset}: {rep.utterances} utterances, {rep.hours:.2f} h -> {rep.manifest}")
        problems = [("audio file(s) without transcript", rep.audio_without_transcript),
                    ("transcript line(s) without audio", rep.transcript_without_audio),
                    ("malformed transcript line(s)", rep.bad_lines),
                    ("unreadable audio file(s), skipped", rep.unreadable)]
        for what, items in problems:
            if items:
                shown = ", ".join(items[:5]) + (" ..." if len(items) > 5 else "")
                print(f"asr: warning: {rep.subset}: {len(items)} {what}: {shown}",
                      file=sys.stderr)
        if rep.unreadable:
            status = 1
    return status


# --------------------------------------------------------------------------- train


def build_featurizer(frontend: dict, train_records: list, cmvn_utterances: int):
    """The featurizer of ``config.frontend``; global CMVN statistics from the training set."""
    from asr.featurizer import LogMelFeaturizer, compute_global_cmvn

    kwargs = {k: v for k, v in frontend.items() if k != "type"}
    needs_stats = kwargs.get("cmvn") == "global" and not kwargs.get("cmvn_mean")
    if needs_stats:
        kwargs.update(cmvn="none", cmvn_mean=None, cmvn_std=None)
    try:
        featurizer = LogMelFeaturizer(**kwargs)
    except (TypeError, ValueError) as err:
        raise InputError(f"config frontend: {err}") from None
    if needs_stats:
        mean, std, skipped = compute_global_cmvn(featurizer, train_records, cmvn_utterances)
        print(f"global CMVN statistics from {min(len(train_records), cmvn_utterances)} "
              f"training utterances ({len(skipped)} unreadable)", file=sys.stderr)
        featurizer = featurizer.with_global_cmvn(mean, std)
    return featurizer


def run_train(args: argparse.Namespace) -> int:
    from ctc.data.manifest import read_manifest
    from ctc.train import load_config, run_training

    config = load_config(args.config, args.set)
    train_path = args.train or config.data.train_manifest
    valid_path = args.valid or config.data.valid_manifest
    if not train_path or not valid_path:
        raise InputError("give --train and --valid manifests "
                         "(or data.train_manifest and data.valid_manifest)")
    train_records = read_manifest(train_path)
    valid_records = read_manifest(valid_path)
    featurizer = build_featurizer(config.frontend, train_records, args.cmvn_utterances)
    metrics = run_training(config, featurizer, train_records, valid_records, Path(args.out),
                           resume=args.resume)
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in metrics.items() if not isinstance(v, dict | list))
    print(f"trained model in {args.out}: {shown}")
    return 0


# --------------------------------------------------------------------------- decoding


def load_recognizer(model: str, device: str):
    from ctc.infer import Recognizer

    recognizer = Recognizer.load(model, device)
    if device == "cuda" and hasattr(recognizer.featurizer, "device"):
        recognizer.featurizer.device = "cuda"  # features computed on the GPU too
    return recognizer


# --------------------------------------------------------------------------- evaluate


def run_evaluate(args: argparse.Namespace) -> int:
    from ctc.data.manifest import read_manifest
    from ctc.evaluate import evaluate

    recognizer = load_recognizer(args.model, args.device)
    records = read_manifest(args.manifest)
    decoder, label = decoder_from_options(args, recognizer.tokenizer, args.model)
    title = args.title or f"{Path(args.manifest).stem} ({label})"
    summary = evaluate(recognizer, records, args.report, decoder=decoder, title=title,
                       dump_posteriors=args.dump_posteriors, extra={"decoder": label})
    wer, cer = summary["wer"], summary["cer"]
    print(f"{title}: WER {100 * wer['rate']:.2f}% "
          f"[{wer['substitutions']} sub, {wer['deletions']} del, {wer['insertions']} ins / "
          f"{wer['ref_length']} words], CER {100 * cer['rate']:.2f}% "
          f"({summary['utterances']} utterances) -> {args.report}")
    skipped = summary.get("skipped") or []
    for line in skipped:
        print(f"asr: skipped: {line}", file=sys.stderr)
    if skipped:
        print(f"asr: error: {len(skipped)} unreadable file(s) skipped", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- transcribe


def _output_names(files: list[Path], fmt: str) -> dict[Path, str]:
    """``stem.fmt`` per input; a numeric suffix where two inputs share a stem."""
    names: dict[Path, str] = {}
    used: set[str] = set()
    for path in files:
        name, n = f"{path.stem}.{fmt}", 1
        while name in used:
            n += 1
            name = f"{path.stem}-{n}.{fmt}"
        used.add(name)
        names[path] = name
    return names


def run_transcribe(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from asr.audio import audio_info, find_audio_files
    from asr.transcribe import format_transcript, transcribe_file
    from ctc.io import atomic_write_text

    files = find_audio_files(args.inputs)
    if not files:
        raise InputError(f"no audio files found in {' '.join(args.inputs)}")
    recognizer = load_recognizer(args.model, args.device)
    decoder, _ = decoder_from_options(args, recognizer.tokenizer, args.model)
    failures: list[str] = []
    total = 0.0
    for path in files:
        try:
            total += audio_info(path).duration
        except InputError:
            pass
    names = _output_names(files, args.format)
    out_dir = Path(args.output) if args.output else None
    bar = tqdm(total=round(total, 1), unit="s", desc="transcribing", disable=args.quiet or None,
               file=sys.stderr,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]")
    for path in files:
        try:
            result = transcribe_file(recognizer, decoder, path, args.chunk_seconds,
                                     args.context_seconds, args.batch_size,
                                     on_progress=bar.update)
        except InputError as err:
            failures.append(str(err))
            continue
        content = format_transcript(result, args.format)
        if out_dir is not None:
            atomic_write_text(out_dir / names[path], content)
        elif args.format == "txt" and len(files) > 1:
            bar.write(f"{path}\t{result.text}", file=sys.stdout)
        else:
            bar.write(content.rstrip("\n"), file=sys.stdout)
    bar.close()
    for line in failures:
        print(f"asr: skipped: {line}", file=sys.stderr)
    if failures:
        print(f"asr: error: {len(failures)} of {len(files)} file(s) could not be transcribed",
              file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- parser


def _decoding_options(parser: argparse.ArgumentParser) -> None:
    add_decoding_options(parser)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the model runs (default cpu)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr", description="Speech recognition with BiLSTM-CTC models.",
        epilog="examples:\n" + "\n".join(__doc__.splitlines()[2:6])
               + "\n\nRun `asr <command> --help` for the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    prepare = commands.add_parser("prepare", help="write manifests for a corpus",
                                  description="Write JSONL manifests for a speech corpus.")
    corpora = prepare.add_subparsers(dest="corpus", metavar="<corpus>", required=True)
    libri = corpora.add_parser(
        "librispeech", help="LibriSpeech layout (real or generated)",
        description="Read <root>/LibriSpeech/<subset>/<spk>/<chapter>/*.flac with their "
                    "<spk>-<chapter>.trans.txt and write <out>/<subset>.jsonl (id, path, duration, "
                    "text, speaker). Missing transcripts/audio are reported.")
    libri.add_argument("--root", required=True, help="folder holding LibriSpeech/ (or it)")
    libri.add_argument("--subsets", nargs="+", required=True, metavar="SUBSET",
                       help="subset folder names, e.g. train-clean-100 dev-clean test-clean")
    libri.add_argument("--out", required=True, help="output folder for the manifests")
    libri.set_defaults(run=run_prepare)

    train = commands.add_parser(
        "train", help="train a model",
        description="Train a BiLSTM-CTC model. The config's frontend section holds the feature "
                    "options (asr.featurizer.LogMelFeaturizer); with cmvn: global the statistics "
                    "are computed from the training set and stored in the checkpoint.")
    train.add_argument("--config", required=True, help="YAML config (see recipes/librispeech/conf)")
    train.add_argument("--train", help="training manifest (JSONL)")
    train.add_argument("--valid", help="validation manifest (JSONL)")
    train.add_argument("--out", required=True, help="experiment folder for checkpoints and logs")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set optim.lr=5e-4 (repeatable)")
    train.add_argument("--cmvn-utterances", type=int, default=2000,
                       help="training utterances used for global CMVN statistics (default 2000)")
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser(
        "evaluate", help="score a model on a manifest (WER/CER report)",
        description="Decode a manifest and write report.json/report.md with WER and CER.")
    evaluate.add_argument("--model", required=True, help="experiment folder or checkpoint file")
    evaluate.add_argument("--manifest", required=True, help="manifest to evaluate (JSONL)")
    evaluate.add_argument("--report", required=True, help="output folder for the report")
    evaluate.add_argument("--dump-posteriors", type=Path, metavar="FILE",
                          help="also save log-probabilities (for ctc tune-lm)")
    evaluate.add_argument("--title", help="report title")
    _decoding_options(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    trans = commands.add_parser(
        "transcribe", help="transcribe audio files with word timestamps",
        description="Transcribe audio files or folders (wav, flac, ogg, ...; any rate or channel "
                    "count). Long files are streamed in overlapping chunks with bounded memory. "
                    "Word times come from the CTC alignment.")
    trans.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files or folders")
    trans.add_argument("--model", required=True, help="experiment folder or checkpoint file")
    trans.add_argument("--format", choices=("txt", "json", "srt", "vtt", "ctm"), default="txt",
                       help="output format (default txt)")
    trans.add_argument("--output", metavar="DIR",
                       help="write one STEM.FORMAT file per input here (default: stdout)")
    trans.add_argument("--chunk-seconds", type=float, default=20.0,
                       help="audio per chunk, kept part (default 20)")
    trans.add_argument("--context-seconds", type=float, default=2.0,
                       help="extra audio on each side of a chunk, discarded (default 2)")
    trans.add_argument("--batch-size", type=int, default=4, help="chunks per forward pass")
    trans.add_argument("--quiet", action="store_true", help="no progress bar")
    _decoding_options(trans)
    trans.set_defaults(run=run_transcribe)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
