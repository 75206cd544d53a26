"""From token ids to text and word spans, for character and subword ("▁"-prefixed) vocabularies."""

from __future__ import annotations

from collections.abc import Sequence

from ctc.decode.hypothesis import WordSpan


class TokenText:
    """Token table with the word convention: a delimiter token (characters) or a word prefix
    marking word starts (subwords, e.g. "▁"); the blank yields no text."""

    def __init__(self, tokens: Sequence[str], blank: int = 0, word_delimiter: str | None = " ",
                 word_prefix: str | None = None) -> None:
        self.tokens = list(tokens)
        self.blank = blank
        self.word_delimiter = word_delimiter
        self.word_prefix = word_prefix or None
        if word_delimiter is not None and word_delimiter not in self.tokens and not word_prefix:
            raise ValueError(f"the word delimiter {word_delimiter!r} is not a token")
        self.delimiter_id = (self.tokens.index(word_delimiter)
                             if word_delimiter is not None and word_delimiter in self.tokens
                             else -1)
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
                surface = surface[1:]
            if surface:
                if not chars:
                    start = frame
                chars.append(surface)
                end = frame + 1
        if chars:
            spans.append(WordSpan("".join(chars), start, end))
        return tuple(spans)
