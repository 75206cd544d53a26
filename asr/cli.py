"""The ``asr`` command: prepare corpora, train, evaluate and transcribe speech.

  asr prepare librispeech --root DIR --subsets dev-clean test-clean --out data/manifests
  asr train --config conf/mini.yaml --train train.jsonl --valid dev.jsonl --out exp/mini
  asr evaluate --model exp/mini --manifest test.jsonl [--lm lm.arpa] --report exp/mini/test
  asr transcribe talk.flac recordings/ --model exp/mini [--lm lm.arpa] --format srt --output out/

train / evaluate / transcribe are the shared commands of ``ctc.commands`` for the ``audio``
modality (``asr.modality``); this file adds the speech corpora. Exit status: 0 on success, 1
when an input was bad (one line on stderr naming it; batch commands finish the other inputs
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


PROGRAM = Program("asr", "Speech recognition with BiLSTM-CTC models.", AUDIO, add_prepare,
                  __doc__, configs="recipes/librispeech/conf")
main = PROGRAM.main()

if __name__ == "__main__":
    sys.exit(main())
