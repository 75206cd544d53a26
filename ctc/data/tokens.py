"""Token tables: the mapping between text and CTC output indices, with an explicit blank.

A tokenizer is saved inside each checkpoint (``to_dict``/``tokenizer_from_dict``) so that decoding
needs only the checkpoint. Index ``blank`` is reserved; it never appears in encoded text.

A tokenizer also owns its *word convention* (:class:`TokenText`): character vocabularies separate
words by a delimiter token (a space), subword vocabularies mark word-initial pieces with a prefix
("▁"). Every path from token ids to text, and from token ids and frames to word spans, goes
through ``TokenText`` (decoders, evaluation, transcription, recognition).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ctc.errors import InputError

BLANK_SYMBOL = "<b>"


@dataclass(frozen=True)
class WordSpan:
    """A decoded word and its frame span ``[start, end)`` in encoder output frames."""

    word: str
    start: int
    end: int


class TokenText:
    """Token ids to text and word spans under one word convention.

    ``word_delimiter``: the token separating words (character vocabularies), or None for a
    vocabulary without one (digit strings, word images, CJK lines), whose output is one word.
    ``word_prefix``: the marker of word-initial tokens (subword vocabularies, e.g. "▁").
    The blank yields no text.
    """

    def __init__(self, tokens: Sequence[str], blank: int = 0, word_delimiter: str | None = " ",
                 word_prefix: str | None = None) -> None:
        self.tokens = list(tokens)
        self.blank = blank
        self.word_prefix = word_prefix or None
        if word_delimiter is not None and word_delimiter not in self.tokens and not word_prefix:
            raise InputError(f"the word delimiter {word_delimiter!r} is not a token "
                             "(pass word_delimiter=None for a vocabulary without one)")
        self.delimiter_id = (self.tokens.index(word_delimiter)
                             if word_delimiter is not None and word_delimiter in self.tokens
                             else -1)
        self.word_delimiter = word_delimiter if self.delimiter_id >= 0 else None
        self._surface = []
        for i, tok in enumerate(self.tokens):
            if i == blank:
                self._surface.append("")
            elif i == self.delimiter_id:
                self._surface.append(" ")
            elif self.word_prefix and tok.startswith(self.word_prefix):
                self._surface.append(" " + tok[len(self.word_prefix):])
            else:
                self._surface.append(tok)

    def surface(self, token: int) -> str:
        """What ``token`` writes: a space for the delimiter, the piece without its prefix."""
        return self._surface[token].lstrip(" ") if token != self.delimiter_id else " "

    def text(self, ids: Sequence[int]) -> str:
        """Words joined by single spaces."""
        return " ".join("".join(self._surface[i] for i in ids).split())

    def words(self, ids: Sequence[int], frames: Sequence[int]) -> tuple[WordSpan, ...]:
        """Each word with ``[first frame, last frame + 1)`` of its tokens."""
        spans = []
        chars: list[str] = []
        start = end = 0
        for tok, frame in zip(ids, frames):
            surface = self._surface[tok]
            if surface.startswith(" "):
                if chars:
                    spans.append(WordSpan("".join(chars), start, end))
                chars = []
                surface = surface.strip(" ")
            if surface:
                if not chars:
                    start = frame
                chars.append(surface)
                end = frame + 1
        if chars:
            spans.append(WordSpan("".join(chars), start, end))
        return tuple(spans)

    def word_index(self, ids: Sequence[int]) -> list[int]:
        """For each token, the index of the word it belongs to (-1 for delimiters and blanks)."""
        out, word, open_word = [], -1, False
        for tok in ids:
            surface = self._surface[tok]
            if surface.startswith(" "):
                open_word = False
                surface = surface.strip(" ")
            if surface:
                if not open_word:
                    word += 1
                    open_word = True
                out.append(word)
            else:
                out.append(-1)
        return out


class WordConvention:
    """Mixin of the tokenizers: ``symbols``, ``blank``, ``word_delimiter``, ``word_prefix`` set,
    ``text``/``words`` through one :class:`TokenText`."""

    symbols: list[str]
    blank: int
    word_delimiter: str | None
    word_prefix: str | None = None
    _text: TokenText | None = None

    @property
    def token_text(self) -> TokenText:
        if self._text is None:
            self._text = TokenText(self.symbols, self.blank, self.word_delimiter,
                                   self.word_prefix)
        return self._text

    def text(self, ids: Sequence[int]) -> str:
        """The text of a decoded token sequence (words joined by single spaces)."""
        return self.token_text.text(ids)

    def words(self, ids: Sequence[int], frames: Sequence[int]) -> tuple[WordSpan, ...]:
        """Word spans ``[start, end)`` in frames of a decoded sequence and its token frames."""
        return self.token_text.words(ids, frames)


class CharTokenizer(WordConvention):
    """Character vocabulary: one output unit per character, blank at index ``blank``.

    ``word_delimiter`` (a space) is an ordinary token; decoders use it to find word boundaries.
    A vocabulary without it (no space in any training text) has ``word_delimiter`` None and
    decodes to single words.
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
        self.word_delimiter = word_delimiter if word_delimiter in symbols else None
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
            raise InputError(f"text {text[:40]!r} has characters not in the vocabulary: "
                             f"{bad!r}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (blanks dropped; no CTC collapsing: pass a decoded path)."""
        return "".join(self.symbols[i] for i in ids if i != self.blank)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "symbols": self.symbols, "blank": self.blank,
                "word_delimiter": self.word_delimiter}


def tokenizer_from_dict(state: dict) -> WordConvention:
    """Rebuild a tokenizer saved with ``to_dict`` (dispatching on ``kind``)."""
    kind = state.get("kind", "char")
    if kind == "char":
        return CharTokenizer(state["symbols"], state["blank"], state.get("word_delimiter", " "))
    if kind == "bpe":
        from ctc.data.bpe import BPETokenizer  # optional: needs sentencepiece

        return BPETokenizer.from_dict(state)
    raise ValueError(f"unknown tokenizer kind {kind!r}")
