"""Command-line decoding options: LM weights tuned beside the model, validation of --lm."""

from __future__ import annotations

import argparse
import json

import pytest

from ctc.commands.options import add_decoding_options, decode_config
from ctc.data import CharTokenizer
from ctc.decode import build_decoder
from ctc.decode.config import DEFAULTS
from ctc.decode.tuned import tuned_weights
from ctc.errors import InputError
from ctc.lm.arpa import write_arpa
from ctc.lm.kneser_ney import estimate, read_sentences

TOKENIZER = CharTokenizer.build(["the cat sat on the mat"])


@pytest.fixture()
def exp(tmp_path):
    sentences = read_sentences(["the cat sat", "the mat sat", "a cat on the mat"] * 3)
    for name in ("lm.arpa", "other.arpa"):
        write_arpa(estimate(sentences, 2), tmp_path / name)
    model = tmp_path / "exp"
    model.mkdir()
    (model / "lm_tuned.json").write_text(json.dumps(
        {"alpha": 0.7, "beta": 2.5, "lm": str(tmp_path / "lm.arpa")}))
    return model


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_decoding_options(parser)
    return parser.parse_args(list(argv))


def decoder_from_options(args: argparse.Namespace, tokenizer, model):
    config = decode_config(args, model)
    return build_decoder(config, tokenizer), config.label()


def test_tuned_weights_apply_only_to_the_lm_they_were_tuned_for(exp):
    lm, other = exp.parent / "lm.arpa", exp.parent / "other.arpa"
    assert tuned_weights(exp, lm) == (0.7, 2.5)
    assert tuned_weights(exp / "best.pt", lm) == (0.7, 2.5)  # a checkpoint inside the exp dir
    assert tuned_weights(exp, other) is None
    assert tuned_weights(exp.parent, lm) is None  # no tuned file there

    _, label = decoder_from_options(parse("--lm", str(lm)), TOKENIZER, exp)
    assert "alpha=0.7 beta=2.5" in label
    _, label = decoder_from_options(parse("--lm", str(lm), "--alpha", "0.2"), TOKENIZER, exp)
    assert "alpha=0.2 beta=2.5" in label
    _, label = decoder_from_options(parse("--lm", str(other)), TOKENIZER, exp)
    assert "alpha=0.6 beta=3.0" in label


def test_greedy_by_default_and_beam_search_with_an_lm(exp):
    decoder, label = decoder_from_options(parse(), TOKENIZER, exp)
    assert label == "greedy" and callable(decoder)
    _, label = decoder_from_options(parse("--lm", str(exp.parent / "lm.arpa")), TOKENIZER, exp)
    assert label.startswith(f"ours beam={DEFAULTS.beam_size} lm=lm.arpa")


def test_bad_lm_options_give_one_line_errors(exp):
    with pytest.raises(InputError, match=r"language model not found: nope\.arpa"):
        decoder_from_options(parse("--lm", "nope.arpa"), TOKENIZER, exp)
    with pytest.raises(InputError, match="--lm needs a beam-search decoder"):
        decoder_from_options(parse("--lm", str(exp.parent / "lm.arpa"), "--decoder", "greedy"),
                             TOKENIZER, exp)


def test_hotwords_from_options_and_file(exp, tmp_path):
    listing = tmp_path / "hot.txt"
    listing.write_text("# names\nthe mat\t2.5\ncat:4\n\nsat\n", encoding="utf-8")
    config = decode_config(parse("--hotword", "carousel:8", "--hotword", "new  york",
                                 "--hotwords", str(listing), "--nbest", "3"), exp)
    assert config.hotwords == (("carousel", 8.0), ("new york", 5.0), ("the mat", 2.5),
                               ("cat", 4.0), ("sat", 5.0))
    assert config.backend == "ours" and config.nbest == 3  # hotwords need the beam search
    assert callable(build_decoder(config, TOKENIZER))
    (tmp_path / "bad.txt").write_text("cat\t4\ndog\tlots\n")
    with pytest.raises(InputError, match=r"bad\.txt:2: hotword weight 'lots'"):
        decode_config(parse("--hotwords", str(tmp_path / "bad.txt")), exp)
    with pytest.raises(InputError, match="hotwords file not found"):
        decode_config(parse("--hotwords", str(tmp_path / "none.txt")), exp)
    with pytest.raises(InputError, match="--nbest"):
        decode_config(parse("--nbest", "0"), exp)
