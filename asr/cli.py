"""The ``asr`` command: prepare corpora, train, evaluate and transcribe speech.

  asr prepare librispeech --root DIR --subsets dev-clean test-clean --out data/manifests
  asr prepare kaldi --data-dir data/train --out data/manifests/train.jsonl
  asr prepare nemo --manifest train_manifest.json --out data/manifests/train.jsonl
  asr prepare lhotse --cuts cuts_train.jsonl.gz --out data/manifests/train.jsonl
  asr export kaldi --manifest data/manifests/test.jsonl --out data/kaldi/test
  asr train --config conf/mini.yaml --train train.jsonl --valid dev.jsonl --out exp/mini
  asr evaluate --model exp/mini --manifest test.jsonl [--lm lm.arpa] --report exp/mini/test
  asr transcribe talk.flac recordings/ --model exp/mini [--lm lm.arpa] --format srt --output out/

train / evaluate / transcribe are the shared commands of ``ctc.commands`` for the ``audio``
modality (``asr.modality``); this file adds the speech corpora (``prepare``: LibriSpeech, Kaldi,
NeMo, Lhotse) and ``export`` (Kaldi, NeMo, Lhotse). Exit status: 0 on success, 1 when an input
was bad (one line on stderr naming it, with file:line; batch commands finish the other inputs
first), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys

from asr.modality import AUDIO
from ctc.commands.app import Program


def run_prepare_librispeech(args: argparse.Namespace) -> int:
    from asr.librispeech import prepare_librispeech

    reports = prepare_librispeech(args.root, args.subsets, args.out)
    status = 0
    for rep in reports:
        print(f"{rep.subset}: {rep.utterances} utterances, {rep.hours:.2f} h -> {rep.manifest}")
        problems = [("audio file(s) without transcript", rep.audio_without_transcript),
                    ("transcript line(s) without audio", rep.transcript_without_audio),
                    ("malformed transcript line(s)", rep.bad_lines),
                    ("transcript line(s) not UTF-8, skipped", rep.undecodable),
                    ("unreadable audio file(s), skipped", rep.unreadable)]
        for what, items in problems:
            if items:
                shown = ", ".join(items[:5]) + (" ..." if len(items) > 5 else "")
                print(f"asr: warning: {rep.subset}: {len(items)} {what}: {shown}",
                      file=sys.stderr)
        if rep.unreadable or rep.undecodable:
            status = 1
    return status


def run_prepare_kaldi(args: argparse.Namespace) -> int:
    from asr.dataio import report
    from asr.kaldi import prepare_kaldi

    outcome = prepare_kaldi(args.data_dir, args.out, root=args.root)
    return report(outcome, args.prog, "utterances", sys.stderr)


def run_prepare_nemo(args: argparse.Namespace) -> int:
    from asr.dataio import report
    from asr.nemo import prepare_nemo

    return report(prepare_nemo(args.manifest, args.out), args.prog, "utterances", sys.stderr)


def run_prepare_lhotse(args: argparse.Namespace) -> int:
    from asr.dataio import report
    from asr.lhotse_io import prepare_lhotse

    outcome = prepare_lhotse(args.out, cuts=args.cuts, recordings=args.recordings,
                             supervisions=args.supervisions)
    return report(outcome, args.prog, "utterances", sys.stderr)


def run_export(args: argparse.Namespace) -> int:
    from asr.dataio import report

    if args.layout == "kaldi":
        from asr.kaldi import export_kaldi

        outcome = export_kaldi(args.manifest, args.out, plain_paths=args.plain_paths)
    elif args.layout == "nemo":
        from asr.nemo import export_nemo

        outcome = export_nemo(args.manifest, args.out)
    else:
        from asr.lhotse_io import export_lhotse

        outcome = export_lhotse(args.manifest, args.out)
    return report(outcome, args.prog, "utterances", sys.stderr)


def add_export(commands: argparse._SubParsersAction) -> None:
    """``asr export kaldi|nemo|lhotse``: a manifest in another toolkit's layout."""
    export = commands.add_parser(
        "export", help="write a manifest in another toolkit's layout (Kaldi, NeMo, Lhotse)",
        description="Write the records of a manifest as a Kaldi data folder, a NeMo manifest or "
                    "Lhotse manifests. Bad records are skipped with one line each (file:line) "
                    "and the command exits 1.")
    layouts = export.add_subparsers(dest="layout", metavar="<layout>", required=True)
    kaldi = layouts.add_parser(
        "kaldi", help="a Kaldi data folder",
        description="Write wav.scp, text, utt2spk, spk2utt, utt2dur and, when records are "
                    "segments, segments and reco2dur, sorted in LC_ALL=C order as Kaldi's "
                    "utils/validate_data_dir.sh requires. Utterance ids that do not start with "
                    "their speaker id are written as SPEAKER-ID (the command says how many); a "
                    "record without a speaker is its own speaker. Non-WAV files become "
                    "'sox PATH -t wav - |' pipes unless --plain-paths.")
    kaldi.add_argument("--plain-paths", action="store_true",
                       help="write audio paths as they are, also for non-WAV files")
    nemo = layouts.add_parser(
        "nemo", help="a NeMo manifest (JSON lines)",
        description="Write one JSON line per record: audio_filepath, duration, text, offset "
                    "(segments), speaker, utt_id. Records read through a command are skipped "
                    "(NeMo cannot run one).")
    lhotse = layouts.add_parser(
        "lhotse", help="Lhotse recordings, supervisions and cuts (needs lhotse)",
        description="Write recordings.jsonl.gz, supervisions.jsonl.gz and cuts.jsonl.gz (one "
                    "cut per recording) into the --out folder. Needs the lhotse package "
                    "(pip install 'carousel[lhotse]').")
    for parser, out_help in ((kaldi, "the data folder to write"),
                             (nemo, "the NeMo manifest to write (.json)"),
                             (lhotse, "the folder to write the manifests into")):
        parser.add_argument("--manifest", required=True, help="our JSONL manifest to export")
        parser.add_argument("--out", required=True, help=out_help)
        parser.set_defaults(run=run_export)


def add_prepare(corpora: argparse._SubParsersAction) -> None:
    libri = corpora.add_parser(
        "librispeech", help="LibriSpeech layout (real or generated)",
        description="Read <root>/LibriSpeech/<subset>/<spk>/<chapter>/*.flac with their "
                    "<spk>-<chapter>.trans.txt and write <out>/<subset>.jsonl (id, path, duration, "
                    "text, speaker). Missing transcripts/audio are reported.")
    libri.add_argument("--root", required=True, help="folder holding LibriSpeech/ (or it)")
    libri.add_argument("--subsets", nargs="+", required=True, metavar="SUBSET",
                       help="subset folder names, e.g. train-clean-100 dev-clean test-clean")
    libri.add_argument("--out", required=True, help="output folder for the manifests")
    libri.set_defaults(run=run_prepare_librispeech)

    out_help = ("the manifest to write (JSONL), or a folder to write NAME.jsonl into")
    kaldi = corpora.add_parser(
        "kaldi", help="a Kaldi data folder (wav.scp, text, utt2spk, segments, ...)",
        description="Read a Kaldi data folder: wav.scp (paths, or 'command |' pipes run when the "
                    "audio is read), text, utt2spk, and segments, reco2dur, utt2dur when "
                    "present; with segments, each utterance is a [start, end) segment of its "
                    "recording. Durations come from utt2dur, segments and reco2dur when "
                    "present (pipes are not run just to measure them), else from the audio "
                    "header. Bad entries (a missing wav.scp entry, a segment past the end of its "
                    "recording, a malformed line) are skipped with one line each naming "
                    "file:line, and the command exits 1.")
    kaldi.add_argument("--data-dir", required=True, help="the Kaldi data folder")
    kaldi.add_argument("--out", required=True, help=out_help)
    kaldi.add_argument("--root", help="folder relative wav.scp paths are relative to (default: "
                                      "the current folder, as in Kaldi's recipes)")
    kaldi.set_defaults(run=run_prepare_kaldi)

    nemo = corpora.add_parser(
        "nemo", help="a NeMo manifest (JSON lines: audio_filepath, duration, text[, offset])",
        description="Read a NeMo ASR manifest: one JSON object per line with audio_filepath "
                    "(relative to the manifest's folder), duration, text and optional offset, "
                    "speaker. A line with an offset is the segment [offset, offset + duration) "
                    "of its file. A line without duration is measured from the audio header (a "
                    "note names it). Bad lines are skipped with one line each naming file:line, "
                    "and the command exits 1.")
    nemo.add_argument("--manifest", required=True, help="the NeMo manifest (.json)")
    nemo.add_argument("--out", required=True, help=out_help)
    nemo.set_defaults(run=run_prepare_nemo)

    lhotse = corpora.add_parser(
        "lhotse", help="Lhotse cuts, or recordings + supervisions (needs lhotse)",
        description="Read Lhotse manifests (.jsonl or .jsonl.gz) with the lhotse package "
                    "(pip install 'carousel[lhotse]'): each supervision becomes a record, the "
                    "segment of its recording it covers. File and command sources are read; "
                    "other sources, multi-source recordings and mixed cuts are skipped with one "
                    "line each naming file:line, and the command exits 1.")
    lhotse.add_argument("--cuts", help="a CutSet manifest")
    lhotse.add_argument("--recordings", help="a RecordingSet manifest (with --supervisions)")
    lhotse.add_argument("--supervisions", help="a SupervisionSet manifest (with --recordings)")
    lhotse.add_argument("--out", required=True, help=out_help)
    lhotse.set_defaults(run=run_prepare_lhotse)


PROGRAM = Program("asr", "Speech recognition with BiLSTM-CTC models.", AUDIO, add_prepare,
                  __doc__, configs="recipes/librispeech/conf", add_commands=add_export)
main = PROGRAM.main()

if __name__ == "__main__":
    sys.exit(main())
