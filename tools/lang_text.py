"""Text of one language for a small corpus: normalised, held-out texts removed, and an LM text.

Shared by ``tools/synth_espeak_lang.py`` (what generated voices say) and the Asterisk recipe's
LM (``recipes/asterisk/run.sh LM_MORE_TEXT=mo``). As a program it writes an n-gram LM's
training text: the corpus's training transcripts (``--text``, repeated ``--repeat`` times, so
that their word sequences keep their weight) followed by more text of the language
(``--more-text FILE``; ``mo``: the translated messages of the installed gettext catalogues,
``/usr/share/locale/LANG/LC_MESSAGES/*.mo``; ``man``: the installed manual pages of the
language, ``/usr/share/man/LANG/man*/``, e.g. Debian's ``manpages-LANG``, rendered by groff),
never a sentence that is, or holds, a held-out text (``--exclude``, e.g. ``heldout-text.txt``).

Usage: ``python tools/lang_text.py --lang fr --text data/asterisk-fr/lm-text.txt --exclude
data/asterisk-fr/heldout-text.txt --more-text mo --out data/asterisk-fr/lm-text-more.txt``.
"""

from __future__ import annotations

import argparse
import gettext
import glob
import gzip
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctc.data.normalize import TextNormalizer
from ctc.errors import InputError
from ctc.io import atomic_write_text

ALPHABETS = {"es": "áéíóúüñ", "fr": "àâæçéèêëîïôœùûüÿ", "it": "àèéìíîòóùú", "de": "äöüß",
             "pt": "áâãàçéêíóôõú", "en": ""}
_BAD_MESSAGE = re.compile(r"[%{}<>_=/\\@#$&*+|~^\[\]\d]|--|\bhttps?\b")
# words of English that are none of the other languages': an untranslated passage of a manual
_ENGLISH = re.compile(r"\b(?:the|and|of|with|this|that|which|is|are|will|you|your|when|should)\b",
                      re.IGNORECASE)


def normalizer() -> TextNormalizer:
    return TextNormalizer(digits="skip", symbols="skip", brackets="skip")


def read_lines(path: Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file; InputError naming the file otherwise."""
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read ({err})") from None


def catalogue_sentences(lang: str, locale_root: Path = Path("/usr/share/locale")) -> list[str]:
    """Raw sentences of the translated messages in ``LOCALE_ROOT/LANG/LC_MESSAGES/*.mo``."""
    out = []
    for path in sorted(glob.glob(str(locale_root / lang / "LC_MESSAGES" / "*.mo"))):
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except Exception:  # an unreadable or malformed catalogue (gettext raises many types)
            continue
        for key, value in catalog.items():
            if not key or not isinstance(value, str):
                continue
            for piece in re.split(r"[\n.!?:;]+", value):
                piece = piece.strip()
                if piece and not _BAD_MESSAGE.search(piece):
                    out.append(piece)
    return out


# groff's plain-text rendering with one output line per paragraph: no line length to fill to,
# no hyphenation, no overstriking or escape sequences
_GROFF_TEXT = ["-man", "-Tutf8", "-Kutf8", "-rLL=30000n", "-rHY=0", "-P-cbou"]


def manpage_sentences(lang: str, man_root: Path = Path("/usr/share/man")) -> list[str]:
    """Raw sentences of the manual pages in ``MAN_ROOT/LANG/man*/`` (Debian's ``manpages-LANG``
    and the translated pages of other packages), rendered to plain text by groff; pages that
    only include another (``.so``), that cannot be read or that groff cannot render (in two
    minutes) are skipped."""
    pages = sorted(p for p in (man_root / lang).glob("man*/*") if p.is_file())
    if not pages:
        raise InputError(f"{man_root / lang}: no manual pages in {lang} (apt-get install "
                         f"manpages-{lang})")
    groff = shutil.which("groff")
    if groff is None:
        raise InputError("groff not found: the 'man' text renders manual pages with it "
                         "(apt-get install groff-base)")
    out = []
    for path in pages:
        for line in (_rendered_page(groff, path) or "").splitlines():
            for piece in re.split(r"[.!?:;]+(?:\s|$)", line):
                piece = piece.strip()
                if piece and not _BAD_MESSAGE.search(piece) and not _ENGLISH.search(piece):
                    out.append(piece)
    return out


def _rendered_page(groff: str, path: Path) -> str | None:
    """One manual page (gzipped or not) as plain text; None for a ``.so`` link, a page that
    cannot be read, or one groff fails on or takes over two minutes to render."""
    try:
        source = path.read_bytes()
        if path.suffix == ".gz":
            source = gzip.decompress(source)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if source.lstrip().startswith(b".so "):
        return None
    try:
        rendered = subprocess.run([groff, *_GROFF_TEXT], input=source, capture_output=True,
                                  timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return None
    return rendered.stdout.decode("utf-8", "replace") if rendered.returncode == 0 else None


def clean_texts(lines: list[str], allowed: set[str], min_words: int = 1,
                max_words: int = 30) -> list[str]:
    """Normalised, de-duplicated lines within the allowed characters and lengths."""
    norm = normalizer()
    seen, out = set(), []
    for line in lines:
        text = norm(line)
        if not text or text in seen or not min_words <= len(text.split()) <= max_words:
            continue
        if set(text) - allowed:
            continue
        seen.add(text)
        out.append(text)
    return out


def held_out_filter(held_out: list[str]):
    """A predicate: True when a sentence may be spoken (it is no held-out text and holds none
    of at least three words)."""
    exact = set(held_out)
    long_ones = [f" {h} " for h in held_out if len(h.split()) >= 3]

    def allowed(sentence: str) -> bool:
        if sentence in exact:
            return False
        padded = f" {sentence} "
        return not any(h in padded for h in long_ones)

    return allowed




def language_chars(lang: str, texts: list[str]) -> set[str]:
    """The characters a text of ``lang`` may hold: a-z, apostrophe, space, the language's
    accented letters and whatever ``texts`` (the training transcripts) hold."""
    return set("abcdefghijklmnopqrstuvwxyz' ") | set(ALPHABETS.get(lang, "")) | set(
        "".join(texts))


def held_out_texts(paths: list[Path], allowed: set[str]) -> list[str]:
    """The normalised held-out texts of ``paths`` (one per line)."""
    return [h for p in paths for h in clean_texts(read_lines(p), allowed | set(
        "".join(read_lines(p))), 1, 1000)]


def more_texts(lang: str, sources: list[str]) -> list[str]:
    """Raw sentences of ``sources``: files, one sentence per line, ``mo`` (the catalogues) or
    ``man`` (the manual pages)."""
    out: list[str] = []
    for source in sources:
        if source == "mo":
            out += catalogue_sentences(lang)
        elif source == "man":
            out += manpage_sentences(lang)
        else:
            out += read_lines(Path(source))
    return out


def lm_text(lang: str, text: Path, more_text: list[str], exclude: list[Path],
            repeat: int = 5, min_words: int = 2, max_words: int = 30) -> tuple[list[str], int]:
    """The LM's lines (the transcripts ``repeat`` times, then the other sentences) and how many
    other sentences there are."""
    raw = read_lines(text)
    allowed = language_chars(lang, raw)
    train = clean_texts(raw, allowed, 1, 1000)
    may_use = held_out_filter(held_out_texts(exclude, allowed))
    known = set(train)
    extra = [t for t in clean_texts(more_texts(lang, more_text), allowed, min_words, max_words)
             if may_use(t) and t not in known]
    return [t for t in train if may_use(t)] * repeat + extra, len(extra)


def add_text_arguments(parser: argparse.ArgumentParser, use: str = "use") -> None:
    """--text, --more-text and --exclude, as this program and synth_espeak_lang take them."""
    parser.add_argument("--text", type=Path, required=True,
                        help="training transcripts, one per line (e.g. lm-text.txt)")
    parser.add_argument("--more-text", action="append", default=[],
                        help="more text: a file (one sentence per line), 'mo' (the installed "
                             "gettext catalogues of the language) or 'man' (its installed "
                             "manual pages); repeatable")
    parser.add_argument("--exclude", type=Path, action="append", default=[],
                        help=f"held-out texts never to {use} (e.g. heldout-text.txt)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", required=True)
    add_text_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5,
                        help="times the training transcripts are written (their weight)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.repeat < 1:
            raise InputError(f"--repeat {args.repeat}: must be >= 1")
        lines, extra = lm_text(args.lang, args.text, args.more_text, args.exclude, args.repeat)
    except InputError as err:
        print(f"lang_text: error: {err}", file=sys.stderr)
        return 1
    atomic_write_text(args.out, "".join(f"{line}\n" for line in lines))
    print(f"{args.out}: {len(lines) - extra} transcript lines ({args.repeat}x), {extra} more "
          "sentences of the language")
    return 0


if __name__ == "__main__":
    sys.exit(main())
