"""Kneser-Ney estimation, ARPA round trip, agreement with KenLM, and the ``ctc lm`` command."""

from __future__ import annotations

import math

import pytest

from ctc.errors import InputError
from ctc.lm import estimate, read_arpa, write_arpa
from ctc.lm.cli import main
from ctc.lm.kneser_ney import BOS, EOS, UNK


def test_hand_computed_bigram() -> None:
    # corpus "a b" / "a"; fallback discounts D1=0.5, D2=1, D3+=1.5 (too few counts to estimate)
    model = estimate([["a", "b"], ["a"]], order=2)
    p = {w: math.exp(model.score(w, [])) for w in ("a", "b", EOS, UNK)}
    assert p == pytest.approx({"a": 0.25, "b": 0.25, EOS: 0.375, UNK: 0.125})
    assert math.exp(model.score("a", [BOS])) == pytest.approx(0.625)
    assert math.exp(model.score("b", ["a"])) == pytest.approx(0.375)
    assert math.exp(model.score(EOS, ["a"])) == pytest.approx(0.4375)
    assert math.exp(model.score(EOS, ["b"])) == pytest.approx(0.6875)
    assert math.exp(model.backoffs[0][(BOS,)]) == pytest.approx(0.5)


@pytest.mark.parametrize("prune", [(), (0, 1, 1)])
def test_every_context_normalises(tmp_path, prune, zipf_corpus) -> None:
    model = estimate(zipf_corpus(), order=3, prune=prune)
    write_arpa(model, tmp_path / "lm.arpa")
    read = read_arpa(tmp_path / "lm.arpa")
    vocab = [w for w in read.vocab if w != BOS]
    contexts = [(), *list(read.backoffs[0])[:15], *list(read.backoffs[1])[:15], ("w3", "w999")]
    for context in contexts:
        total = sum(math.exp(read.score(w, context)) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-5), context


def test_pruning_drops_rare_ngrams(zipf_corpus) -> None:
    full = estimate(zipf_corpus(), order=3)
    pruned = estimate(zipf_corpus(), order=3, prune=(0, 1, 1))
    assert len(pruned.probs[2]) < len(full.probs[2])
    assert len(pruned.probs[0]) == len(full.probs[0])


def test_kenlm_loads_our_arpa_with_the_same_scores(tmp_path, zipf_corpus) -> None:
    kenlm = pytest.importorskip("kenlm")
    sentences = zipf_corpus()
    model = estimate(sentences, order=4)
    write_arpa(model, tmp_path / "lm.arpa")
    ours = read_arpa(tmp_path / "lm.arpa")
    theirs = kenlm.Model(str(tmp_path / "lm.arpa"))
    for words in [*sentences[:100], ["unseen", "w1"], []]:
        expected = theirs.score(" ".join(words), bos=True, eos=True) * math.log(10)
        assert ours.sentence_score(words) == pytest.approx(expected, abs=1e-4)
        assert model.sentence_score(words) == pytest.approx(expected, abs=1e-4)


def test_cli_build_and_perplexity(tmp_path, capsys, zipf_corpus) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in zipf_corpus(300)) + "\n", encoding="utf-8")
    out = tmp_path / "lm.arpa"
    assert main(["build", "--text", str(corpus), "--order", "3", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("\\data\\\nngram 1=")
    assert "\t" in text.splitlines()[6]
    assert main(["perplexity", "--lm", str(out), "--text", str(corpus)]) == 0
    ppl = float(capsys.readouterr().out.split()[-1])
    assert 1.0 < ppl < 80.0


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["build", "--text", str(tmp_path / "missing.txt"), "--out", "x.arpa"]) == 1
    assert "corpus not found" in capsys.readouterr().err
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\n", encoding="utf-8")
    assert main(["build", "--text", str(corpus), "--order", "1", "--out", "x.arpa"]) == 1
    with pytest.raises(InputError, match="reserved"):
        estimate([["<s>", "a"]], order=2)
