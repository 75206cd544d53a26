"""Adapters to other CTC decoders with our calling convention, for comparison on the same data.

``PyCTCDecodeDecoder`` wraps pyctcdecode (Python prefix beam search, KenLM queried per word,
flat penalty for partial words outside the unigram list). ``FlashlightDecoder`` wraps
flashlight-text's C++ ``LexiconDecoder`` (lexicon-constrained search with a max-smeared unigram
look-ahead). Both return complete :class:`Hypothesis` objects, as our decoders do: token ids,
the first frame of each token, text and words under the same word convention, ``score`` the
total and ``lm_score`` everything but the acoustic part. pyctcdecode returns text only: its
tokens' frames come from a CTC forced alignment of the text (:func:`ctc.decode.align`), which
benchmarks can turn off (``token_frames=False``) so that the peer is timed on its own work.

Options whose meaning differs between decoders keep the peer's own default: pyctcdecode's
``unk_score`` is an offset added to KenLM's ``<unk>`` probability (its default, -10), and
flashlight's lexicon decoder gives words outside its lexicon ``-inf``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ctc.data.tokens import TokenText
from ctc.decode._inputs import as_batch
from ctc.decode.align import forced_align
from ctc.decode.config import DEFAULTS
from ctc.decode.hypothesis import Hypothesis
from ctc.errors import InputError

PYCTCDECODE_UNK_OFFSET = -10.0  # pyctcdecode's own default for its unk_score_offset


def _lm_unigrams(lm: str | os.PathLike) -> list[str]:
    from ctc.lm.arpa import read_arpa

    return [w for w in read_arpa(lm).vocab if w not in ("<s>", "</s>", "<unk>")]


class PyCTCDecodeDecoder:
    """pyctcdecode's ``BeamSearchDecoderCTC`` behind ``(log_probs (N, T, V), lengths)``."""

    def __init__(self, tokens: Sequence[str], blank: int = 0, word_delimiter: str | None = " ",
                 lm: str | os.PathLike | None = None,
                 alpha: float = DEFAULTS.DEFAULT_ALPHA, beta: float = DEFAULTS.DEFAULT_BETA,
                 beam_size: int = DEFAULTS.beam_size,
                 token_min_logp: float = DEFAULTS.token_min_logp,
                 beam_prune_logp: float = DEFAULTS.beam_prune_logp,
                 unk_score: float = PYCTCDECODE_UNK_OFFSET,
                 unigrams: Sequence[str] | None = None, hotwords: dict[str, float] | None = None,
                 num_threads: int = 1, word_prefix: str | None = None,
                 token_frames: bool = True, **_: Any) -> None:
        try:
            from pyctcdecode import build_ctcdecoder
        except ImportError as err:
            raise InputError(f"--decoder pyctcdecode needs pyctcdecode ({err})") from None
        self.text = TokenText(tokens, blank, word_delimiter, word_prefix)
        labels = ["" if i == blank else (" " if i == self.text.delimiter_id else t)
                  for i, t in enumerate(tokens)]
        self.tokens = list(tokens)
        self.blank = blank
        self.beam_size = beam_size
        self.token_min_logp, self.beam_prune_logp = token_min_logp, beam_prune_logp
        self.hotwords = hotwords or {}
        self.num_threads = num_threads
        self.token_frames = token_frames
        kwargs = {}
        if lm is not None:
            kwargs = {"kenlm_model_path": str(lm), "alpha": alpha, "beta": beta,
                      "unk_score_offset": unk_score,
                      "unigrams": list(unigrams) if unigrams is not None else _lm_unigrams(lm)}
        self._decoder = build_ctcdecoder(labels, **kwargs)
        self._pieces = sorted(((self.text.surface(i), i) for i in range(len(tokens))
                               if i not in (blank, self.text.delimiter_id)
                               and self.text.surface(i)),
                              key=lambda p: -len(p[0]))
        self._prefixed = {t[len(word_prefix):]: i for i, t in enumerate(tokens)
                          if word_prefix and t.startswith(word_prefix) and i != blank}

    def _ids(self, text: str) -> tuple[int, ...]:
        """A token sequence spelling ``text`` (longest pieces first; subword vocabularies start
        each word with a prefixed piece). Characters no token spells are left out."""
        ids: list[int] = []
        for k, word in enumerate(text.split()):
            if k and self.text.delimiter_id >= 0:
                ids.append(self.text.delimiter_id)
            rest = word
            if self._prefixed:
                head = next((w for w in sorted(self._prefixed, key=len, reverse=True)
                             if w and rest.startswith(w)), None)
                if head is not None:
                    ids.append(self._prefixed[head])
                    rest = rest[len(head):]
            while rest:
                match = next(((p, i) for p, i in self._pieces if rest.startswith(p)), None)
                if match is None:
                    rest = rest[1:]
                    continue
                ids.append(match[1])
                rest = rest[len(match[0]):]
        return tuple(ids)

    def _hypothesis(self, lp: np.ndarray, beam: Sequence[Any]) -> Hypothesis:
        text, logit_score, combined = " ".join(beam[0].split()), beam[-2], beam[-1]
        ids = self._ids(text)
        frames = forced_align(lp, ids, self.blank) if self.token_frames else None
        frames = tuple(frames) if frames is not None else (0,) * len(ids)
        return Hypothesis(ids, frames, float(combined), text, self.text.words(ids, frames),
                          float(combined - logit_score))

    def __call__(self, log_probs: Any, lengths: Any | None = None) -> list[Hypothesis]:
        array, lens = as_batch(log_probs, lengths, len(self.tokens))
        items = [array[i, : lens[i]] for i in range(len(array))]
        hot = list(self.hotwords) or None
        weight = max(self.hotwords.values()) if self.hotwords else 10.0
        # prune_history=True as pyctcdecode's own decode() and decode_batch() do for the best
        # beam (it merges beams that share their last words' LM history)
        options = {"beam_width": self.beam_size, "beam_prune_logp": self.beam_prune_logp,
                   "token_min_logp": self.token_min_logp, "prune_history": True,
                   "hotwords": hot, "hotword_weight": weight}
        if self.num_threads > 1 and len(items) > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(self.num_threads) as pool:
                beams = self._decoder.decode_beams_batch(pool, items, **options)
        else:
            beams = [self._decoder.decode_beams(lp, **options) for lp in items]
        return [self._hypothesis(lp, b[0]) for lp, b in zip(items, beams)]


class FlashlightDecoder:
    """flashlight-text's ``LexiconDecoder`` (KenLM inside) behind ``(log_probs, lengths)``.

    ``alpha`` is flashlight's ``lm_weight``, ``beta`` its ``word_score``; every word is spelled as
    its characters followed by the word delimiter (flashlight's silence token).
    """

    def __init__(self, tokens: Sequence[str], blank: int = 0, word_delimiter: str | None = " ",
                 lm: str | os.PathLike | None = None,
                 alpha: float = DEFAULTS.DEFAULT_ALPHA, beta: float = DEFAULTS.DEFAULT_BETA,
                 beam_size: int = DEFAULTS.beam_size, beam_threshold: float = 25.0,
                 token_beam: int | None = None, unk_score: float = float("-inf"),
                 unigrams: Sequence[str] | None = None, num_threads: int = 1,
                 **_: Any) -> None:
        try:
            from flashlight.lib.text import decoder as fl
            from flashlight.lib.text.dictionary import Dictionary
        except ImportError as err:
            raise InputError(f"--decoder flashlight needs flashlight-text ({err})") from None
        if lm is None:
            raise InputError("--decoder flashlight needs an LM (its lexicon comes from it)")
        if word_delimiter is None or word_delimiter not in tokens:
            raise InputError("--decoder flashlight needs a character vocabulary with a delimiter")
        from flashlight.lib.text.decoder.kenlm import KenLM

        self.tokens = list(tokens)
        self.blank = blank
        self.text = TokenText(tokens, blank, word_delimiter)
        sil = self.tokens.index(word_delimiter)
        token_names = [f"<tok{i}>" if i in (blank,) else t for i, t in enumerate(self.tokens)]
        token_names[sil] = "|"
        self._token_dict = Dictionary(token_names)
        chars = {t: i for i, t in enumerate(token_names)}
        words = list(unigrams) if unigrams is not None else _lm_unigrams(lm)
        lexicon = {w: [[*w, "|"]] for w in words if all(c in chars for c in w)}
        self._word_dict = Dictionary()
        for word in [*lexicon, "<unk>"]:
            self._word_dict.add_entry(word)
        self._word_dict.set_default_index(self._word_dict.get_index("<unk>"))
        self._lm = KenLM(str(lm), self._word_dict)
        start = self._lm.start(False)
        self._trie = fl.Trie(len(token_names), sil)
        unk = self._word_dict.get_index("<unk>")
        for word, spellings in lexicon.items():
            index = self._word_dict.get_index(word)
            _, score = self._lm.score(start, index)
            for spelling in spellings:
                self._trie.insert([chars[c] for c in spelling], index, score)
        self._trie.smear(fl.SmearingMode.MAX)
        self._options = fl.LexiconDecoderOptions(
            beam_size=beam_size, beam_size_token=token_beam or len(tokens),
            beam_threshold=beam_threshold, lm_weight=alpha, word_score=beta,
            unk_score=unk_score, sil_score=0.0, log_add=False,
            criterion_type=fl.CriterionType.CTC)
        self._args = (self._options, self._trie, self._lm, sil, blank, unk, [], False)
        self._fl = fl
        self.num_threads = max(1, num_threads)

    def _one(self, decoder: Any, lp: np.ndarray) -> Hypothesis:
        lp = np.ascontiguousarray(lp, dtype=np.float32)
        result = decoder.decode(lp.ctypes.data, lp.shape[0], lp.shape[1])[0]
        path = list(result.tokens)[1:-1]  # one token per frame, between start and end markers
        ids, frames = [], []
        frame = 0
        for token, run in itertools.groupby(path):
            if token != self.blank and token >= 0:
                ids.append(int(token))
                frames.append(frame)
            frame += len(list(run))
        delimiter = self.text.delimiter_id
        while ids and ids[-1] == delimiter:  # its lexicon spells every word with a final "|"
            ids.pop()
            frames.pop()
        while ids and ids[0] == delimiter:
            ids.pop(0)
            frames.pop(0)
        score = float(result.score)
        return Hypothesis(tuple(ids), tuple(frames), score, self.text.text(ids),
                          self.text.words(ids, frames), score - float(result.emittingModelScore))

    def __call__(self, log_probs: Any, lengths: Any | None = None) -> list[Hypothesis]:
        array, lens = as_batch(log_probs, lengths, len(self.tokens))
        items = [array[i, : lens[i]] for i in range(len(array))]
        if self.num_threads == 1:
            decoder = self._fl.LexiconDecoder(*self._args)
            return [self._one(decoder, lp) for lp in items]
        chunks = [items[i::self.num_threads] for i in range(self.num_threads)]

        def work(chunk: list[np.ndarray]) -> list[Hypothesis]:
            decoder = self._fl.LexiconDecoder(*self._args)
            return [self._one(decoder, lp) for lp in chunk]

        with ThreadPoolExecutor(self.num_threads) as pool:
            parts = list(pool.map(work, chunks))
        out: list[Hypothesis] = [Hypothesis((), ())] * len(items)
        for k, part in enumerate(parts):
            out[k::self.num_threads] = part
        return out
