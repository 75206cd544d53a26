"""The ``htr`` command: handwritten text-line recognition.

  htr prepare iam --root data/iam --out data/manifests
  htr prepare page --root export/ --out data/mine     # also: alto, lines (NAME.png + NAME.gt.txt)
  htr train --config recipes/iam/conf/mini.yaml --train data/manifests/train.jsonl \\
            --valid data/manifests/valid.jsonl --out exp/mini
  htr evaluate --model exp/mini --manifest data/manifests/test.jsonl --report exp/mini/test
  htr recognize line.png pages/ --model exp/mini --format json
  htr recognize export/page/*.xml --model exp/mini --format page --output recognised/

train / evaluate / recognize are the shared commands of ``ctc.commands`` for the ``image``
modality (``handwriting.modality``); this file adds the handwriting corpora: IAM, line folders,
PAGE-XML and ALTO exports (``handwriting.prepare``). Exit status as for
``asr``: 0, 1 for a bad input (one line naming it), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctc.commands.app import Program
from handwriting.modality import IMAGE


def run_prepare_iam(args: argparse.Namespace) -> int:
    from ctc.data.manifest import read_manifest
    from ctc.io import atomic_write_text
    from handwriting.iam import prepare_iam

    report = prepare_iam(args.root, args.out, split=args.split, keep_err=args.keep_err,
                         log=lambda msg: print(msg, file=sys.stderr))
    for name in report.counts:
        texts = [r.text for r in read_manifest(Path(args.out) / f"{name}.jsonl")]
        atomic_write_text(Path(args.out) / f"{name}.txt", "".join(t + "\n" for t in texts))
    if report.failed:
        print(f"htr: error: {len(report.missing_images)} missing and "
              f"{len(report.unreadable_images)} unreadable image(s) left out of the manifests",
              file=sys.stderr)
        return 1
    return 0


def run_prepare_documents(args: argparse.Namespace) -> int:
    from handwriting.prepare import prepare

    report = prepare(args.root, args.out, args.corpus, valid_list=args.valid_list,
                     test_list=args.test_list, valid_fraction=args.valid_fraction,
                     test_fraction=args.test_fraction, seed=args.seed,
                     split_by=getattr(args, "split_by", "line"),
                     log=lambda msg: print(f"htr: {msg}", file=sys.stderr))
    if not report.counts.get("train"):
        print("htr: error: no training lines written", file=sys.stderr)
        return 1
    if report.failed:
        print(f"htr: error: {len(report.failed)} unreadable file(s) or line(s) left out of the "
              f"manifests (listed in {Path(args.out) / 'skipped.txt'})", file=sys.stderr)
        return 1
    return 0


DOCUMENT_CORPORA = {
    "lines": ("line images with transcriptions (NAME.png + NAME.gt.txt)",
              "Find every line image (png, jpg, tif, ...) under --root with a NAME.gt.txt beside "
              "it (the Kraken/Calamari/PyLaia convention; NAME.bin.png also pairs with "
              "NAME.gt.txt), recursively, and write OUT/{train,valid[,test]}.jsonl and .txt."),
    "page": ("PAGE-XML files with their page images (Transkribus, eScriptorium, Kraken)",
             "Read every PAGE-XML file (2013 or 2019 schema) under --root and its page image "
             "(imageFilename, relative to the XML or its parent folder); cut each TextLine with "
             "text out by its polygon (else a band around its baseline) into "
             "OUT/lines/DOC/LINE-ID.png (cached: reruns reuse the crops), in reading order, and "
             "write OUT/{train,valid[,test]}.jsonl and .txt. Lines without text, with empty or "
             "degenerate polygons or outside the image are reported by file and line id, "
             "listed in OUT/skipped.txt and skipped."),
    "alto": ("ALTO v2-v4 files with their page images (eScriptorium, Kraken, OCR exports)",
             "Read every ALTO file (v2, v3, v4) under --root and its page image "
             "(sourceImageInformation/fileName; MeasurementUnit pixel, mm10 or inch1200); cut "
             "each TextLine with text out by its Shape/Polygon, else its box, else a band "
             "around its BASELINE, into OUT/lines/DOC/LINE-ID.png (cached), in reading order, "
             "and write OUT/{train,valid[,test]}.jsonl and .txt; bad lines are reported by "
             "file and line id, listed in OUT/skipped.txt and skipped."),
}


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def add_document_corpus(corpora: argparse._SubParsersAction, name: str) -> None:
    """``htr prepare lines|page|alto``: the user's own documents (``handwriting.prepare``)."""
    summary, description = DOCUMENT_CORPORA[name]
    parser = corpora.add_parser(name, help=summary, description=description + (
        " Exit status 1 when a file or line could not be read (lines without text are only "
        "reported)."))
    parser.add_argument("--root", required=True, help="folder searched recursively")
    parser.add_argument("--out", required=True, help="output folder for manifests"
                        + (" and line crops" if name != "lines" else ""))
    unit = "line image path under --root without suffix, or its stem" if name == "lines" else \
        "document path under --root without .xml, its stem, or DOC/LINE-ID"
    parser.add_argument("--valid-list", metavar="FILE",
                        help=f"names of the validation lines, one per line ({unit})")
    parser.add_argument("--test-list", metavar="FILE", help="names of the test lines, likewise")
    parser.add_argument("--valid-fraction", type=_fraction, default=0.1, metavar="F",
                        help="share of the units drawn for validation without --valid-list "
                             "(default 0.1)")
    parser.add_argument("--test-fraction", type=_fraction, default=0.0, metavar="F",
                        help="share drawn for a test split without --test-list (default 0: no "
                             "test split)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random split")
    if name != "lines":
        parser.add_argument("--split-by", choices=("auto", "document", "line"), default="auto",
                            help="draw whole documents or single lines (auto: documents when "
                                 "there are at least 10, so no page is in two splits)")
    parser.set_defaults(run=run_prepare_documents)


def add_prepare(corpora: argparse._SubParsersAction) -> None:
    iam = corpora.add_parser(
        "iam", help="IAM handwriting database (lines), real or generated by tools/synth_iam.py",
        description="Read ascii/lines.txt, lines/<a01>/<a01-000u>/*.png, ascii/forms.txt (or "
                    "xml/) and split lists; write <out>/<split>.jsonl and <out>/<split>.txt.")
    iam.add_argument("--root", required=True, help="IAM root directory")
    iam.add_argument("--out", required=True, help="output directory for manifests")
    iam.add_argument("--split", default="official",
                     help="official (largeWriterIndependentTextLineRecognitionTask/), aachen "
                          "(splits/aachen/{tr,va,te}.lst) or a directory of list files")
    iam.add_argument("--keep-err", action="store_true",
                     help="keep lines whose segmentation is flagged 'err' (dropped by default)")
    iam.set_defaults(run=run_prepare_iam)
    for name in DOCUMENT_CORPORA:
        add_document_corpus(corpora, name)


PROGRAM = Program("htr", "Offline handwritten text-line recognition (CNN + BiLSTM + CTC).",
                  IMAGE, add_prepare, __doc__, configs="recipes/iam/conf")
main = PROGRAM.main()

if __name__ == "__main__":
    sys.exit(main())
