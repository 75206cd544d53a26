"""Byte-pair-encoding tokenizer (sentencepiece, optional dependency) with CTC's blank at 0.

The sentencepiece model is trained in memory with its padding piece used as the blank (id 0),
so encoded text never contains it; ``<unk>`` is id 1. The serialized model travels inside the
checkpoint (``to_dict``), so decoding needs no extra file. Words are marked by the piece prefix
"▁" rather than a delimiter token, so ``word_delimiter`` is None and ``word_prefix`` is "▁".
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable

from ctc.data.tokens import BLANK_SYMBOL, WordConvention
from ctc.errors import InputError


def _sentencepiece():
    try:
        import sentencepiece
    except ImportError:
        raise InputError("tokenizer.kind=bpe needs the sentencepiece package "
                         "(pip install sentencepiece)") from None
    return sentencepiece


WORD_PREFIX = "\u2581"  # sentencepiece's word-start marker


class BPETokenizer(WordConvention):
    """Sentencepiece BPE pieces as CTC output units; ``symbols[0]`` is the blank."""

    kind = "bpe"

    def __init__(self, model_proto: bytes) -> None:
        spm = _sentencepiece()
        self._model = model_proto
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.symbols = [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]
        self.blank = 0
        self.word_delimiter = None
        self.word_prefix = WORD_PREFIX
        if self.symbols[0] != BLANK_SYMBOL:
            raise ValueError(f"sentencepiece model must have {BLANK_SYMBOL!r} as piece 0")

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 256) -> BPETokenizer:
        """Train a BPE model on ``texts``; the vocabulary may come out smaller if the text is
        small (sentencepiece's ``hard_vocab_limit`` is off)."""
        spm = _sentencepiece()
        texts = [t for t in texts if t.strip()]
        if not texts:
            raise InputError("cannot train a BPE tokenizer without training texts")
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=out, model_type="bpe",
            vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
            pad_id=0, pad_piece=BLANK_SYMBOL, unk_id=1, bos_id=-1, eos_id=-1,
            minloglevel=2)
        return cls(out.getvalue())

    def __len__(self) -> int:
        return len(self.symbols)

    def unknown(self, text: str) -> set[str]:
        """Characters of ``text`` that the model cannot encode (they would become ``<unk>``)."""
        unk = self._sp.unk_id()
        if unk not in self._sp.encode(text):
            return set()
        return {ch for ch in set(text) - {" "} if unk in self._sp.encode(ch)}

    def encode(self, text: str) -> list[int]:
        """Piece ids of ``text``; InputError if part of it is outside the model."""
        ids = self._sp.encode(text)
        if self._sp.unk_id() in ids:
            raise InputError(f"text {text[:40]!r} has characters the BPE model does not cover")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of piece ids (blanks dropped)."""
        return self._sp.decode([int(i) for i in ids if i != self.blank])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "model": base64.b64encode(self._model).decode("ascii"),
                "symbols": self.symbols, "blank": self.blank, "word_delimiter": None,
                "word_prefix": self.word_prefix}

    @classmethod
    def from_dict(cls, state: dict) -> BPETokenizer:
        return cls(base64.b64decode(state["model"]))
