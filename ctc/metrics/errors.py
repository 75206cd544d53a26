"""Word and character error counts by minimum edit distance (Levenshtein, unit costs).

The alignment is rapidfuzz's (the one jiwer uses), so substitution, deletion and insertion counts
are identical to jiwer's on the same scoring units. Words are the whitespace-separated fields of a
text; characters are those of the text with whitespace runs collapsed to one space and the ends
stripped. On texts without repeated or non-space whitespace this is exactly jiwer's default
``process_words`` / ``process_characters`` preprocessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

UNITS = ("word", "char")
METRIC_OF_UNIT = {"word": "wer", "char": "cer"}


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
    def hits(self) -> int:
        """Correct units: N - S - D."""
        return self.ref_length - self.substitutions - self.deletions

    @property
    def rate(self) -> float:
        """Error rate as a fraction; inf if the references are empty but errors exist."""
        if self.ref_length == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.ref_length

    @property
    def sentence_error_rate(self) -> float:
        """Fraction of utterances with at least one error (0 for an empty set)."""
        return self.sentence_errors / self.sentences if self.sentences else 0.0

    def __iadd__(self, other: ErrorCounts) -> ErrorCounts:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass(frozen=True)
class UtteranceErrors:
    """Edit counts per utterance: each field an int64 array of shape (U,), U utterances."""

    substitutions: np.ndarray
    deletions: np.ndarray
    insertions: np.ndarray
    ref_length: np.ndarray

    def __len__(self) -> int:
        return len(self.ref_length)

    @property
    def errors(self) -> np.ndarray:
        """S + D + I per utterance, shape (U,)."""
        return self.substitutions + self.deletions + self.insertions

    def subset(self, index: np.ndarray) -> UtteranceErrors:
        """The utterances selected by an integer or boolean ``index``."""
        return UtteranceErrors(self.substitutions[index], self.deletions[index],
                               self.insertions[index], self.ref_length[index])

    def total(self) -> ErrorCounts:
        """Corpus counts summed over the utterances."""
        return ErrorCounts(substitutions=int(self.substitutions.sum()),
                           deletions=int(self.deletions.sum()),
                           insertions=int(self.insertions.sum()),
                           ref_length=int(self.ref_length.sum()),
                           sentences=len(self),
                           sentence_errors=int(np.count_nonzero(self.errors)))


def units(text: str, unit: str) -> list[str]:
    """Split text into scoring units: whitespace-separated words, or characters."""
    if unit == "word":
        return text.split()
    if unit == "char":
        return list(" ".join(text.split()))
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def _sequence(text: str, unit: str) -> list[str] | str:
    """What rapidfuzz aligns: a word list, or the whitespace-collapsed string (chars, faster)."""
    if unit == "word":
        return text.split()
    if unit == "char":
        return " ".join(text.split())
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def utterance_errors(refs: Sequence[str], hyps: Sequence[str], unit: str = "word"
                     ) -> UtteranceErrors:
    """Substitutions, deletions, insertions and reference length of each ref/hyp pair.

    Only the substitutions are counted from the edit script: with E edits, D - I = N - M
    (N, M the reference and hypothesis lengths) and S + D + I = E fix the other two.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    n = len(refs)
    sub = np.zeros(n, dtype=np.int64)
    dele = np.zeros(n, dtype=np.int64)
    ins = np.zeros(n, dtype=np.int64)
    ref_len = np.zeros(n, dtype=np.int64)
    editops = Levenshtein.editops
    for i, (ref, hyp) in enumerate(zip(refs, hyps)):
        r, h = _sequence(ref, unit), _sequence(hyp, unit)
        ref_len[i] = len(r)
        if r == h:
            continue
        ops = editops(r, h).as_list()
        s = sum(1 for op in ops if op[0] == "replace")
        indel = len(ops) - s
        length_gap = len(r) - len(h)
        sub[i] = s
        dele[i] = (indel + length_gap) // 2
        ins[i] = (indel - length_gap) // 2
    return UtteranceErrors(sub, dele, ins, ref_len)


def count_errors(refs: Sequence[str], hyps: Sequence[str], unit: str = "word") -> ErrorCounts:
    """Sum substitutions, deletions and insertions over reference/hypothesis pairs."""
    return utterance_errors(refs, hyps, unit).total()
