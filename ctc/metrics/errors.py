"""Word and character error counts by minimum edit distance (Levenshtein, unit costs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein


@dataclass
class ErrorCounts:
    """Corpus-level edit counts; ``rate`` = (S + D + I) / N as in sclite and jiwer."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    ref_length: int = 0
    sentences: int = 0
    sentence_errors: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Error rate as a fraction; inf if the references are empty but errors exist."""
        if self.ref_length == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.ref_length

    def __iadd__(self, other: ErrorCounts) -> ErrorCounts:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def units(text: str, unit: str) -> list[str]:
    """Split text into scoring units: whitespace-separated words, or characters."""
    if unit == "word":
        return text.split()
    if unit == "char":
        return list(" ".join(text.split()))
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def count_errors(refs: Sequence[str], hyps: Sequence[str], unit: str = "word") -> ErrorCounts:
    """Sum substitutions, deletions and insertions over reference/hypothesis pairs."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    total = ErrorCounts()
    for ref, hyp in zip(refs, hyps):
        r, h = units(ref, unit), units(hyp, unit)
        counts = ErrorCounts(ref_length=len(r), sentences=1)
        for op in Levenshtein.editops(r, h):
            if op.tag == "replace":
                counts.substitutions += 1
            elif op.tag == "delete":
                counts.deletions += 1
            else:
                counts.insertions += 1
        counts.sentence_errors = int(counts.errors > 0)
        total += counts
    return total
