"""ARPA back-off language model files: writing (KenLM-loadable) and reading.

Layout (as lmplz writes it): ``\\data\\`` first, ``ngram N=count`` lines, then one
``\\N-grams:`` section per order with tab-separated ``log10 prob<TAB>words[<TAB>log10 backoff]``,
and ``\\end\\``. ``<s>`` has probability -99 (it is never predicted).
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ctc.errors import InputError
from ctc.io import atomic_open
from ctc.lm.kneser_ney import NGramModel

LOG10 = math.log(10.0)
NEG_INF_LOG10 = -99.0


def _log10(ln_value: float) -> float:
    return NEG_INF_LOG10 if ln_value == -math.inf else ln_value / LOG10


def write_arpa(model: NGramModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` atomically; KenLM requires order >= 2."""
    with atomic_open(path, "w", encoding="utf-8") as out:
        out.write("\\data\\\n")
        for n, table in enumerate(model.probs, start=1):
            out.write(f"ngram {n}={len(table)}\n")
        for n, table in enumerate(model.probs, start=1):
            out.write(f"\n\\{n}-grams:\n")
            backoffs = model.backoffs[n - 1] if n < model.order else None
            for gram, ln_p in table.items():
                line = f"{_log10(ln_p):.7g}\t{' '.join(gram)}"
                if backoffs is not None:
                    line += f"\t{_log10(backoffs.get(gram, 0.0)):.7g}"
                out.write(line + "\n")
        out.write("\n\\end\\\n")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _lines(path: Path) -> Iterator[str]:
    with _open_text(path) as handle:
        for line in handle:
            yield line.rstrip("\n").rstrip("\r")


def is_kenlm_binary(path: str | os.PathLike) -> bool:
    """True if ``path`` starts with KenLM's binary magic."""
    with open(path, "rb") as handle:
        return handle.read(21).startswith(b"mmap lm http://kheafi")


def read_arpa(path: str | os.PathLike) -> NGramModel:
    """Read an ARPA file (optionally gzipped) into a natural-log :class:`NGramModel`.

    KenLM binaries (``build_binary`` output, recognised by their magic) are read by
    :func:`ctc.lm.kenlm_binary.read_kenlm_binary` into the same kind of model.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"language model not found: {path}")
    if is_kenlm_binary(path):
        from ctc.lm.kenlm_binary import read_kenlm_binary

        return read_kenlm_binary(path)
    counts: list[int] = []
    probs: list[dict] = []
    backoffs: list[dict] = []
    section = 0
    lines = _lines(path)
    for line in lines:
        if line.strip() == "\\data\\":
            break
    else:
        raise InputError(f"{path}: not an ARPA file (no \\data\\ line)")
    for line in lines:
        text = line.strip()
        if not text:
            if counts and section == 0:
                continue
            continue
        if text.startswith("ngram "):
            counts.append(int(text.split("=", 1)[1]))
            continue
        if text == "\\end\\":
            break
        if text.startswith("\\") and text.endswith("-grams:"):
            section = int(text[1:].split("-", 1)[0])
            probs.append({})
            backoffs.append({})
            continue
        if section == 0:
            raise InputError(f"{path}: unexpected line {text[:60]!r} in the header")
        fields = text.split("\t") if "\t" in text else text.split()
        if "\t" not in text:  # space-separated: prob, n words, optional backoff
            fields = [fields[0], " ".join(fields[1:section + 1]), *fields[section + 1:]]
        try:
            prob = float(fields[0]) * LOG10
            gram = tuple(fields[1].split())
            if len(gram) != section:
                raise ValueError
            probs[-1][gram] = -math.inf if float(fields[0]) <= NEG_INF_LOG10 else prob
            if len(fields) > 2 and float(fields[2]) != 0.0:
                backoffs[-1][gram] = float(fields[2]) * LOG10
        except (ValueError, IndexError):
            raise InputError(f"{path}: malformed {section}-gram line {text[:60]!r}") from None
    if not probs:
        raise InputError(f"{path}: no n-gram sections")
    for n, (expected, table) in enumerate(zip(counts, probs), start=1):
        if expected != len(table):
            raise InputError(f"{path}: header says {expected} {n}-grams, found {len(table)}")
    return NGramModel(len(probs), probs, backoffs[:-1])
