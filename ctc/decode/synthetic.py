"""Synthetic text and character posteriors for decoder tests and benchmarks (no model needed).

Sentences come from a random sparse word bigram chain over pronounceable pseudo-words (so a
word LM has something to learn); posteriors put a noisy peak on each character of the sentence,
with blanks in between and random confusions between similar letters, so that greedy decoding
makes a realistic number of errors.
"""

from __future__ import annotations

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz'"
CONFUSABLE = ["ae", "ei", "ou", "mn", "bp", "dt", "gk", "sz", "fv", "lr", "yi", "cs", "hn", "wv",
              "jg", "qk", "xz", "'e"]


def char_tokens() -> list[str]:
    """The character vocabulary: blank ``<b>`` at 0, space at 1, then the letters."""
    return ["<b>", " ", *LETTERS]


def _pseudo_words(rng: np.random.Generator, count: int) -> list[str]:
    onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
              "w", "z", "br", "ch", "st", "tr", "pl", "sh", "th", "gr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"]
    codas = ["", "", "n", "r", "s", "t", "l", "ng", "st", "'s"]
    words: set[str] = set()
    while len(words) < count:
        n = int(rng.choice([1, 1, 2, 2, 2, 3]))
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(n))
        words.add(word + str(rng.choice(codas)))
    return sorted(words)


class SentenceSource:
    """A random sparse bigram chain over ``vocab_size`` pseudo-words (Zipfian successors)."""

    def __init__(self, vocab_size: int = 2000, successors: int = 30, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.words = _pseudo_words(rng, vocab_size)
        self.next = rng.integers(0, vocab_size, size=(vocab_size, successors))
        weights = 1.0 / np.arange(1, successors + 1) ** 1.1
        self.weights = weights / weights.sum()
        start = 1.0 / np.arange(1, vocab_size + 1) ** 1.0
        self.start = start / start.sum()

    def sentences(self, count: int, seed: int, min_words: int = 4, max_words: int = 14
                  ) -> list[str]:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(count):
            n = int(rng.integers(min_words, max_words + 1))
            w = int(rng.choice(len(self.words), p=self.start))
            ids = [w]
            for _ in range(n - 1):
                w = int(self.next[w, rng.choice(self.next.shape[1], p=self.weights)])
                ids.append(w)
            out.append(" ".join(self.words[i] for i in ids))
        return out


def char_posteriors(text: str, rng: np.random.Generator, noise: float = 1.0,
                    peak: tuple[float, float] = (4.5, 9.0), confusion: float = 0.04
                    ) -> np.ndarray:
    """``(time, vocab)`` float32 log-posteriors for ``text`` over :func:`char_tokens`.

    Each character lasts 1-3 frames followed by 0-2 blank frames; a confused frame gives a
    similar letter the larger peak.
    """
    tokens = char_tokens()
    index = {t: i for i, t in enumerate(tokens)}
    similar: dict[str, list[str]] = {}
    for pair in CONFUSABLE:
        similar.setdefault(pair[0], []).append(pair[1])
        similar.setdefault(pair[1], []).append(pair[0])
    labels: list[tuple[int, int]] = []  # (true label, confused label or -1)
    previous = ""
    for ch in text:
        if ch == previous:
            labels.append((0, -1))  # CTC needs a blank between repeated characters
        previous = ch
        other = -1
        if ch in similar and rng.random() < confusion:
            other = index[str(rng.choice(similar[ch]))]
        labels += [(index[ch], other)] * int(rng.integers(1, 4))
        labels += [(0, -1)] * int(rng.integers(0, 3))
    labels = [(0, -1), *labels, (0, -1)]
    logits = rng.normal(0.0, noise, size=(len(labels), len(tokens))).astype(np.float32)
    for t, (label, other) in enumerate(labels):
        height = rng.uniform(*peak)
        logits[t, label] += height
        if other >= 0:
            logits[t, other] += height + rng.uniform(0.2, 1.5)
    logits -= logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
