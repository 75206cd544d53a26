"""KenLM binary language models (the files ``build_binary`` writes), read into an
:class:`~ctc.lm.kneser_ney.NGramModel` with the values KenLM itself scores with.

Written from KenLM 0.3.0's sources as the specification of the format: ``lm/binary_format.cc``
(header), ``lm/vocab.cc`` (vocabularies and the word strings at the end of the file),
``lm/search_hashed.hh/.cc`` and ``util/probing_hash_table.hh`` (probing), ``lm/search_trie.cc``,
``lm/trie.hh/.cc``, ``lm/bhiksha.hh/.cc``, ``lm/quantize.hh/.cc`` and ``util/bit_packing.hh``
(trie), ``lm/value.hh``, ``lm/blank.hh`` and ``lm/value_build.hh`` (flag bits), ``lm/model.cc``
(how the pieces are laid out and scored) and ``lm/build_binary_main.cc`` (the options).

File layout: a header (magic, sanity values, order, probing multiplier, model type,
has-vocabulary flag, search version, n-gram counts), the vocabulary lookup, the search
structure, then (unless built with ``-v``) the word strings, ``\\0``-terminated, in word-id
order with ``<unk>`` (id 0) first.

* **probing** (types 0 and 1): unigrams are an array indexed by word id; each higher order is a
  linear-probing hash table keyed by a 64-bit hash of the word ids (:func:`_combine`), so the
  words of an n-gram of order >= 2 are not stored. They are recovered by candidate expansion:
  every n-gram's prefix is a context (its backoff is not ``-0.0``, KenLM's
  ``kNoExtensionBackoff``) and its suffix "extends left" (KenLM clears the sign bit of its
  stored probability), so candidates of order n are order n-1 prefixes joined with order n-1
  suffixes on their n-2 overlapping words, hashed and looked up in numpy. Order 2 costs
  (#contexts x #extending words) candidates; more than :data:`MAX_CANDIDATES` for an order
  raises :class:`InputError`. Rest-cost probing (type 1, ``build_binary -r``) stores the true
  probability next to the rest cost; the probability is returned.
* **trie** (types 2-5): a reversed trie: the children of an n-gram ``w2..wn`` are the n-grams
  ``w1 w2..wn``, stored as bit-packed records (word id, value bits, pointer to the first
  child), quantized with per-order bins (``-q``/``-b``) and with the pointers' high bits in an
  offset array (``-a``). Parents are found from the child pointers with ``np.repeat``.

KenLM-specific behaviour reproduced:

* ``<s>``'s probability is stored as -99 and returned as ``-inf`` (as :func:`read_arpa` does);
  other values are returned as stored, since KenLM scores with them. ``<UNK>`` in the ARPA
  file becomes ``<unk>``; an ARPA file without ``<unk>`` gets one with ``build_binary -u``'s
  probability (default -100, kept) and no backoff. Zero backoffs (KenLM keeps +0.0 and -0.0
  apart as flags) are omitted, as :func:`read_arpa` omits them.
* Blanks: where the ARPA file has an n-gram but not its suffix ``w2..wn`` (SRILM pruning; lmplz
  and :func:`ctc.lm.estimate` never do this), KenLM inserts the suffix with the probability
  backing off gives and zero backoff. These are indistinguishable from real n-grams in the
  file and are returned as n-grams; scores are unchanged by them.
* Trie unigrams are numbered in the order of their 64-bit string hashes, probing unigrams in
  ARPA order; ``probs[0]`` follows the word ids. Higher orders come in trie order (sorted by
  ``wn, ..., w1``) from tries and sorted by ``w1, ..., wn`` from probing files.
* Quantized files give the bin centres (what KenLM scores with), not the ARPA values.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctc.errors import InputError
from ctc.lm.kneser_ney import BOS, NGramModel

MAX_CANDIDATES = 300_000_000
"""Probing files: the most candidate n-grams :func:`read_kenlm_binary` will hash per order."""

_CHUNK = 1 << 20  # candidates hashed at once

_MAGIC_PREFIX = b"mmap lm http://kheafield.com/code format version"
_MAGIC = b"mmap lm http://kheafield.com/code format version 5\n\0"
_MAGIC_INCOMPLETE = b"mmap lm http://kheafield.com/code incomplete\n"
# Sanity block: magic padded to 8, floats 0, 1, -0.5, uint32 1, uint32 max, padding, uint64 1
_SANITY = _MAGIC.ljust(56, b"\0") + struct.pack("<fffIIIQ", 0.0, 1.0, -0.5, 1, 0xFFFFFFFF, 0, 1)
# FixedWidthParameters: uint8 order, float probing_multiplier, int model_type, bool
# has_vocabulary, uint32 search_version (C alignment: 20 bytes); then uint64 counts[order]
_FIXED = struct.Struct("<B3xfiB3xI")

PROBING, REST_PROBING, TRIE, QUANT_TRIE, ARRAY_TRIE, QUANT_ARRAY_TRIE = range(6)
_MODEL_NAMES = ("probing", "probing with rest costs", "trie", "trie with quantization",
                "trie with array-compressed pointers",
                "trie with quantization and array-compressed pointers")
_SEARCH_VERSIONS = (0, 0, 1, 1, 1, 1)
_PROBING_VOCAB_VERSION = 0
_QUANT_VERSION = 2
_BHIKSHA_VERSION = 0

_SIGN = np.uint32(0x80000000)
_NO_EXTENSION_BACKOFF = np.uint32(0x80000000)  # the bits of -0.0
_HASH_MUL = np.uint64(8978948897894561157)
_HASH_ADD = np.uint64(17894857484156487943)

_LOG10 = math.log(10.0)
_NEG_INF_LOG10 = -99.0

_VOCAB_ENTRY = np.dtype([("key", "<u8"), ("value", "<u4")])  # packed to 12 bytes
_PROB_ENTRY = np.dtype([("key", "<u8"), ("prob", "<f4")])
_BACKOFF_ENTRY = np.dtype([("key", "<u8"), ("prob", "<f4"), ("backoff", "<f4")])
_REST_ENTRY = np.dtype([("key", "<u8"), ("prob", "<f4"), ("backoff", "<f4"), ("rest", "<f4")])
_BACKOFF_WEIGHTS = np.dtype([("prob", "<f4"), ("backoff", "<f4")])
_REST_WEIGHTS = np.dtype([("prob", "<f4"), ("backoff", "<f4"), ("rest", "<f4")])
_TRIE_UNIGRAM = np.dtype([("prob", "<f4"), ("backoff", "<f4"), ("next", "<u8")])


@dataclass
class _Header:
    order: int
    multiplier: np.float32
    model_type: int
    has_vocabulary: bool
    counts: list[int]
    size: int  # bytes before the vocabulary lookup


@dataclass
class _Grams:
    """The n-grams of one order as arrays, one row per n-gram.

    ``ids``: (count, n) word ids, ``w1..wn`` left to right; ``prob``/``backoff``: float32 log10
    values as KenLM scores them (``backoff`` is None at the highest order).
    """

    ids: np.ndarray
    prob: np.ndarray
    backoff: np.ndarray | None


class _File:
    """The bytes of a binary file, memory-mapped, with bounds-checked typed views."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.data = (np.memmap(path, dtype=np.uint8, mode="r") if self.size
                     else np.zeros(0, np.uint8))

    def fail(self, what: str) -> InputError:
        return InputError(f"{self.path}: {what}")

    def bytes(self, offset: int, count: int) -> np.ndarray:
        if offset + count > self.size:
            raise self.fail(f"truncated KenLM binary ({self.size} bytes; the header needs at "
                            f"least {offset + count})")
        return self.data[offset:offset + count]

    def array(self, offset: int, dtype: np.dtype | str, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        return self.bytes(offset, dtype.itemsize * count).view(dtype)


def _required_bits(max_value: int) -> int:
    """Bits to store integers up to ``max_value`` (util::RequiredBits)."""
    return int(max_value).bit_length()


def _align8(value: int) -> int:
    return (value + 7) // 8 * 8


def _combine(current: np.ndarray, word: np.ndarray) -> np.ndarray:
    """KenLM's n-gram hash step (``CombineWordHash``), wrapping uint64 arithmetic.

    The hash of ``w1..wn`` is ``wn`` combined with ``w(n-1)``, then ``w(n-2)``, ... ``w1``.
    """
    return (current * _HASH_MUL) ^ ((word.astype(np.uint64) + np.uint64(1)) * _HASH_ADD)


def _row_hashes(ids: np.ndarray) -> np.ndarray:
    """KenLM hashes of each row of ``ids`` (m, k); zeros where k == 0."""
    if ids.shape[1] == 0:
        return np.zeros(ids.shape[0], np.uint64)
    hashes = ids[:, -1].astype(np.uint64)
    for column in range(ids.shape[1] - 2, -1, -1):
        hashes = _combine(hashes, ids[:, column])
    return hashes


def _read_header(file: _File) -> _Header:
    head = file.data[:len(_SANITY)].tobytes()
    if head != _SANITY:
        if head.startswith(_MAGIC_INCOMPLETE):
            raise file.fail("this KenLM binary did not finish building (build_binary failed "
                            "or is still running); rebuild it")
        if head.startswith(_MAGIC_PREFIX):
            version = head[len(_MAGIC_PREFIX):].split(b"\n", 1)[0].strip()
            if version != b"5":
                raise file.fail(f"KenLM binary format version {version.decode(errors='replace')}"
                                "; this reader supports version 5 (rebuild from the ARPA file)")
            if len(head) < len(_SANITY):
                raise file.fail("truncated KenLM binary (incomplete header)")
            raise file.fail("KenLM binary built on an incompatible machine (its test values do "
                            "not match); rebuild it from the ARPA file")
        raise file.fail("not a KenLM binary file")
    fixed = file.bytes(len(_SANITY), _FIXED.size).tobytes()
    order, multiplier, model_type, has_vocabulary, search_version = _FIXED.unpack(fixed)
    if not 0 <= model_type < len(_MODEL_NAMES):
        raise file.fail(f"unknown KenLM model type {model_type}")
    if search_version != _SEARCH_VERSIONS[model_type]:
        raise file.fail(f"KenLM {_MODEL_NAMES[model_type]} search version {search_version}; "
                        f"this reader supports version {_SEARCH_VERSIONS[model_type]}")
    if order < 2:
        raise file.fail(f"KenLM binary of order {order}; expected at least 2")
    if not multiplier >= 1.0:
        raise file.fail(f"bad probing multiplier {multiplier} in the KenLM header")
    counts = file.array(len(_SANITY) + _FIXED.size, "<u8", order).tolist()
    return _Header(order, np.float32(multiplier), model_type, bool(has_vocabulary), counts,
                   _align8(len(_SANITY) + _FIXED.size + 8 * order))


def _read_words(file: _File, offset: int, bound: int, has_vocabulary: bool) -> list[str]:
    """The vocabulary strings stored after the search structure, in word-id order."""
    if not has_vocabulary:
        raise file.fail("KenLM binary built without its vocabulary strings (build_binary -v); "
                        "rebuild it without -v or pass the ARPA file")
    if offset > file.size:
        raise file.fail(f"truncated KenLM binary ({file.size} bytes; the header needs at least "
                        f"{offset})")
    raw = file.data[offset:].tobytes().split(b"\0")
    if len(raw) != bound + 1 or raw[-1] or raw[0] != b"<unk>":
        raise file.fail(f"the KenLM binary's vocabulary strings are incomplete or misplaced "
                        f"(expected {bound} words); the file may be truncated")
    try:
        return [word.decode("utf-8") for word in raw[:-1]]
    except UnicodeDecodeError:
        raise file.fail("vocabulary strings are not UTF-8") from None


def _to_model(order: int, words: list[str], grams: list[_Grams]) -> NGramModel:
    """Dictionaries keyed by word tuples from the id arrays, in natural log."""
    vocab = np.array(words, dtype=object)
    probs: list[dict] = []
    backoffs: list[dict] = []
    for gram in grams:
        columns = [vocab[gram.ids[:, k]] for k in range(gram.ids.shape[1])]
        ln_probs = gram.prob.astype(np.float64) * _LOG10
        probs.append(dict(zip(zip(*columns), ln_probs.tolist())))
        if gram.backoff is not None:
            nonzero = gram.backoff != 0.0
            ln_backoffs = gram.backoff[nonzero].astype(np.float64) * _LOG10
            backoffs.append(dict(zip(zip(*(column[nonzero] for column in columns)),
                                     ln_backoffs.tolist())))
    if probs[0].get((BOS,), 0.0) <= _NEG_INF_LOG10 * _LOG10:  # never predicted
        probs[0][(BOS,)] = -math.inf
    return NGramModel(order, probs, backoffs)


# ----------------------------------------------------------------------------------- probing

def _probing_buckets(entries: int, multiplier: np.float32) -> int:
    """Hash-table buckets for ``entries`` (ProbingHashTable::Size, computed in float32)."""
    scaled = np.float32(multiplier) * np.float32(entries)
    return max(entries + 1, int(scaled))


class _KeySet:
    """The keys of a probing table's occupied buckets (key 0 marks empty ones), for vectorised
    membership tests: a bit map on the top key bits (64 bits a key) rejects most absent keys, a
    binary search on the sorted keys confirms the rest."""

    def __init__(self, table: np.ndarray) -> None:
        occupied = np.flatnonzero(table["key"] != 0)
        order = np.argsort(table["key"][occupied])
        self.keys = table["key"][occupied[order]]
        self.buckets = occupied[order]
        bits = min(max(int(self.keys.size * 64).bit_length(), 13), 30)
        self.shift = np.uint64(64 - bits)
        top = self.keys >> self.shift
        self.present = np.zeros(1 << (bits - 3), dtype=np.uint8)
        np.bitwise_or.at(self.present, top >> np.uint64(3),
                         np.left_shift(1, top & np.uint64(7)).astype(np.uint8))

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices into ``hashes`` of the keys present, and their positions in ``self.keys``."""
        top = hashes >> self.shift
        bit = self.present[top >> np.uint64(3)] >> (top & np.uint64(7)).astype(np.uint8)
        maybe = np.flatnonzero(bit & 1)
        at = np.minimum(np.searchsorted(self.keys, hashes[maybe]), self.keys.size - 1)
        hit = self.keys[at] == hashes[maybe]
        return maybe[hit], at[hit]


def _expand(file: _File, order: int, prefixes: np.ndarray, suffixes: np.ndarray,
            suffix_hashes: np.ndarray, table: _KeySet
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate n-grams ``prefix + suffix[-1]`` whose overlaps agree, looked up in ``table``.

    ``prefixes``/``suffixes``: (m, order-1) word ids, ``suffix_hashes`` the suffixes' KenLM
    hashes. Returns the found n-grams' prefix rows, suffix rows, hashes and positions in
    ``table.keys``.
    """
    suffix_overlap = _row_hashes(suffixes[:, :-1])
    by_overlap = np.argsort(suffix_overlap, kind="stable")
    sorted_overlap = suffix_overlap[by_overlap]
    prefix_overlap = _row_hashes(prefixes[:, 1:])
    low = np.searchsorted(sorted_overlap, prefix_overlap, side="left")
    matches = np.searchsorted(sorted_overlap, prefix_overlap, side="right") - low
    starts = np.concatenate(([0], np.cumsum(matches, dtype=np.int64)))
    if starts[-1] > MAX_CANDIDATES:
        raise file.fail(f"this probing binary is too large to enumerate ({int(starts[-1]):,} "
                        f"candidate {order}-grams, the limit is {MAX_CANDIDATES:,}); pass the "
                        "ARPA file or a trie binary (build_binary trie)")
    # _combine(suffix hash, first word), split into its two operands of the xor
    suffix_part = suffix_hashes[by_overlap] * _HASH_MUL
    prefix_part = (prefixes[:, 0].astype(np.uint64) + np.uint64(1)) * _HASH_ADD
    found_prefix, found_suffix, found_hash, found_at = [], [], [], []
    begin = 0
    while begin < len(prefixes) and table.keys.size:
        end = int(np.searchsorted(starts, starts[begin] + _CHUNK, side="right")) - 1
        end = min(max(end, begin + 1), len(prefixes))
        counts = matches[begin:end]
        prefix_rows = np.repeat(np.arange(begin, end), counts)
        suffix_at = np.arange(starts[end] - starts[begin]) + np.repeat(
            low[begin:end] - (starts[begin:end] - starts[begin]), counts)
        candidates = suffix_part[suffix_at] ^ prefix_part[prefix_rows]
        hit, at = table.find(candidates)
        found_prefix.append(prefix_rows[hit])
        found_suffix.append(by_overlap[suffix_at[hit]])
        found_hash.append(candidates[hit])
        found_at.append(at)
        begin = end
    if not found_at:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.uint64), empty
    return (np.concatenate(found_prefix), np.concatenate(found_suffix),
            np.concatenate(found_hash), np.concatenate(found_at))


def _read_probing(file: _File, header: _Header) -> NGramModel:
    order, counts, multiplier = header.order, header.counts, header.multiplier
    rest = header.model_type == REST_PROBING
    offset = header.size
    version, bound = struct.unpack("<II", file.bytes(offset, 8).tobytes())
    if version != _PROBING_VOCAB_VERSION:
        raise file.fail(f"KenLM probing vocabulary version {version}; this reader supports "
                        f"version {_PROBING_VOCAB_VERSION}")
    if not 0 < bound <= counts[0] + 1:
        raise file.fail(f"bad vocabulary size {bound} in the KenLM binary")
    offset += 8 + _probing_buckets(counts[0], multiplier) * _VOCAB_ENTRY.itemsize
    weights = file.array(offset, _REST_WEIGHTS if rest else _BACKOFF_WEIGHTS, counts[0] + 1)
    offset += weights.nbytes
    tables = []
    for n in range(2, order + 1):
        entry = _PROB_ENTRY if n == order else _REST_ENTRY if rest else _BACKOFF_ENTRY
        tables.append(file.array(offset, entry, _probing_buckets(counts[n - 1], multiplier)))
        offset += tables[-1].nbytes
    words = _read_words(file, offset, bound, header.has_vocabulary)

    unigram_bits = weights["prob"][:bound].view(np.uint32)
    grams = [_Grams(np.arange(bound, dtype=np.int64)[:, None],
                    (unigram_bits | _SIGN).view(np.float32), weights["backoff"][:bound].copy())]
    hashes = np.arange(bound, dtype=np.uint64)
    extends_left = (unigram_bits & _SIGN) == 0
    is_context = grams[0].backoff.view(np.uint32) != _NO_EXTENSION_BACKOFF
    for n in range(2, order + 1):
        table = _KeySet(tables[n - 2])
        previous = grams[-1].ids
        suffixes = np.flatnonzero(extends_left)
        # KenLM flags the contexts of the blanks it inserts too; should a file lack a flag,
        # every prefix is tried before giving up.
        for prefixes in (np.flatnonzero(is_context), np.arange(len(previous))):
            found = _expand(file, n, previous[prefixes], previous[suffixes], hashes[suffixes],
                            table)
            if len(found[3]) >= table.keys.size:
                break
        prefix_rows, suffix_rows, hashes, at = found
        seen = np.zeros(table.keys.size, dtype=bool)
        seen[at] = True
        if len(at) != table.keys.size or not seen.all():
            raise file.fail(f"cannot enumerate the {n}-grams of this probing binary (found "
                            f"{len(at)} of {table.keys.size}); pass the ARPA file or a trie "
                            "binary")
        ids = np.concatenate([previous[prefixes[prefix_rows]],
                              previous[suffixes[suffix_rows], -1:]], axis=1)
        values = tables[n - 2][table.buckets[at]]
        prob_bits = values["prob"].view(np.uint32)
        prob = (prob_bits | _SIGN).view(np.float32)
        backoff = values["backoff"].copy() if n < order else None
        by_words = np.lexsort(ids.T[::-1])
        ids, prob, hashes = ids[by_words], prob[by_words], hashes[by_words]
        if backoff is not None:
            backoff = backoff[by_words]
            extends_left = (prob_bits[by_words] & _SIGN) == 0
            is_context = backoff.view(np.uint32) != _NO_EXTENSION_BACKOFF
        grams.append(_Grams(ids, prob, backoff))
    return _to_model(order, words, grams)


# -------------------------------------------------------------------------------------- trie

def _windows(region: np.ndarray) -> np.ndarray:
    """Every unaligned little-endian uint64 of ``region``: ``out[i]`` is bytes i..i+7."""
    return np.ndarray((max(region.size - 7, 0),), dtype="<u8", buffer=region, strides=(1,))


def _bits(windows: np.ndarray, bit_offsets: np.ndarray, length: int) -> np.ndarray:
    """The ``length``-bit integers starting at each bit offset (util::ReadInt57)."""
    mask = np.uint64((1 << length) - 1)
    return (windows[bit_offsets >> np.uint64(3)] >> (bit_offsets & np.uint64(7))) & mask


def _float31(windows: np.ndarray, bit_offsets: np.ndarray) -> np.ndarray:
    """Non-positive floats stored without their sign bit (util::ReadNonPositiveFloat31)."""
    return (_bits(windows, bit_offsets, 31).astype(np.uint32) | _SIGN).view(np.float32)


def _chop_bits(max_offset: int, max_next: int, max_bits: int) -> int:
    """Pointer bits moved to the offset array (bhiksha.cc ChopBits)."""
    required = _required_bits(max_next)
    best, lowest = 0, None
    for chop in range(min(required, max_bits) + 1):
        change = (max_next >> (required - chop)) * 64 - max_offset * chop
        if lowest is None or change < lowest:
            best, lowest = chop, change
    return best


@dataclass
class _TrieLevel:
    """One bit-packed order: where its records are and how they are laid out."""

    base: int  # file offset of the records
    entries: int
    word_bits: int
    value_bits: int
    next_bits: int  # inline pointer bits (0 for the highest order)
    offsets_at: int  # file offset of the pointer offset array (-a), or -1
    offsets_count: int

    @property
    def total_bits(self) -> int:
        return self.word_bits + self.value_bits + self.next_bits

    @property
    def nbytes(self) -> int:
        return ((1 + self.entries) * self.total_bits + 7) // 8 + 8


def _trie_levels(header: _Header, start: int, quant_bits: tuple[int, int] | None,
                 array_bits: int | None) -> tuple[list[_TrieLevel], int]:
    """Layout of the orders >= 2 starting at ``start``; also returns the end offset."""
    counts, order = header.counts, header.order
    word_bits = _required_bits(counts[0])
    levels = []
    offset = start
    for n in range(2, order + 1):
        entries = counts[n - 1]
        if n == order:
            value_bits = quant_bits[1] if quant_bits else 31
            levels.append(_TrieLevel(offset, entries, word_bits, value_bits, 0, -1, 0))
            offset += levels[-1].nbytes
            continue
        value_bits = sum(quant_bits) if quant_bits else 63
        max_next = counts[n]
        required = _required_bits(max_next)
        offsets_at, offsets_count, array_bytes = -1, 0, 0
        if array_bits is not None:
            chop = _chop_bits(entries + 1, max_next, array_bits)
            offsets_count = (max_next >> (required - chop)) + 1
            offsets_at = _align8(offset) + 8
            array_bytes = 8 * (1 + offsets_count) + 7
            required -= chop
        levels.append(_TrieLevel(offset + array_bytes, entries, word_bits, value_bits, required,
                                 offsets_at, offsets_count))
        offset += array_bytes + levels[-1].nbytes
    return levels, offset


def _check_pointers(file: _File, pointers: np.ndarray, children: int, n: int) -> None:
    """``pointers[i]``: the first child of record i; they must rise from 0 to ``children``."""
    steps = np.diff(pointers.astype(np.int64))
    if pointers[0] != 0 or pointers[-1] != children or (steps < 0).any():
        raise file.fail(f"corrupt KenLM trie: bad pointers to the {n}-grams")


def _read_trie(file: _File, header: _Header) -> NGramModel:
    order, counts = header.order, header.counts
    quantized = header.model_type in (QUANT_TRIE, QUANT_ARRAY_TRIE)
    compressed = header.model_type in (ARRAY_TRIE, QUANT_ARRAY_TRIE)
    offset = header.size
    stored = int(file.array(offset, "<u8", 1)[0])
    bound = stored + 1
    if bound > counts[0]:
        raise file.fail(f"bad vocabulary size {bound} in the KenLM binary")
    offset += 8 + 8 * counts[0]

    quant_bits = None
    tables: list[tuple[np.ndarray, np.ndarray]] = []
    longest_table = None
    if quantized:
        version, prob_bits, backoff_bits = file.bytes(offset, 3).tolist()
        if version != _QUANT_VERSION:
            raise file.fail(f"KenLM quantization version {version}; this reader supports "
                            f"version {_QUANT_VERSION}")
        if not (0 < prob_bits <= 25 and 0 < backoff_bits <= 25):
            raise file.fail(f"bad quantization bits {prob_bits}/{backoff_bits}")
        quant_bits = (backoff_bits, prob_bits)  # middle records: backoff code, then prob code
        at = offset + 8
        for _ in range(order - 2):
            probs = file.array(at, "<f4", 1 << prob_bits)
            at += probs.nbytes
            backoffs = file.array(at, "<f4", 1 << backoff_bits)
            at += backoffs.nbytes
            tables.append((probs, backoffs))
        longest_table = file.array(at, "<f4", 1 << prob_bits)
        offset = at + longest_table.nbytes

    unigrams = file.array(offset, _TRIE_UNIGRAM, counts[0] + 2)
    offset += unigrams.nbytes
    array_bits = None
    if compressed and order > 2:
        version, array_bits = file.bytes(offset, 2).tolist()
        if version != _BHIKSHA_VERSION:
            raise file.fail(f"KenLM pointer compression version {version}; this reader "
                            f"supports version {_BHIKSHA_VERSION}")
    levels, end = _trie_levels(header, offset, quant_bits, array_bits)
    regions = [file.bytes(level.base, level.nbytes) for level in levels]
    words = _read_words(file, end, bound, header.has_vocabulary)

    grams = [_Grams(np.arange(bound, dtype=np.int64)[:, None], unigrams["prob"][:bound].copy(),
                    unigrams["backoff"][:bound].copy())]
    pointers = unigrams["next"][:counts[0] + 1]
    for n, (level, region) in enumerate(zip(levels, regions), start=2):
        _check_pointers(file, pointers, level.entries, n)
        windows = _windows(region)
        records = np.arange(level.entries + 1, dtype=np.uint64) * np.uint64(level.total_bits)
        word = _bits(windows, records[:-1], level.word_bits).astype(np.int64)
        if word.size and word.max() >= bound:
            raise file.fail(f"corrupt KenLM trie: word id out of range in the {n}-grams")
        parent = np.repeat(np.arange(len(pointers) - 1), np.diff(pointers.astype(np.int64)))
        ids = np.concatenate([word[:, None], grams[-1].ids[parent]], axis=1)
        values = records[:-1] + np.uint64(level.word_bits)
        backoff = None
        if quantized:
            if n == order:
                prob = longest_table[_bits(windows, values, quant_bits[1])]
            else:
                probs, backoffs = tables[n - 2]
                backoff = backoffs[_bits(windows, values, quant_bits[0])]
                prob = probs[_bits(windows, values + np.uint64(quant_bits[0]), quant_bits[1])]
        else:
            prob = _float31(windows, values)
            if n < order:
                backoff = (_bits(windows, values + np.uint64(31), 32).astype(np.uint32)
                           .view(np.float32))
        grams.append(_Grams(ids, prob, backoff))
        if n < order:
            at = records + np.uint64(level.word_bits + level.value_bits)
            pointers = _bits(windows, at, level.next_bits)
            if level.offsets_at >= 0:
                offsets = file.array(level.offsets_at, "<u8", level.offsets_count)
                high = np.searchsorted(offsets, np.arange(level.entries + 1), side="right") - 1
                pointers |= high.astype(np.uint64) << np.uint64(level.next_bits)
    return _to_model(order, words, grams)


# ------------------------------------------------------------------------------------ public

def read_kenlm_binary(path: str | os.PathLike) -> NGramModel:
    """Read a KenLM binary (any type ``build_binary`` writes) into a natural-log model.

    The values are those KenLM scores with (the bins of quantized files); ``<s>`` gets
    ``-inf``. Raises :class:`InputError` for files without vocabulary strings (``-v``),
    unfinished or truncated files, other format versions or model types, and probing files
    with more than :data:`MAX_CANDIDATES` candidate n-grams of an order.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"language model not found: {path}")
    file = _File(path)
    try:
        header = _read_header(file)
        if header.model_type in (PROBING, REST_PROBING):
            return _read_probing(file, header)
        return _read_trie(file, header)
    except InputError:
        raise
    except (ValueError, IndexError, OverflowError, struct.error) as err:
        raise file.fail(f"malformed KenLM binary ({err})") from None


def kenlm_binary_to_arpa(path: str | os.PathLike, out: str | os.PathLike) -> None:
    """Write the KenLM binary ``path`` as an ARPA file ``out`` (atomically)."""
    from ctc.lm.arpa import write_arpa

    write_arpa(read_kenlm_binary(path), out)
