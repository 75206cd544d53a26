"""Character accuracy by Unicode script and by general category, and the most frequent
character confusions: what an HTR user checks first (is it the diacritics, the digits, the
Greek passages?), as kraken's ``ketos test`` reports them.

Works on ``(reference, hypothesis)`` text pairs of any modality. Each pair is aligned character
by character (``ctc.metrics.alignment.align``, minimum edit distance); a reference character is
an error when it is substituted or deleted, and counts for its script (Unicode Script property,
ISO 15924 names, from fontTools' Unicode data: ``Latin``, ``Greek``, ``Han``, ``Common`` for
spaces, digits and punctuation shared by scripts, ``Inherited`` for combining marks) and its
general category (``Ll`` lowercase letter, ``Nd`` decimal digit, ``Mn`` nonspacing mark, ...).
Inserted characters count for the script and category of what was inserted. Accuracy is
``(characters - errors) / characters`` per group (insertions are listed, not subtracted:
they belong to no reference character).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from fontTools import unicodedata as font_unicode

from ctc.metrics.alignment import SPACE_MARK, align

CATEGORY_NAMES = {
    "Lu": "uppercase letter", "Ll": "lowercase letter", "Lt": "titlecase letter",
    "Lm": "modifier letter", "Lo": "other letter", "Mn": "nonspacing mark",
    "Mc": "spacing mark", "Me": "enclosing mark", "Nd": "decimal digit", "Nl": "letter number",
    "No": "other number", "Pc": "connector punctuation", "Pd": "dash", "Ps": "open punctuation",
    "Pe": "close punctuation", "Pi": "initial quote", "Pf": "final quote",
    "Po": "other punctuation", "Sm": "math symbol", "Sc": "currency symbol",
    "Sk": "modifier symbol", "So": "other symbol", "Zs": "space", "Zl": "line separator",
    "Zp": "paragraph separator", "Cc": "control", "Cf": "format", "Cs": "surrogate",
    "Co": "private use", "Cn": "unassigned",
}


def script_of(char: str) -> str:
    """The Unicode script of ``char`` by its long name (``Latin``, ``Han``, ``Common``)."""
    return font_unicode.script_name(font_unicode.script(char), default="Unknown")


def category_of(char: str) -> str:
    """``Ll (lowercase letter)``: the general category of ``char`` and its name."""
    code = unicodedata.category(char)
    return f"{code} ({CATEGORY_NAMES.get(code, code)})"


class _Groups:
    """Characters, errors and insertions per group name."""

    def __init__(self) -> None:
        self.chars: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.insertions: Counter[str] = Counter()

    def rows(self, key: str) -> list[dict[str, Any]]:
        names = sorted(set(self.chars) | set(self.insertions),
                       key=lambda n: (-self.chars[n], -self.insertions[n], n))
        return [{key: name, "chars": self.chars[name], "errors": self.errors[name],
                 "accuracy": ((self.chars[name] - self.errors[name]) / self.chars[name]
                              if self.chars[name] else None),
                 "insertions": self.insertions[name]} for name in names]


def char_statistics(pairs: Iterable[tuple[str, str]], top: int = 20) -> dict[str, Any]:
    """Accuracy by script and by category over ``(reference, hypothesis)`` pairs, and the
    ``top`` most frequent confusions ``[reference, hypothesis, count]`` (an empty string on one
    side for a deletion or an insertion). JSON-ready."""
    scripts, categories = _Groups(), _Groups()
    confusions: Counter[tuple[str, str]] = Counter()
    for ref, hyp in pairs:
        if ref == hyp:
            for char in ref:
                scripts.chars[script_of(char)] += 1
                categories.chars[category_of(char)] += 1
            continue
        for op, r, h in align(list(ref), list(hyp)):
            if r is not None:
                scripts.chars[script_of(r)] += 1
                categories.chars[category_of(r)] += 1
            if op in ("S", "D"):
                scripts.errors[script_of(r)] += 1
                categories.errors[category_of(r)] += 1
            elif op == "I":
                scripts.insertions[script_of(h)] += 1
                categories.insertions[category_of(h)] += 1
            if op != "C":
                confusions[(r or "", h or "")] += 1
    chars = sum(scripts.chars.values())
    errors = sum(scripts.errors.values())
    return {"chars": chars, "errors": errors,
            "accuracy": (chars - errors) / chars if chars else None,
            "insertions": sum(scripts.insertions.values()),
            "scripts": scripts.rows("script"), "categories": categories.rows("category"),
            "confusions": [[r, h, n] for (r, h), n in confusions.most_common(top)]}


def _show(char: str) -> str:
    if not char:
        return "(none)"
    shown = SPACE_MARK if char == " " else char
    if unicodedata.category(char).startswith("M"):
        shown = "\u25cc" + char  # a combining mark on a dotted circle
    return "`" + shown.replace("|", "\\|").replace("`", "\\`") + f"` U+{ord(char):04X}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def markdown(stats: dict[str, Any]) -> str:
    """The statistics as Markdown sections (script and category tables, confusions)."""
    lines = ["## Character accuracy by script", "",
             f"{stats['chars']} reference characters, {stats['errors']} errors (substituted "
             f"or deleted), {stats['insertions']} inserted: accuracy "
             f"{_pct(stats['accuracy'])}%.", "",
             "| script | characters | errors | accuracy % | inserted |", "|---|---|---|---|---|"]
    lines += [f"| {r['script']} | {r['chars']} | {r['errors']} | {_pct(r['accuracy'])} | "
              f"{r['insertions']} |" for r in stats["scripts"]]
    lines += ["", "## Character accuracy by Unicode category", "",
              "| category | characters | errors | accuracy % | inserted |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['category']} | {r['chars']} | {r['errors']} | {_pct(r['accuracy'])} | "
              f"{r['insertions']} |" for r in stats["categories"]]
    lines += ["", "## Most frequent character confusions", "",
              "| reference | recognised | count |", "|---|---|---|"]
    lines += [f"| {_show(r)} | {_show(h)} | {n} |" for r, h, n in stats["confusions"]]
    return "\n".join(lines) + "\n"


def report_section(results: Sequence[Any], normalizer: Any = None, top: int = 20
                   ) -> tuple[dict[str, Any], str]:
    """For ``ctc.metrics.report``: the statistics of scored utterances (``.ref``, ``.hyp``,
    normalised by ``normalizer`` as the report scores them) and their Markdown section."""
    if normalizer is None:
        from ctc.metrics.normalize import TextNormalizer

        normalizer = TextNormalizer()
    stats = char_statistics(((normalizer(r.ref), normalizer(r.hyp)) for r in results), top)
    return stats, "\n" + markdown(stats)
