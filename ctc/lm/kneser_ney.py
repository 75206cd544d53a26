"""Interpolated modified Kneser-Ney n-gram estimation following lmplz's conventions.

References: Chen & Goodman (1998), "An empirical study of smoothing techniques for language
modeling", sec. 3 (modified KN: three discounts D1, D2, D3+ per order, eq. 26);
Heafield et al. (2013), "Scalable modified Kneser-Ney language model estimation", sec. 3
(adjusted counts, discount estimation, interpolation with the uniform distribution, ``<unk>``).

Conventions reproduced from lmplz:

* each line is a sentence wrapped in ``<s> ... </s>``; ``<s>`` is never predicted;
* the highest order uses raw counts; lower orders use adjusted counts (the number of distinct
  words seen to the left), except n-grams starting with ``<s>``, which keep raw counts;
* discounts per order from the count-of-counts: ``Y = t1 / (t1 + 2 t2)``,
  ``D_k = k - (k + 1) Y t_{k+1} / t_k`` for k = 1, 2, 3;
* unigrams are interpolated with the uniform distribution over the vocabulary without ``<s>``
  (``<unk>`` included), so ``<unk>`` gets the interpolation mass only;
* ``p(w | c) = u(w | c) + b(c) p(w | c')`` and the backoff written to the ARPA file is ``b(c)``.

Pruning (``prune[n]`` = t) drops n-grams of order n >= 2 whose raw count is <= t (lmplz decides
on raw counts at every order, not on the adjusted ones), unless a kept longer n-gram needs them
as prefix or suffix; the discounted mass of dropped n-grams moves
to the backoff weight of their context so every distribution still sums to one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ctc.errors import InputError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz's --discount_fallback defaults

NGram = tuple[str, ...]


@dataclass
class NGramModel:
    """A backoff n-gram model in natural-log space.

    ``probs[n - 1]`` maps each n-gram (tuple of words) to ``ln p(w_n | w_1..w_{n-1})``;
    ``backoffs[n - 1]`` maps n-grams of order < N that are contexts to ``ln b``.
    ``<s>`` has probability 0 (written as -99 in ARPA files).
    """

    order: int
    probs: list[dict[NGram, float]]
    backoffs: list[dict[NGram, float]] = field(default_factory=list)
    discounts: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def vocab(self) -> list[str]:
        return [g[0] for g in self.probs[0]]

    def score(self, word: str, context: Sequence[str]) -> float:
        """``ln p(word | context)`` by the backoff rule (unknown words score as ``<unk>``)."""
        if (word,) not in self.probs[0]:
            word = UNK
        context = tuple(context)[-(self.order - 1):] if self.order > 1 else ()
        backoff = 0.0
        for start in range(len(context) + 1):
            hist = context[start:]
            gram = (*hist, word)
            prob = self.probs[len(gram) - 1].get(gram)
            if prob is not None:
                return backoff + prob
            if hist:
                backoff += self.backoffs[len(hist) - 1].get(hist, 0.0)
        raise KeyError(word)  # pragma: no cover - unigrams always contain <unk>

    def sentence_score(self, words: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """``ln p`` of a whole sentence (KenLM's ``score`` in natural log)."""
        context: list[str] = [BOS] if bos else []
        total = 0.0
        for word in [*words, *([EOS] if eos else [])]:
            total += self.score(word, context)
            context.append(word)
        return total


def read_sentences(lines: Iterable[str]) -> list[list[str]]:
    """Whitespace-tokenise lines; empty lines are kept as empty sentences (as lmplz does)."""
    return [line.split() for line in lines]


def _count_windows(sentences: list[list[str]], order: int) -> list[Counter]:
    """Raw counts of every length-n window of each ``<s> w.. </s>`` sentence, n = 1..order."""
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        padded = (BOS, *words, EOS)
        size = len(padded)
        for n in range(1, order + 1):
            counter = counts[n - 1]
            for i in range(size - n + 1):
                counter[padded[i:i + n]] += 1
    return counts


def _adjust(raw: list[Counter]) -> list[dict[NGram, int]]:
    """Adjusted counts: raw at the top order and for ``<s>``-initial n-grams, else left types."""
    order = len(raw)
    adjusted: list[dict[NGram, int]] = [dict() for _ in range(order)]
    adjusted[order - 1] = dict(raw[order - 1])
    for n in range(order - 1, 0, -1):
        left_types: Counter = Counter(gram[1:] for gram in raw[n])
        table = adjusted[n - 1]
        for gram, count in raw[n - 1].items():
            table[gram] = count if gram[0] == BOS else left_types[gram]
    return adjusted


def _discounts(counts: dict[NGram, int], fallback: bool) -> tuple[float, float, float]:
    """Modified KN discounts D1, D2, D3+ from the count-of-counts (Chen & Goodman eq. 26)."""
    t = Counter(c for c in counts.values() if c <= 4)
    t1, t2, t3, t4 = (t[k] for k in range(1, 5))
    if min(t1, t2, t3, t4) == 0:
        if fallback:
            return FALLBACK_DISCOUNTS
        raise InputError("the corpus is too small to estimate Kneser-Ney discounts "
                         "(some count-of-counts are zero); use --discount-fallback")
    y = t1 / (t1 + 2 * t2)
    d = tuple(k - (k + 1) * y * tk1 / tk for k, tk, tk1 in ((1, t1, t2), (2, t2, t3), (3, t3, t4)))
    if not all(0 < dk < k + 1 for k, dk in enumerate(d)):
        if fallback:
            return FALLBACK_DISCOUNTS
        raise InputError(f"Kneser-Ney discounts out of range {d}; use --discount-fallback")
    return d  # type: ignore[return-value]


def _discount_statistics(sentences: list[list[str]], raw: list[Counter],
                         adjusted: list[dict[NGram, int]]) -> list[dict[NGram, int]]:
    """The counts whose count-of-counts give the discounts: the adjusted counts without ``<s>``,
    except that lmplz (adjust_counts.cc, its final flush) counts the lower-order suffixes of the
    last top-order n-gram in its suffix order with their raw counts. Reproduced so the discounts
    equal lmplz's exactly; it moves at most one n-gram per order."""
    order = len(raw)
    stats = [{g: c for g, c in table.items() if g != (BOS,)} for table in adjusted]
    if order < 2:
        return stats
    ids = {UNK: 0, BOS: 1, EOS: 2}  # lmplz numbers words by first appearance after these
    for words in sentences:
        for word in words:
            ids.setdefault(word, len(ids))
    # lmplz's top-order n-grams: ours, and, for a sentence start, the n-gram "<s> w1 .. wm"
    # (2 <= m < order) padded on the left with more <s> (it pads sentences with order - 1 of them)
    grams = [*raw[order - 1], *((BOS,) * (order - m) + g for m in range(2, order)
                                for g in raw[m - 1] if g[0] == BOS)]
    last = max(grams, key=lambda g: tuple(ids[w] for w in reversed(g)))
    for n in range(1, order):
        suffix = last[order - n:]
        if suffix[0] == BOS:
            break
        stats[n - 1][suffix] = raw[n - 1][suffix]
    return stats


def _keep_masks(raw: list[Counter], prune: Sequence[int]) -> list[set[NGram]]:
    """N-grams whose raw count passes the threshold, closed under prefixes and suffixes of kept
    longer n-grams."""
    order = len(raw)
    thresholds = [0, *list(prune)[1:]] if prune else [0] * order
    thresholds += [thresholds[-1]] * (order - len(thresholds))
    kept: list[set[NGram]] = [set() for _ in range(order)]
    for n in range(order, 0, -1):
        t = thresholds[n - 1] if n > 1 else 0
        keep = {g for g, c in raw[n - 1].items() if c > t}
        if n < order:
            for g in kept[n]:
                keep.add(g[:-1])
                keep.add(g[1:])
        kept[n - 1] = keep
    return kept


def estimate(sentences: list[list[str]], order: int, prune: Sequence[int] = (),
             discount_fallback: bool = True) -> NGramModel:
    """Estimate an interpolated modified Kneser-Ney model of ``order`` from tokenised sentences."""
    if order < 1:
        raise InputError(f"order must be >= 1, got {order}")
    if not any(sentences):
        raise InputError("the corpus has no words")
    reserved = {BOS, EOS}.intersection(w for words in sentences for w in words)
    if reserved:
        raise InputError(f"the corpus contains the reserved token(s) {sorted(reserved)}")
    raw = _count_windows(sentences, order)
    adjusted = _adjust(raw)
    stats = _discount_statistics(sentences, raw, adjusted)
    discounts = [_discounts(stats[n], discount_fallback) for n in range(order)]
    kept = _keep_masks(raw, prune)

    # u(w | c) and b(c) per order, from the adjusted counts of that order
    vocab = sorted({g[0] for g in adjusted[0]} - {BOS})  # words and </s>
    words = [*vocab, *([UNK] if UNK not in vocab else [])]
    uniform = 1.0 / len(words)  # the uniform distribution excludes <s>
    probs: list[dict[NGram, float]] = [dict() for _ in range(order)]
    gammas: list[dict[NGram, float]] = [dict() for _ in range(order)]
    for n in range(1, order + 1):
        d = discounts[n - 1]
        totals: dict[NGram, float] = defaultdict(float)
        for gram, count in adjusted[n - 1].items():
            if gram != (BOS,):
                totals[gram[:-1]] += count
        gamma: dict[NGram, float] = defaultdict(float)
        u: dict[NGram, float] = {}
        keep = kept[n - 1]
        for gram, count in adjusted[n - 1].items():
            if gram == (BOS,):
                continue
            ctx = gram[:-1]
            disc = d[min(count, 3) - 1]
            gamma[ctx] += disc / totals[ctx]
            share = (count - disc) / totals[ctx]
            if gram in keep:
                u[gram] = share
            else:
                gamma[ctx] += share  # pruned mass goes to the backoff
        probs[n - 1] = u
        gammas[n - 1] = dict(gamma)

    # interpolate bottom-up: p(w | c) = u(w | c) + b(c) p(w | c')
    lower: dict[NGram, float] = {}
    g0 = gammas[0].get((), 0.0)
    for w in words:
        lower[(w,)] = probs[0].get((w,), 0.0) + g0 * uniform
    interp = [lower]
    for n in range(2, order + 1):
        table = {}
        prev = interp[-1]
        gam = gammas[n - 1]
        for gram, share in probs[n - 1].items():
            table[gram] = share + gam[gram[:-1]] * prev[gram[1:]]
        interp.append(table)

    ln_probs: list[dict[NGram, float]] = []
    for n, table in enumerate(interp, start=1):
        if n == 1:
            out = {(BOS,): -math.inf}
            out.update({g: math.log(p) for g, p in sorted(table.items())})
        else:
            out = {g: math.log(p) for g, p in sorted(table.items())}
        ln_probs.append(out)
    backoffs: list[dict[NGram, float]] = []
    for n in range(1, order):
        gam = gammas[n]
        backoffs.append({g: math.log(gam[g]) for g in ln_probs[n - 1] if gam.get(g, 0.0) > 0})
    return NGramModel(order, ln_probs, backoffs, discounts)
