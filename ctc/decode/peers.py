"""Adapters to other CTC decoders with our calling convention, for comparison on the same data.

``PyCTCDecodeDecoder`` wraps pyctcdecode (Python prefix beam search, KenLM queried per word,
flat penalty for partial words outside the unigram list). ``FlashlightDecoder`` wraps
flashlight-text's C++ ``LexiconDecoder`` (lexicon-constrained search with a max-smeared unigram
look-ahead). Both need the LM path; both return :class:`Hypothesis` with text and words filled.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ctc.decode._inputs import as_batch
from ctc.decode.hypothesis import Hypothesis, WordSpan
from ctc.decode.text import TokenText
from ctc.errors import InputError


def _lm_unigrams(lm: str | os.PathLike) -> list[str]:
    from ctc.lm.arpa import read_arpa

    return [w for w in read_arpa(lm).vocab if w not in ("<s>", "</s>", "<unk>")]


class PyCTCDecodeDecoder:
    """pyctcdecode's ``BeamSearchDecoderCTC`` behind ``(log_probs (N, T, V), lengths)``."""

    def __init__(self, tokens: Sequence[str], blank: int = 0, word_delimiter: str | None = " ",
                 lm: str | os.PathLike | None = None, alpha: float = 0.5, beta: float = 1.0,
                 beam_size: int = 50, token_min_logp: float = -5.0,
                 beam_prune_logp: float = -10.0, unk_score: float = -10.0,
                 unigrams: Sequence[str] | None = None, hotwords: dict[str, float] | None = None,
                 num_threads: int = 1, **_: Any) -> None:
        try:
            from pyctcdecode import build_ctcdecoder
        except ImportError as err:
            raise InputError(f"--decoder pyctcdecode needs pyctcdecode ({err})") from None
        labels = ["" if i == blank else (" " if t == word_delimiter else t)
                  for i, t in enumerate(tokens)]
        self.text = TokenText(tokens, blank, word_delimiter)
        self.tokens = list(tokens)
        self.beam_size = beam_size
        self.token_min_logp, self.beam_prune_logp = token_min_logp, beam_prune_logp
        self.hotwords = hotwords or {}
        self.num_threads = num_threads
        kwargs = {}
        if lm is not None:
            kwargs = {"kenlm_model_path": str(lm), "alpha": alpha, "beta": beta,
                      "unk_score_offset": unk_score,
                      "unigrams": list(unigrams) if unigrams is not None else _lm_unigrams(lm)}
        self._decoder = build_ctcdecoder(labels, **kwargs)
        self._index = {t: i for i, t in enumerate(tokens)}

    def _one(self, lp: np.ndarray) -> Hypothesis:
        hot = list(self.hotwords) or None
        weight = max(self.hotwords.values()) if self.hotwords else 10.0
        # prune_history=True as pyctcdecode's own decode() and decode_batch() do for the best
        # beam (it merges beams that share their last words' LM history)
        beams = self._decoder.decode_beams(lp, beam_width=self.beam_size,
                                           beam_prune_logp=self.beam_prune_logp,
                                           token_min_logp=self.token_min_logp,
                                           prune_history=True,
                                           hotwords=hot, hotword_weight=weight)
        text, _, word_frames, logit_score, lm_score = beams[0]
        text = " ".join(text.split())
        ids = tuple(self._index[c if c != " " else self.tokens[self.text.delimiter_id]]
                    for c in text if c in self._index or c == " ")
        words = tuple(WordSpan(w, s, e) for w, (s, e) in word_frames)
        return Hypothesis(ids, (), float(lm_score), text, words, float(lm_score - logit_score))

    def __call__(self, log_probs: Any, lengths: Any | None = None) -> list[Hypothesis]:
        array, lens = as_batch(log_probs, lengths, len(self.tokens))
        items = [array[i, : lens[i]] for i in range(len(array))]
        if self.num_threads > 1 and len(items) > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(self.num_threads) as pool:
                texts = self._decoder.decode_batch(pool, items, beam_width=self.beam_size,
                                                   beam_prune_logp=self.beam_prune_logp,
                                                   token_min_logp=self.token_min_logp)
            return [Hypothesis((), (), 0.0, " ".join(t.split())) for t in texts]
        return [self._one(lp) for lp in items]


class FlashlightDecoder:
    """flashlight-text's ``LexiconDecoder`` (KenLM inside) behind ``(log_probs, lengths)``.

    ``alpha`` is flashlight's ``lm_weight``, ``beta`` its ``word_score``; every word is spelled as
    its characters followed by the word delimiter (flashlight's silence token).
    """

    def __init__(self, tokens: Sequence[str], blank: int = 0, word_delimiter: str | None = " ",
                 lm: str | os.PathLike | None = None, alpha: float = 0.5, beta: float = 1.0,
                 beam_size: int = 50, beam_threshold: float = 25.0, token_beam: int | None = None,
                 unk_score: float = float("-inf"), unigrams: Sequence[str] | None = None,
                 num_threads: int = 1, **_: Any) -> None:
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
        ids = [i for i, _ in itertools.groupby(result.tokens) if i != self.blank and i >= 0]
        return Hypothesis(tuple(ids), (), float(result.score), self.text.text(ids),
                          self.text.words(ids, [0] * len(ids)), float(result.lmScore))

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
