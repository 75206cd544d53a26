"""Error counts equal jiwer's; alignments and confusion counts on hand-made examples."""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctc.metrics import count_errors
from ctc.metrics.alignment import Confusions, align_texts, alignment_rows, format_alignment
from ctc.metrics.errors import utterance_errors
from ctc.metrics.normalize import TextNormalizer

# Texts over a small alphabet so that words repeat and alignments have real choices to make.
_word = st.text(alphabet="abcé", min_size=1, max_size=3)
_clean_text = st.lists(_word, max_size=8).map(" ".join)
_messy_text = st.text(alphabet="ab c\t\n", max_size=12)
_pairs = st.lists(st.tuples(_clean_text, _clean_text), min_size=1, max_size=6)

# jiwer preprocessing equivalent to ours on any whitespace: every whitespace char becomes a space.
_JIWER_WORDS = jiwer.Compose([jiwer.RemoveWhiteSpace(replace_by_space=True),
                              jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
                              jiwer.ReduceToListOfListOfWords()])
_JIWER_CHARS = jiwer.Compose([jiwer.RemoveWhiteSpace(replace_by_space=True),
                              jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
                              jiwer.ReduceToListOfListOfChars()])


def _counts(c) -> tuple[int, int, int]:
    return c.substitutions, c.deletions, c.insertions


def _assert_same_as_jiwer(refs, hyps, words_out, chars_out) -> None:
    w, c = count_errors(refs, hyps, "word"), count_errors(refs, hyps, "char")
    assert _counts(w) == _counts(words_out)
    assert w.hits == words_out.hits
    assert _counts(c) == _counts(chars_out)
    assert c.hits == chars_out.hits
    if w.ref_length:
        assert w.rate == pytest.approx(words_out.wer, abs=1e-12)
    if c.ref_length:
        assert c.rate == pytest.approx(chars_out.cer, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(_pairs)
def test_counts_equal_jiwer_defaults_on_clean_texts(pairs):
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    _assert_same_as_jiwer(refs, hyps, jiwer.process_words(refs, hyps),
                          jiwer.process_characters(refs, hyps))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_messy_text, _messy_text), min_size=1, max_size=5))
def test_counts_equal_jiwer_on_any_whitespace(pairs):
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    words = jiwer.process_words(refs, hyps, _JIWER_WORDS, _JIWER_WORDS)
    chars = jiwer.process_characters(refs, hyps, _JIWER_CHARS, _JIWER_CHARS)
    _assert_same_as_jiwer(refs, hyps, words, chars)


@settings(max_examples=100, deadline=None)
@given(_pairs)
def test_alignment_agrees_with_counts(pairs):
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    per = utterance_errors(refs, hyps, "char")
    for i, (ref, hyp) in enumerate(pairs):
        ops = [op for op, _, _ in align_texts(ref, hyp, "char")]
        assert (ops.count("S"), ops.count("D"), ops.count("I")) == (
            per.substitutions[i], per.deletions[i], per.insertions[i])


@pytest.mark.parametrize("refs, hyps", [
    (["", "a b"], ["x", "a c"]),
    (["a b", ""], ["", ""]),
    (["", "the cat"], ["", "the cat"]),
])
def test_empty_references_and_hypotheses_match_jiwer(refs, hyps):
    _assert_same_as_jiwer(refs, hyps, jiwer.process_words(refs, hyps),
                          jiwer.process_characters(refs, hyps))


def test_all_empty_references_give_inf_or_zero_rate():
    # jiwer returns the raw insertion count here, which is not a rate: we say inf.
    assert count_errors([""], ["x y"]).rate == float("inf")
    assert count_errors([""], ["x y"]).insertions == 2
    assert count_errors([""], [""]).rate == 0.0


def test_per_utterance_counts_and_sentence_errors():
    per = utterance_errors(["a b c", "d e", "f"], ["a x c", "d e", "f g h"])
    np.testing.assert_array_equal(per.substitutions, [1, 0, 0])
    np.testing.assert_array_equal(per.insertions, [0, 0, 2])
    np.testing.assert_array_equal(per.ref_length, [3, 2, 1])
    total = per.total()
    assert (total.errors, total.ref_length, total.sentence_errors) == (3, 6, 2)
    assert total.sentence_error_rate == pytest.approx(2 / 3)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        count_errors(["a", "b"], ["a"])


def test_alignment_rows_line_up_with_marks():
    alignment = align_texts("the cat sat on the mat", "the bat sat down on mat")
    ref, hyp, ev = alignment_rows(alignment)
    assert ref == "REF:  the cat sat ***  on the mat"
    assert hyp == "HYP:  the bat sat down on *** mat"
    assert ev == "EVAL:     S       I       D"
    block = format_alignment("u1", alignment)
    assert block.splitlines()[:2] == ["id: u1", "Scores: (#C #S #D #I) 4 1 1 1"]


def test_char_alignment_shows_spaces():
    ref, hyp, ev = alignment_rows(align_texts("a b", "ab", "char"), unit="char")
    assert (ref, hyp, ev) == ("REF:  a ␣ b", "HYP:  a * b", "EVAL:   D")


def test_confusions_count_pairs_insertions_deletions():
    conf = Confusions()
    pairs = [("the cat sat", "the bat sat"), ("a cat", "a bat bat"), ("on the mat", "on mat")]
    for ref, hyp in pairs:
        conf.add(align_texts(ref, hyp))
    top = conf.top(5)
    assert top["substitutions"] == [["cat", "bat", 2]]
    assert top["insertions"] == [["bat", 1]]
    assert top["deletions"] == [["the", 1]]


def test_normalizer_options_and_description():
    norm = TextNormalizer.from_names("lower,punct,nfkc")
    assert norm("Don't  STOP, ‘now’!  ﬁne") == "don't stop now fine"
    assert "lower-cased" in norm.describe() and "NFKC" in norm.describe()
    assert TextNormalizer.from_names("none")("  A  b ") == "  A  b "
    with pytest.raises(ValueError, match="unknown normalisation bogus"):
        TextNormalizer.from_names(["lower", "bogus"])
