"""KenLM binaries (build_binary's probing, trie, quantized and pointer-compressed formats) read
into NGramModel: against the ARPA file they were built from and against KenLM's own scores."""

from __future__ import annotations

import math
import random
import re
import subprocess
from pathlib import Path

import pytest

from ctc.errors import InputError
from ctc.lm import estimate, read_arpa, write_arpa
from ctc.lm import kenlm_binary as kb
from ctc.lm.kenlm_binary import kenlm_binary_to_arpa, read_kenlm_binary
from ctc.lm.kneser_ney import BOS, EOS, NGramModel

LOG10 = math.log(10.0)
LMS = {"o2": (2, ()), "o3": (3, ()), "o5": (5, ()), "o3-pruned": (3, (0, 1, 1))}
EXACT = {"probing": ["probing"], "trie": ["trie"], "array": ["-a", "22", "trie"]}
QUANTIZED = {"quant": ["-q", "8", "-b", "8", "trie"],
             "quant-array": ["-q", "10", "-b", "9", "-a", "64", "trie"]}

# <s> b a needs its suffix "b a", which is missing: KenLM adds it (a blank); <unk> is missing
BLANK_ARPA = """\\data\\
ngram 1=4
ngram 2=3
ngram 3=1

\\1-grams:
-99\t<s>\t-0.3
-0.5\t</s>
-0.7\ta\t-0.2
-0.6\tb

\\2-grams:
-0.4\t<s> a\t-0.1
-0.3\ta b
-0.2\t<s> b\t-0.25

\\3-grams:
-0.15\t<s> b a

\\end\\
"""


def _build_binary(kenlm_bin: Path, options: list[str], arpa: Path, out: Path) -> Path:
    subprocess.run([str(kenlm_bin / "build_binary"), "-S", "10M", *options, str(arpa), str(out)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="module")
def arpas(tmp_path_factory, zipf_corpus) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("arpa")
    sentences = zipf_corpus()
    paths = {}
    for name, (order, prune) in LMS.items():
        paths[name] = folder / f"{name}.arpa"
        write_arpa(estimate(sentences, order, prune), paths[name])
    return paths


@pytest.fixture(scope="module")
def binaries(kenlm_bin, arpas, tmp_path_factory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("binary")
    return {(name, kind): _build_binary(kenlm_bin, options, arpa, folder / f"{name}.{kind}")
            for name, arpa in arpas.items() for kind, options in {**EXACT, **QUANTIZED}.items()}


def _sentences(model: NGramModel, count: int = 200, seed: int = 1) -> list[list[str]]:
    rng = random.Random(seed)
    words = [*sorted(w for w in model.vocab if w not in (BOS, EOS)), "never-seen"]
    return [rng.choices(words, k=rng.randint(0, 12)) for _ in range(count)]


def _assert_scores_like_kenlm(model: NGramModel, path: Path) -> None:
    kenlm = pytest.importorskip("kenlm")
    theirs = kenlm.Model(str(path))
    for words in _sentences(model):
        expected = theirs.score(" ".join(words), bos=True, eos=True)
        assert model.sentence_score(words) / LOG10 == pytest.approx(expected, abs=1e-4), words


def _assert_same_model(ours: NGramModel, theirs: NGramModel, tolerance: float) -> None:
    assert ours.order == theirs.order
    for n in range(ours.order):
        assert ours.probs[n].keys() == theirs.probs[n].keys(), f"{n + 1}-grams differ"
        for gram, ln_p in theirs.probs[n].items():
            if ln_p == -math.inf:
                assert ours.probs[n][gram] == -math.inf, gram
            else:
                assert ours.probs[n][gram] / LOG10 == pytest.approx(ln_p / LOG10, abs=tolerance)
    for n in range(ours.order - 1):
        assert ours.backoffs[n].keys() == theirs.backoffs[n].keys(), f"{n + 1}-gram backoffs"
        for gram, ln_b in theirs.backoffs[n].items():
            assert ours.backoffs[n][gram] / LOG10 == pytest.approx(ln_b / LOG10, abs=tolerance)


@pytest.mark.parametrize("kind", EXACT)
@pytest.mark.parametrize("name", LMS)
def test_unquantized_binaries_equal_the_arpa(arpas, binaries, name, kind) -> None:
    model = read_kenlm_binary(binaries[name, kind])
    _assert_same_model(model, read_arpa(arpas[name]), tolerance=1e-6)  # float32 in the binary
    _assert_scores_like_kenlm(model, binaries[name, kind])


@pytest.mark.parametrize("kind", QUANTIZED)
@pytest.mark.parametrize("name", LMS)
def test_quantized_binaries_hold_kenlm_values(arpas, binaries, name, kind) -> None:
    kenlm = pytest.importorskip("kenlm")
    path = binaries[name, kind]
    model = read_kenlm_binary(path)
    arpa = read_arpa(arpas[name])
    for n in range(model.order):
        assert model.probs[n].keys() == arpa.probs[n].keys(), f"{n + 1}-grams differ"
    theirs = kenlm.Model(str(path))
    state, out = kenlm.State(), kenlm.State()
    for table in model.probs:
        for gram, ln_p in table.items():
            theirs.NullContextWrite(state)
            for word in gram[:-1]:
                theirs.BaseScore(state, word, out)
                state, out = out, state
            score = theirs.BaseScore(state, gram[-1], out)
            assert (-99.0 if ln_p == -math.inf else ln_p / LOG10) == pytest.approx(score,
                                                                                  abs=1e-6), gram
    _assert_scores_like_kenlm(model, path)


def test_read_arpa_reads_binaries_and_conversion_round_trips(arpas, binaries, tmp_path) -> None:
    path = binaries["o3", "trie"]
    model = read_kenlm_binary(path)
    assert read_arpa(path) == model
    kenlm_binary_to_arpa(binaries["o3", "probing"], tmp_path / "back.arpa")
    _assert_same_model(read_arpa(tmp_path / "back.arpa"), read_arpa(arpas["o3"]), tolerance=1e-6)
    _assert_scores_like_kenlm(read_arpa(tmp_path / "back.arpa"), path)


def test_rest_cost_probing_gives_the_probabilities(kenlm_bin, arpas, tmp_path,
                                                   zipf_corpus) -> None:
    lower = []
    for order in (1, 2):
        lower.append(tmp_path / f"order{order}.arpa")
        write_arpa(estimate(zipf_corpus(), order), lower[-1])
    path = _build_binary(kenlm_bin, ["-r", " ".join(map(str, lower)), "probing"], arpas["o3"],
                         tmp_path / "rest.bin")
    model = read_kenlm_binary(path)
    _assert_same_model(model, read_arpa(arpas["o3"]), tolerance=1e-6)
    _assert_scores_like_kenlm(model, path)


@pytest.mark.parametrize("options", [["-p", "4", "probing"], ["trie"], ["-q", "8", "trie"]])
def test_blanks_and_missing_unk_score_as_kenlm(kenlm_bin, tmp_path, options) -> None:
    arpa = tmp_path / "blank.arpa"
    arpa.write_text(BLANK_ARPA, encoding="utf-8")
    path = _build_binary(kenlm_bin, options, arpa, tmp_path / "blank.bin")
    model = read_kenlm_binary(path)
    expected = read_arpa(arpa)
    assert model.probs[0].keys() == {*expected.probs[0], ("<unk>",)}
    assert model.probs[0][("<unk>",)] == pytest.approx(-100 * LOG10)  # build_binary -u default
    assert model.probs[1].keys() == {*expected.probs[1], ("b", "a")}  # the blank
    assert model.probs[1][("b", "a")] == pytest.approx(model.probs[0][("a",)], abs=1e-3)
    assert model.probs[2].keys() == expected.probs[2].keys()
    _assert_scores_like_kenlm(model, path)


def _fails(path: Path, pattern: str) -> None:
    with pytest.raises(InputError, match=re.escape(str(path)) + ".*" + pattern):
        read_kenlm_binary(path)
    with pytest.raises(InputError, match=re.escape(str(path))):
        read_arpa(path)


@pytest.mark.parametrize("kind", ["probing", "trie", "quant-array"])
def test_truncated_files(binaries, tmp_path, kind) -> None:
    data = binaries["o3", kind].read_bytes()
    for cut in (100, len(data) // 2, len(data) - 3):
        path = tmp_path / f"cut{cut}.bin"
        path.write_bytes(data[:cut])
        _fails(path, "truncated")


def test_unfinished_and_foreign_files(kenlm_bin, arpas, binaries, tmp_path) -> None:
    data = binaries["o3", "trie"].read_bytes()
    unfinished = tmp_path / "unfinished.bin"
    unfinished.write_bytes(b"mmap lm http://kheafield.com/code incomplete\n" + data[45:])
    _fails(unfinished, "did not finish building")

    old = tmp_path / "old.bin"
    old.write_bytes(data.replace(b"format version 5", b"format version 4", 1))
    _fails(old, "version 4")

    header = len(kb._SANITY)
    unknown = bytearray(data)
    unknown[header + 8] = 9  # FixedWidthParameters.model_type
    (tmp_path / "type.bin").write_bytes(bytes(unknown))
    _fails(tmp_path / "type.bin", "model type 9")

    no_vocab = _build_binary(kenlm_bin, ["-v", "trie"], arpas["o3"], tmp_path / "novocab.bin")
    _fails(no_vocab, "without its vocabulary")


def test_probing_enumeration_bound(binaries, monkeypatch) -> None:
    monkeypatch.setattr(kb, "MAX_CANDIDATES", 1000)
    _fails(binaries["o3", "probing"], "too large to enumerate.*ARPA file or a trie")
