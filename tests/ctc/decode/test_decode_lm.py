"""Beam search with a word n-gram LM: n-gram table vs KenLM, LM fixes, lexicon, peers, tuning."""

from __future__ import annotations

import json
import math
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ctc._ext import load_extension
from ctc.decode import BeamSearchDecoder, greedy_decode, make_decoder
from ctc.decode.posteriors import load_posteriors, pad, save_posteriors
from ctc.decode.synthetic import SentenceSource, char_posteriors, char_tokens
from ctc.decode.tune_cli import main as tune_main
from ctc.errors import InputError
from ctc.lm import estimate, write_arpa
from ctc.metrics.errors import count_errors

TOKENS = char_tokens()
INDEX = {t: i for i, t in enumerate(TOKENS)}
FIXED = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog",
         "the cat ate the rat", "on the mat sat the cat"]


@pytest.fixture(scope="module")
def source() -> SentenceSource:
    return SentenceSource(vocab_size=300, successors=8, seed=3)


@pytest.fixture(scope="module")
def lm_path(tmp_path_factory, source) -> str:
    text = source.sentences(1500, seed=1) + FIXED * 40
    path = tmp_path_factory.mktemp("lm") / "lm.arpa"
    write_arpa(estimate([s.split() for s in text], order=3), path)
    return str(path)


def _spell(text: str, confuse: dict[int, tuple[str, float]] | None = None) -> np.ndarray:
    """Clean posteriors for text: one frame per char then a blank; ``confuse[i] = (c, p)`` puts
    probability p on character c at the frame of character i."""
    rows = []
    for i, ch in enumerate(text):
        row = np.full(len(TOKENS), 1e-4)
        if confuse and i in confuse:
            other, p = confuse[i]
            row[INDEX[other]] = p
            row[INDEX[ch]] = 1.0 - p
        else:
            row[INDEX[ch]] = 1.0
        rows.append(row)
        blank = np.full(len(TOKENS), 1e-4)
        blank[0] = 1.0
        rows.append(blank)
    lp = np.log(np.array(rows))
    return (lp - np.log(np.exp(lp).sum(axis=1, keepdims=True))).astype(np.float32)


def test_ngram_table_scores_equal_kenlm(lm_path, source) -> None:
    kenlm = pytest.importorskip("kenlm")
    ours = load_extension().NGramLM(lm_path)
    theirs = kenlm.Model(lm_path)
    rng = random.Random(0)
    sentences = [*source.sentences(50, seed=9), "zzz unknown the cat", "", "cat cat cat cat"]
    for sentence in sentences:
        words = sentence.split()
        if rng.random() < 0.3 and words:
            words[rng.randrange(len(words))] = "oov"
        state, total = ours.begin_state, 0.0
        for word in [*words, "</s>"]:
            score, state = ours.score(state, ours.word_id(word))
            total += score
        expected = theirs.score(" ".join(words), bos=True, eos=True) * math.log(10)
        assert total == pytest.approx(expected, abs=1e-3), sentence


def _reference_lookahead(model, history: list[str], prefix: str) -> float:
    """Context look-ahead by its definition over the ARPA model: the best listed successor of
    the context below ``prefix``, or the context's back-off weight plus the look-ahead of the
    shorter context; at the empty context the best unigram."""
    vocab = [w for w in model.vocab if w not in ("<s>", "</s>", "<unk>") and w.startswith(prefix)]
    context = tuple(["<s>", *history])[-(model.order - 1):]

    def value(ctx: tuple[str, ...]) -> float:
        if not ctx:
            return max(model.probs[0][(w,)] for w in vocab)
        listed = [model.probs[len(ctx)].get((*ctx, w), -math.inf) for w in vocab]
        backoff = model.backoffs[len(ctx) - 1].get(ctx, 0.0) if model.backoffs else 0.0
        return max(max(listed), backoff + value(ctx[1:]))

    return value(context)


def test_context_lookahead_follows_the_backoff_rule(lm_path, source) -> None:
    from ctc.lm import read_arpa

    model = read_arpa(lm_path)
    dec = BeamSearchDecoder(TOKENS, lm=lm_path)
    uni = BeamSearchDecoder(TOKENS, lm=lm_path, lm_lookahead="unigram")
    rng = random.Random(4)
    checked = 0
    for sentence in [*source.sentences(20, seed=13), *FIXED]:
        words = sentence.split()
        for cut in range(len(words)):
            history, word = words[:cut], words[cut]
            prefix = word[: rng.randrange(len(word) + 1)]
            got = dec._search.lookahead_after(history, prefix)
            assert got == pytest.approx(_reference_lookahead(model, history, prefix), abs=1e-4)
            # never below the LM score of a word that begins with the prefix
            assert got >= model.score(word, ["<s>", *history]) - 1e-4
            # the unigram look-ahead ignores the history
            best_unigram = max(model.probs[0][(w,)] for w in model.vocab
                               if w not in ("<s>", "</s>", "<unk>") and w.startswith(prefix))
            assert uni._search.lookahead_after(history, prefix) == pytest.approx(best_unigram,
                                                                                 abs=1e-4)
            checked += 1
    assert checked > 50
    assert dec._search.lookahead_after(["the"], "zzzq") == -math.inf


def test_context_lookahead_helps_a_small_beam(lm_path, source) -> None:
    refs = source.sentences(60, seed=31)
    rng = np.random.default_rng(1)
    log_probs, lengths = pad([char_posteriors(r, rng, confusion=0.08) for r in refs], 0)
    wer = {}
    for mode in ("unigram", "context"):
        dec = make_decoder("ours", TOKENS, lm=lm_path, alpha=0.8, beta=2.0, beam_size=2,
                           lm_lookahead=mode)
        wer[mode] = count_errors(refs, [h.text for h in dec(log_probs, lengths)]).rate
    # measured 2.6% vs 8.4% (three seeds: 3-7x fewer errors at beam 2)
    assert wer["context"] < 0.5 * wer["unigram"]


def test_recombination_keeps_one_hypothesis_per_future(lm_path, source) -> None:
    # with a trigram LM, hypotheses ending in the same two words and token share every future
    refs = source.sentences(30, seed=41)
    rng = np.random.default_rng(2)
    log_probs, lengths = pad([char_posteriors(r, rng, confusion=0.08) for r in refs], 0)

    def repeats(recombine: bool) -> int:
        dec = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=0.8, beta=2.0, beam_size=8,
                                recombine=recombine)
        nbest = dec.decode_batch(log_probs, lengths, nbest=8)
        return sum(len(hyps) - len({(tuple(h.text.split()[-2:]), h.tokens[-1:]) for h in hyps})
                   for hyps in nbest)

    assert repeats(recombine=False) > 30  # measured 101: the beam holds redundant histories
    assert repeats(recombine=True) == 0


@pytest.mark.parametrize("layout", [["probing"], ["trie"],
                                    ["-q", "8", "-b", "8", "-a", "22", "trie"]])
def test_kenlm_binary_decodes_like_its_arpa(tmp_path, kenlm_bin, lm_path, source, layout) -> None:
    binary = tmp_path / "lm.bin"
    subprocess.run([str(kenlm_bin / "build_binary"), "-S", "10%", *layout, lm_path, str(binary)],
                   check=True, capture_output=True)
    refs = source.sentences(20, seed=51)
    rng = np.random.default_rng(3)
    log_probs, lengths = pad([char_posteriors(r, rng, confusion=0.08) for r in refs], 0)
    arpa = make_decoder("ours", TOKENS, lm=lm_path, alpha=0.8, beta=2.0, beam_size=8)
    kenlm = make_decoder("ours", TOKENS, lm=binary, alpha=0.8, beta=2.0, beam_size=8)
    expected, got = arpa(log_probs, lengths), kenlm(log_probs, lengths)
    assert [h.text for h in got] == [h.text for h in expected]
    tolerance = 1.0 if "-q" in layout else 1e-4  # quantized to 8-bit bins: scores move a little
    assert [h.score for h in got] == pytest.approx([h.score for h in expected], abs=tolerance)


def test_strong_lm_fixes_a_misspelling(lm_path) -> None:
    text = "the cat sat on the mat"
    lp = _spell(text, {5: ("e", 0.6)})  # "cat" -> "cet" on the best path
    greedy_text = "".join(TOKENS[t] for t in greedy_decode(lp[None])[0].tokens)
    assert greedy_text == "the cet sat on the mat"
    plain = BeamSearchDecoder(TOKENS, beam_size=20).decode(lp)[0]
    assert plain.text == "the cet sat on the mat"
    fused = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=1.0, beta=1.0, beam_size=20).decode(lp)[0]
    assert fused.text == text
    assert [w.word for w in fused.words] == text.split()
    assert fused.lm_score != 0.0


def test_open_vocabulary_keeps_a_clear_unknown_word(lm_path) -> None:
    text = "the cat zyx"
    lp = _spell(text)
    open_vocab = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=0.5, beta=1.0, beam_size=20,
                                   unk_score=-4.0)
    assert open_vocab.decode(lp)[0].text == text
    closed = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=0.5, beam_size=20,
                               lexicon_constrained=True)
    words = closed.decode(lp)[0].text.split()
    assert "zyx" not in words


def test_lexicon_constrained_output_uses_only_lexicon_words() -> None:
    lp = _spell("the cet sat", {5: ("e", 0.6)})
    lexicon = ["the", "cat", "sat", "mat"]
    dec = BeamSearchDecoder(TOKENS, beam_size=20, unigrams=lexicon, lexicon_constrained=True)
    assert dec.decode(lp)[0].text == "the cat sat"


def test_hotword_phrase_with_lm(lm_path) -> None:
    lp = _spell("the dog sat", {5: ("i", 0.45)})
    base = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=0.5, beam_size=20)
    assert base.decode(lp)[0].text == "the dog sat"
    hot = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=0.5, beam_size=20,
                            hotwords={"the dig": 12.0})  # "dig" is out of the LM's vocabulary
    assert hot.decode(lp)[0].text == "the dig sat"


def test_hotword_words_join_the_lexicon(lm_path) -> None:
    # "dig" is unknown to the LM: a lexicon-constrained search can spell it only as a hotword
    lp = _spell("the dog sat", {5: ("i", 0.45)})
    closed = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=0.5, beam_size=20,
                               lexicon_constrained=True)
    assert "dig" not in closed.decode(lp)[0].text.split()
    hot = BeamSearchDecoder(TOKENS, lm=lm_path, alpha=0.5, beam_size=20,
                            lexicon_constrained=True, hotwords={"the dig": 12.0})
    assert hot.decode(lp)[0].text == "the dig sat"


def test_lm_decoding_improves_synthetic_wer(lm_path, source) -> None:
    refs = source.sentences(40, seed=21)
    rng = np.random.default_rng(0)
    log_probs, lengths = pad([char_posteriors(r, rng, confusion=0.06) for r in refs], 0)
    greedy = make_decoder("greedy", TOKENS)(log_probs, lengths)
    ours = make_decoder("ours", TOKENS, lm=lm_path, alpha=0.6, beta=1.0, beam_size=16)
    hyps = ours(log_probs, lengths)
    assert ours(log_probs, lengths) == hyps
    wer_greedy = count_errors(refs, [h.text for h in greedy]).rate
    wer_ours = count_errors(refs, [h.text for h in hyps]).rate
    assert wer_ours < 0.5 * wer_greedy


def test_threads_share_lm_work_without_changing_results(lm_path, source) -> None:
    refs = source.sentences(24, seed=61)
    rng = np.random.default_rng(4)
    log_probs, lengths = pad([char_posteriors(r, rng, confusion=0.08) for r in refs], 0)
    single = make_decoder("ours", TOKENS, lm=lm_path, alpha=0.8, beta=2.0, beam_size=16,
                          num_threads=1)(log_probs, lengths)
    threaded = make_decoder("ours", TOKENS, lm=lm_path, alpha=0.8, beta=2.0, beam_size=16,
                            num_threads=3)
    assert threaded(log_probs, lengths) == single
    assert threaded(log_probs, lengths) == single  # with the shared tables filled
    # two Python threads decoding on one decoder at once (the GIL is released)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: threaded(log_probs, lengths), range(4)))
    assert all(r == single for r in results)


def test_agrees_with_pyctcdecode_without_lm(source) -> None:
    pytest.importorskip("pyctcdecode")
    refs = source.sentences(12, seed=5)
    rng = np.random.default_rng(3)
    items = [char_posteriors(r, rng, confusion=0.1) for r in refs]
    log_probs, lengths = pad(items, 0)
    theirs = make_decoder("pyctcdecode", TOKENS, beam_size=20)(log_probs, lengths)
    ours = make_decoder("ours", TOKENS, beam_size=20, blank_skip_threshold=1.0,
                        beam_prune_logp=-10.0)(log_probs, lengths)
    assert [h.text for h in ours] == [h.text for h in theirs]


def test_flashlight_backend_runs(lm_path) -> None:
    pytest.importorskip("flashlight.lib.text")
    lp = _spell("the cat sat on the mat", {5: ("e", 0.6)})
    dec = make_decoder("flashlight", TOKENS, lm=lm_path, alpha=1.0, beta=0.0, beam_size=20)
    assert dec(lp[None], None)[0].text == "the cat sat on the mat"


def test_make_decoder_rejects_unknown_backend() -> None:
    with pytest.raises(InputError, match="unknown decoder"):
        make_decoder("viterbi", TOKENS)


def test_tune_lm_writes_the_best_pair(tmp_path, lm_path, source, capsys) -> None:
    refs = source.sentences(10, seed=33)
    rng = np.random.default_rng(4)
    dump = tmp_path / "dev.pt"
    save_posteriors(dump, TOKENS, 0, " ", [f"u{i}" for i in range(10)], refs,
                    [char_posteriors(r, rng, confusion=0.06) for r in refs])
    assert load_posteriors(dump).log_probs.shape[0] == 10
    out = tmp_path / "tuned.json"
    argv = ["--posteriors", str(dump), "--lm", lm_path, "--out", str(out), "--alpha-grid", "0",
            "0.7", "--beta-grid", "0", "1", "--beam-size", "8"]
    assert tune_main(argv) == 0
    result = json.loads(out.read_text())
    assert len(result["grid"]) == 4
    assert result["wer"] == min(r["wer"] for r in result["grid"])
    assert "best alpha" in capsys.readouterr().out
    assert tune_main(["--posteriors", str(tmp_path / "no.pt"), "--lm", lm_path,
                      "--out", str(out)]) == 1


@pytest.mark.parametrize("backend", ["greedy", "ours", "pyctcdecode", "flashlight"])
def test_every_backend_returns_a_complete_hypothesis(lm_path, backend) -> None:
    """Tokens, their frames, text and words under one convention, and lm_score = score minus
    the acoustic score, whatever the backend (single and threaded calls alike)."""
    if backend == "pyctcdecode":
        pytest.importorskip("pyctcdecode")
    if backend == "flashlight":
        pytest.importorskip("flashlight.lib.text")
    text = "the cat sat on the mat"
    lp = _spell(text, None if backend == "greedy" else {5: ("e", 0.6)})
    batch = np.stack([lp, lp])
    expected_frames = tuple(range(0, 2 * len(text), 2))  # one char frame, then a blank
    for threads in (1, 2):
        dec = make_decoder(backend, TOKENS, lm=None if backend == "greedy" else lm_path,
                           alpha=1.0, beta=0.5, beam_size=20, num_threads=threads)
        for hyp in dec(batch, None):
            assert hyp.text == text
            assert hyp.tokens == tuple(INDEX[c] for c in text)
            assert hyp.frames == expected_frames
            assert [(w.word, w.start, w.end) for w in hyp.words] == [
                ("the", 0, 5), ("cat", 8, 13), ("sat", 16, 21), ("on", 24, 27),
                ("the", 30, 35), ("mat", 38, 43)]
            acoustic = float(sum(lp[f, t] for f, t in enumerate(
                [INDEX[c] if k % 2 == 0 else 0 for k, c in
                 enumerate(ch for c in text for ch in (c, "<b>"))])))
            if backend == "greedy":
                assert hyp.lm_score == 0.0 and hyp.score == pytest.approx(acoustic, abs=1e-3)
            elif backend == "flashlight":  # its path must also emit its final "|" token, and
                assert hyp.score - hyp.lm_score < acoustic  # its LM scores are log10
            else:  # the prefix score sums the paths; this path dominates it here
                assert hyp.score - hyp.lm_score == pytest.approx(acoustic, abs=0.05)
                assert hyp.lm_score < 0  # the LM's log-probability outweighs 6 word bonuses
