"""ctc.data.normalize: NFC, apostrophes, punctuation, digits, symbols, brackets, whitespace."""

from __future__ import annotations

import importlib.util
import io
import sys
import unicodedata

import pytest

from ctc.data.normalize import TextNormalizer, main, normalize_text, only_notes
from ctc.errors import InputError


def test_nfc_composes_accented_letters_and_keeps_them():
    decomposed = "Tre\u0301s nu\u0301mero"  # e + combining acute
    out = normalize_text(decomposed)
    assert out == "trés número"
    assert out == unicodedata.normalize("NFC", out) and len(out) == len("trés número")


def test_apostrophe_variants_become_one_and_stay_inside_words():
    norm = TextNormalizer()
    assert norm("L’ora è po’ tardi, dell`agente") == "l'ora è po' tardi dell'agente"
    assert norm("d\u02bcagent") == "d'agent"
    # an apostrophe that follows no letter is a quotation mark
    assert norm("'quoted' words") == "quoted' words"
    assert norm("E' in uso.") == "e' in uso"


def test_punctuation_removed_to_spaces_or_kept():
    assert normalize_text("Oui, «bien» ; non!") == "oui bien non"
    assert normalize_text("uno,dos") == "uno dos"
    assert normalize_text("peut-être") == "peut être"
    assert normalize_text("peut-être -", inner="-") == "peut-être"
    kept = TextNormalizer(punctuation="keep", lowercase=False)
    assert kept("Oui, « bien » !") == "Oui, « bien » !"


def test_case_whitespace_and_format_characters():
    assert normalize_text("\ufeffHola\u200b  MUNDO \t\n") == "hola mundo"
    assert TextNormalizer(lowercase=False)("Hola  Mundo.") == "Hola Mundo"
    assert normalize_text("Straße") == "straße"  # lower(), not casefold()


def test_digits_keep_skip():
    assert normalize_text("marque 1 para") == "marque 1 para"
    assert TextNormalizer(digits="skip")("marque 1 para") is None
    assert TextNormalizer(digits="skip")("marque uno para") == "marque uno para"


@pytest.mark.skipif(importlib.util.find_spec("num2words") is None, reason="needs num2words")
@pytest.mark.parametrize("lang, text, expected", [
    ("es", "marque 21", "marque veintiuno"),
    ("fr", "appuyez sur 7", "appuyez sur sept"),
    ("it", "premere 3", "premere tre"),
])
def test_digits_verbalized(lang, text, expected):
    assert TextNormalizer(digits="verbalize", language=lang)(text) == expected


def test_verbalize_needs_a_language():
    with pytest.raises(InputError, match="needs a language"):
        TextNormalizer(digits="verbalize")


def test_symbols_and_brackets():
    assert TextNormalizer(symbols="skip")("suivi du #") is None
    assert TextNormalizer(symbols="skip")("100 € ok") is None
    assert normalize_text("suivi du #") == "suivi du"
    assert TextNormalizer(symbols="keep")("a + b.") == "a + b"
    assert normalize_text("dollaro [$]") == "dollaro"
    assert TextNormalizer(brackets="skip")("a [@]") is None
    assert TextNormalizer(brackets="keep", punctuation="keep")("[tono]") == "[tono]"
    assert normalize_text("[tones]") is None  # nothing left


def test_parenthesised_notes():
    text = "Voce disattivata. (You are now muted.)"
    assert normalize_text(text) == "voce disattivata you are now muted"  # kept by default
    assert TextNormalizer(parentheses="remove")(text) == "voce disattivata"
    assert TextNormalizer(parentheses="remove")("Pour (emphase) vous") == "pour vous"
    assert TextNormalizer(parentheses="remove")("(beep)") is None
    assert TextNormalizer(parentheses="skip")(text) is None
    assert TextNormalizer(parentheses="skip")("sans note") == "sans note"
    assert only_notes("(beep)") and only_notes(" [tones] (7 s) ")
    assert not only_notes(text) and not only_notes("") and not only_notes("plain")


def test_bad_option_is_one_line_error():
    with pytest.raises(InputError, match="punctuation='drop' must be one of remove, keep"):
        TextNormalizer(punctuation="drop")


def test_options_round_trip():
    norm = TextNormalizer(digits="skip", inner="'-")
    assert TextNormalizer(**norm.to_dict()) == norm


def test_command_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hola, 1 vez.\nBuenos días\n"))
    assert main(["--digits", "skip", "--keep-lines"]) == 0
    assert capsys.readouterr().out == "\nbuenos días\n"
