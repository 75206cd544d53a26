"""Our Kneser-Ney estimator against KenLM's own lmplz on the same corpus (built from the kenlm
sdist by tools/build_kenlm.sh; skipped where it could not be built)."""

from __future__ import annotations

import math
import random
import subprocess
from pathlib import Path

import pytest

from ctc.lm import estimate, read_arpa
from ctc.lm.kneser_ney import BOS


def _corpus_text(path: Path, sentences: int = 3000, seed: int = 3) -> list[list[str]]:
    """Zipfian words with a little bigram structure, so every order has repeated n-grams."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]
    weights = [1.0 / (i + 1) for i in range(300)]
    lines = []
    for _ in range(sentences):
        sentence = [rng.choices(words, weights)[0]]
        for _ in range(rng.randint(0, 14)):
            follow = words[(words.index(sentence[-1]) * 7 + 3) % 300]
            sentence.append(follow if rng.random() < 0.4 else rng.choices(words, weights)[0])
        lines.append(sentence)
    path.write_text("".join(" ".join(s) + "\n" for s in lines), encoding="utf-8")
    return lines


def _lmplz(kenlm_bin: Path, text: Path, order: int, prune: tuple[int, ...], out: Path) -> None:
    command = [str(kenlm_bin / "lmplz"), "-o", str(order), "--discount_fallback", "-S", "10%"]
    if prune:
        command += ["--prune", *map(str, prune)]
    with open(text, "rb") as src, open(out, "wb") as dst:
        subprocess.run(command, stdin=src, stdout=dst, stderr=subprocess.DEVNULL, check=True)


@pytest.mark.parametrize(("order", "prune"), [(2, ()), (3, ()), (4, ()), (3, (0, 1, 1)),
                                               (5, (0, 0, 1, 2))])
def test_estimate_equals_lmplz(tmp_path, kenlm_bin, order, prune) -> None:
    text = tmp_path / "corpus.txt"
    sentences = _corpus_text(text)
    _lmplz(kenlm_bin, text, order, prune, tmp_path / "lmplz.arpa")
    theirs = read_arpa(tmp_path / "lmplz.arpa")
    ours = estimate(sentences, order, prune)
    for n in range(order):
        assert ours.probs[n].keys() == theirs.probs[n].keys(), f"{n + 1}-grams differ"
        for gram, ln_p in ours.probs[n].items():
            if gram == (BOS,):  # never predicted: lmplz writes 0, we write -99
                continue
            assert ln_p == pytest.approx(theirs.probs[n][gram], abs=1e-5), gram
        if n < order - 1:
            for gram in ours.probs[n]:
                mine = ours.backoffs[n].get(gram, 0.0)
                assert mine == pytest.approx(theirs.backoffs[n].get(gram, 0.0), abs=1e-5), gram
    assert not any(math.isnan(p) for table in ours.probs for p in table.values())
