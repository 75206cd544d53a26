"""A small, configurable text normaliser for transcripts in any language.

``TextNormalizer`` turns a raw transcript into the text a character model is trained and scored
on. In this order:

1. Unicode NFC (``form``), so an accented letter is one code point whatever the source wrote;
   the byte-order mark and format characters (zero-width spaces, ...) are dropped.
2. Apostrophe variants (``’ ‘ ʼ ´ ` ′``) become ``'``.
3. Bracketed annotations (``[tones]``, ``[@]``) are removed (``brackets="remove"``) or the text
   is left out (``"skip"``), or kept (``"keep"``). Parenthesised text is kept by default (the
   parentheses are punctuation); where a corpus writes its notes so (``(beep)``, ``Voce
   disattivata. (You are now muted.)``), ``parentheses="remove"`` removes it with its content
   and ``"skip"`` leaves the text out.
4. Digits: kept (``digits="keep"``), the text left out (``"skip"``), or numbers spelled out in
   ``language`` (``"verbalize"``, with the optional ``num2words`` package).
5. Spoken symbols (``# * % @ & / + = $ €`` and every Unicode symbol): the text is left out
   (``symbols="skip"``: a listener hears a word there that the text does not hold) or they are
   removed like punctuation (``"remove"``) or kept (``"keep"``).
6. Lower case (``lowercase``).
7. Punctuation (``punctuation="remove"``): every punctuation character becomes a space, except
   an apostrophe that follows a letter (``l'ora``, ``d'agent``, ``po'``, which stay words) and
   the characters of ``inner`` between two letters (e.g. ``inner="'-"`` keeps ``peut-être``).
   ``punctuation="keep"`` keeps it all.
8. Whitespace collapsed to single spaces, ends stripped.

Accented letters are always kept as characters (no accent stripping). ``__call__`` returns the
normalised text, or None when the text is to be left out (an option said "skip", or nothing is
left). The vocabulary of a model is then simply the characters of its normalised training text.

Command line (one text per line on stdin, normalised lines on stdout; left-out lines are
dropped, or printed empty with ``--keep-lines``)::

    python -m ctc.data.normalize --digits skip --symbols skip < raw.txt > text.txt
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from ctc.errors import InputError

APOSTROPHES = "’‘ʼ´`′ʹ"  # variants unified to "'"
SPOKEN_SYMBOLS = frozenset("#*%@&/+=$€£¥§°~^|<>\\")  # punctuation (Po) read aloud as words
MODES = {
    "punctuation": ("remove", "keep"),
    "digits": ("keep", "skip", "verbalize"),
    "symbols": ("skip", "remove", "keep"),
    "brackets": ("remove", "skip", "keep"),
    "parentheses": ("keep", "remove", "skip"),
    "form": ("NFC", "NFKC"),
}
_BRACKETED = re.compile(r"\[[^\]]*\]")
_PARENTHESISED = re.compile(r"\([^()]*\)")
_NUMBER = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_APOSTROPHE_TABLE = str.maketrans({c: "'" for c in APOSTROPHES})


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _is_symbol(char: str) -> bool:
    return char in SPOKEN_SYMBOLS or unicodedata.category(char).startswith("S")


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


@dataclass(frozen=True)
class TextNormalizer:
    """Transcript normalisation; see the module docstring for each option.

    Args:
        lowercase: lower-case the text (``str.lower``: ``ß`` stays ``ß``).
        punctuation: ``remove`` (to spaces) or ``keep``.
        inner: characters kept between two letters when punctuation is removed (the apostrophe
            after a letter is always kept).
        digits: ``keep``, ``skip`` (leave the text out) or ``verbalize`` (needs ``language``
            and the ``num2words`` package).
        language: language code for ``verbalize`` (``es``, ``fr``, ``it``, ``en``, ...).
        symbols: ``skip``, ``remove`` or ``keep`` for spoken symbols (see ``SPOKEN_SYMBOLS``).
        brackets: ``remove``, ``skip`` or ``keep`` for ``[...]`` annotations.
        parentheses: ``keep`` (the content stays, the marks are punctuation), ``remove`` or
            ``skip`` for ``(...)`` notes.
        form: Unicode normal form, ``NFC`` (default) or ``NFKC``.
    """

    lowercase: bool = True
    punctuation: str = "remove"
    inner: str = ""
    digits: str = "keep"
    language: str = ""
    symbols: str = "remove"
    brackets: str = "remove"
    parentheses: str = "keep"
    form: str = "NFC"

    def __post_init__(self) -> None:
        for name, allowed in MODES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise InputError(f"text normalisation: {name}={value!r} must be one of "
                                 f"{', '.join(allowed)}")
        if self.digits == "verbalize":
            if not self.language:
                raise InputError("text normalisation: digits=verbalize needs a language")
            _num2words()  # fail now, not at the first number

    def to_dict(self) -> dict[str, Any]:
        """The options, as keyword arguments of the constructor."""
        return asdict(self)

    def __call__(self, text: str) -> str | None:
        """The normalised ``text``, or None when it is to be left out."""
        text = unicodedata.normalize(self.form, text)
        text = "".join(c for c in text if c.isspace() or unicodedata.category(c) != "Cf")
        text = text.translate(_APOSTROPHE_TABLE)
        if self.brackets != "keep" and _BRACKETED.search(text):
            if self.brackets == "skip":
                return None
            text = _BRACKETED.sub(" ", text)
        if self.parentheses != "keep" and _PARENTHESISED.search(text):
            if self.parentheses == "skip":
                return None
            text = _PARENTHESISED.sub(" ", text)
        if self.digits != "keep" and _NUMBER.search(text):
            if self.digits == "skip":
                return None
            text = _NUMBER.sub(lambda m: f" {self._spell(int(m.group()))} ", text)
        if self.symbols == "skip" and any(_is_symbol(c) for c in text):
            return None
        if self.lowercase:
            text = text.lower()
        if self.punctuation == "remove" or self.symbols == "remove":
            text = self._strip_marks(text)
        text = _SPACES.sub(" ", text).strip()
        return text or None

    def _spell(self, number: int) -> str:
        try:
            return _num2words()(number, lang=self.language)
        except NotImplementedError:
            raise InputError(f"text normalisation: num2words cannot spell numbers in "
                             f"{self.language!r}") from None

    def _strip_marks(self, text: str) -> str:
        out = []
        for i, char in enumerate(text):
            symbol = _is_symbol(char)
            mark = symbol or _is_punctuation(char)
            if not mark or (symbol and self.symbols == "keep") or (
                    not symbol and self.punctuation == "keep"):
                out.append(char)
                continue
            before = text[i - 1] if i > 0 else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            if char == "'" and _is_letter(before):
                out.append(char)
            elif char in self.inner and _is_letter(before) and _is_letter(after):
                out.append(char)
            else:
                out.append(" ")
        return "".join(out)


def _num2words():
    try:
        from num2words import num2words
    except ImportError:
        raise InputError("text normalisation: digits=verbalize needs the num2words package "
                         "(pip install num2words, or the real-data extra)") from None
    return num2words


def only_notes(text: str) -> bool:
    """True when ``text`` holds ``[...]`` or ``(...)`` notes and nothing else but spaces
    (``[tones]``, ``(beep)``): an annotation, not a transcript."""
    rest = _PARENTHESISED.sub(" ", _BRACKETED.sub(" ", text))
    return rest != text and not rest.strip()


def normalize_text(text: str, **options: Any) -> str | None:
    """``TextNormalizer(**options)(text)``."""
    return TextNormalizer(**options)(text)


def main(argv: list[str] | None = None) -> int:
    """Normalise stdin line by line to stdout."""
    parser = argparse.ArgumentParser(description="Normalise transcripts, one per line.")
    parser.add_argument("--keep-case", action="store_true", help="do not lower-case")
    for name, allowed in MODES.items():
        default = TextNormalizer.__dataclass_fields__[name].default
        parser.add_argument(f"--{name}", choices=allowed, default=default,
                            help=f"default {default}")
    parser.add_argument("--inner", default="", help="characters kept between two letters")
    parser.add_argument("--language", default="", help="language of --digits verbalize")
    parser.add_argument("--keep-lines", action="store_true",
                        help="print an empty line for a left-out text (line numbers kept)")
    args = parser.parse_args(argv)
    try:
        norm = TextNormalizer(lowercase=not args.keep_case, punctuation=args.punctuation,
                              inner=args.inner, digits=args.digits, language=args.language,
                              symbols=args.symbols, brackets=args.brackets,
                              parentheses=args.parentheses, form=args.form)
    except InputError as err:
        print(f"normalize: error: {err}", file=sys.stderr)
        return 1
    for line in sys.stdin:
        text = norm(line)
        if text is not None:
            print(text)
        elif args.keep_lines:
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
