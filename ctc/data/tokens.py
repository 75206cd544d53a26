"""Token tables: the mapping between text and CTC output indices, with an explicit blank.

A tokenizer is saved inside each checkpoint (``to_dict``/``tokenizer_from_dict``) so that decoding
needs only the checkpoint. Index ``blank`` is reserved; it never appears in encoded text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ctc.errors import InputError

BLANK_SYMBOL = "<b>"


class CharTokenizer:
    """Character vocabulary: one output unit per character, blank at index ``blank``.

    ``word_delimiter`` (a space) is an ordinary token; decoders use it to find word boundaries.
    """

    kind = "char"

    def __init__(self, symbols: Sequence[str], blank: int = 0, word_delimiter: str = " ") -> None:
        symbols = list(symbols)
        if not 0 <= blank < len(symbols) or symbols[blank] != BLANK_SYMBOL:
            raise ValueError(f"symbols[{blank}] must be the blank symbol {BLANK_SYMBOL!r}")
        if len(set(symbols)) != len(symbols):
            raise ValueError("token symbols must be unique")
        self.symbols = symbols
        self.blank = blank
        self.word_delimiter = word_delimiter
        self._index = {s: i for i, s in enumerate(symbols)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> CharTokenizer:
        """Vocabulary of every character seen at least ``min_count`` times, blank first."""
        counts = Counter(ch for text in texts for ch in text)
        chars = sorted(ch for ch, n in counts.items() if n >= min_count)
        return cls([BLANK_SYMBOL, *chars])

    def __len__(self) -> int:
        return len(self.symbols)

    def unknown(self, text: str) -> set[str]:
        """Characters of ``text`` that are not in the vocabulary."""
        return {ch for ch in text if ch not in self._index}

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; InputError naming the characters outside the vocabulary."""
        try:
            return [self._index[ch] for ch in text]
        except KeyError:
            bad = "".join(sorted(self.unknown(text)))
            raise InputError(f"text {text[:40]!r} has characters not in the vocabulary: {bad!r}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (blanks dropped; no CTC collapsing: pass a decoded path)."""
        return "".join(self.symbols[i] for i in ids if i != self.blank)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "symbols": self.symbols, "blank": self.blank,
                "word_delimiter": self.word_delimiter}


def tokenizer_from_dict(state: dict) -> CharTokenizer:
    """Rebuild a tokenizer saved with ``to_dict`` (dispatching on ``kind``)."""
    kind = state.get("kind", "char")
    if kind == "char":
        return CharTokenizer(state["symbols"], state["blank"], state.get("word_delimiter", " "))
    if kind == "bpe":
        from ctc.data.bpe import BPETokenizer  # optional: needs sentencepiece

        return BPETokenizer.from_dict(state)
    raise ValueError(f"unknown tokenizer kind {kind!r}")
