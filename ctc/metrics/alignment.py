"""Per-utterance alignments (sclite-style REF/HYP/EVAL rows) and confusion counts.

An alignment is a list of ``(op, ref, hyp)`` with ``op`` one of ``C`` (correct), ``S``
(substitution), ``D`` (deletion: ``hyp`` is None) and ``I`` (insertion: ``ref`` is None), taken
from rapidfuzz's Levenshtein opcodes: the same alignment jiwer reports.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

from ctc.metrics.errors import units

Aligned = tuple[str, str | None, str | None]
EMPTY_SLOT = "***"
SPACE_MARK = "␣"


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[Aligned]:
    """Minimum-edit alignment of two unit sequences as ``(op, ref_unit, hyp_unit)`` triples."""
    out: list[Aligned] = []
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(ref, hyp):
        if tag == "equal":
            out.extend(("C", ref[i], hyp[j]) for i, j in zip(range(i1, i2), range(j1, j2)))
        elif tag == "replace":
            out.extend(("S", ref[i], hyp[j]) for i, j in zip(range(i1, i2), range(j1, j2)))
        elif tag == "delete":
            out.extend(("D", ref[i], None) for i in range(i1, i2))
        else:
            out.extend(("I", None, hyp[j]) for j in range(j1, j2))
    return out


def align_texts(ref: str, hyp: str, unit: str = "word") -> list[Aligned]:
    """Alignment of two texts split into ``unit`` ("word" or "char")."""
    return align(units(ref, unit), units(hyp, unit))


def op_counts(alignment: Sequence[Aligned]) -> dict[str, int]:
    """How many C, S, D and I an alignment holds."""
    ops = [op for op, _, _ in alignment]
    return {op: ops.count(op) for op in "CSDI"}


def _width(text: str) -> int:
    """Display width in a monospaced font (East Asian wide/full-width characters count 2)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def alignment_rows(alignment: Sequence[Aligned], unit: str = "word") -> tuple[str, str, str]:
    """The REF, HYP and EVAL rows, columns padded to line up; empty slots are ``***``.

    Character alignments show a space as ``␣``. Correct columns have a blank EVAL mark.
    """
    def show(token: str | None) -> str:
        if token is None:
            return EMPTY_SLOT if unit == "word" else "*"
        return SPACE_MARK if unit == "char" and token == " " else token

    ref_cells = [show(r) for _, r, _ in alignment]
    if all(op == "C" for op, _, _ in alignment):
        row = " ".join(ref_cells)
        return ("REF:  " + row).rstrip(), ("HYP:  " + row).rstrip(), "EVAL:"
    hyp_cells = [show(h) for _, _, h in alignment]
    eval_cells = ["" if op == "C" else op for op, _, _ in alignment]
    if "".join(ref_cells + hyp_cells).replace(SPACE_MARK, "").isascii():
        widths = [max(len(r), len(h), 1) for r, h in zip(ref_cells, hyp_cells)]
        pad = str.ljust  # every cell is one column per character
    else:
        widths = [max(_width(r), _width(h), 1) for r, h in zip(ref_cells, hyp_cells)]
        pad = _pad
    return tuple((label + " ".join(map(pad, cells, widths))).rstrip() for label, cells in
                 (("REF:  ", ref_cells), ("HYP:  ", hyp_cells), ("EVAL: ", eval_cells)))


def format_alignment(utt_id: str, alignment: Sequence[Aligned], unit: str = "word") -> str:
    """A sclite-like block: id, REF/HYP/EVAL rows and the (#C #S #D #I) scores."""
    c = op_counts(alignment)
    rows = "\n".join(alignment_rows(alignment, unit))
    return (f"id: {utt_id}\nScores: (#C #S #D #I) {c['C']} {c['S']} {c['D']} {c['I']}\n"
            f"{rows}\n")


@dataclass
class Confusions:
    """Corpus counts of substitution pairs ``(ref, hyp)``, inserted and deleted units."""

    substitutions: Counter[tuple[str, str]] = field(default_factory=Counter)
    insertions: Counter[str] = field(default_factory=Counter)
    deletions: Counter[str] = field(default_factory=Counter)

    def add(self, alignment: Iterable[Aligned]) -> None:
        for op, r, h in alignment:
            if op == "S":
                self.substitutions[(r, h)] += 1
            elif op == "I":
                self.insertions[h] += 1
            elif op == "D":
                self.deletions[r] += 1

    def top(self, n: int = 20) -> dict[str, list]:
        """The ``n`` most frequent of each kind (ties in first-seen order), JSON-ready."""
        return {"substitutions": [[r, h, k] for (r, h), k in self.substitutions.most_common(n)],
                "insertions": [[w, k] for w, k in self.insertions.most_common(n)],
                "deletions": [[w, k] for w, k in self.deletions.most_common(n)]}
