"""Text normalisation applied to references and hypotheses alike before scoring."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from ctc.errors import InputError

OPTION_NAMES = ("lower", "punct", "nfkc", "whitespace")


@functools.cache
def _punctuation_table() -> dict[int, None]:
    """Every Unicode punctuation code point (categories P*) except the apostrophe, deleted."""
    return {cp: None for cp in range(sys.maxunicode + 1)
            if unicodedata.category(chr(cp)).startswith("P") and chr(cp) != "'"}


_OUTER_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


@dataclass(frozen=True)
class TextNormalizer:
    """Normalisation steps, applied in this order when enabled.

    ``nfkc``: Unicode NFKC (compatibility forms, e.g. ligatures and full-width letters);
    ``lower``: lower-case; ``punct``: delete Unicode punctuation, keeping apostrophes inside
    words ("don't"); ``whitespace``: collapse runs of whitespace to one space and strip the ends.
    Word splitting always ignores extra whitespace, so ``whitespace`` only changes character scores.
    """

    lower: bool = False
    punct: bool = False
    nfkc: bool = False
    whitespace: bool = True

    @classmethod
    def from_names(cls, names: str | list[str] | tuple[str, ...] | None) -> TextNormalizer:
        """Parse ``"lower,punct"`` or ``["lower", "punct"]``; ``"none"`` turns everything off."""
        if names is None:
            return cls()
        if isinstance(names, str):
            names = [names]
        chosen = [n.strip() for item in names for n in item.split(",") if n.strip()]
        if "none" in chosen:
            if len(chosen) > 1:
                raise InputError("--normalize none cannot be combined with other options")
            return cls(whitespace=False)
        unknown = sorted(set(chosen) - set(OPTION_NAMES))
        if unknown:
            raise InputError(f"unknown normalisation {', '.join(unknown)}; "
                             f"choose from {', '.join(OPTION_NAMES)} or none")
        return cls(**{name: True for name in chosen})

    def __call__(self, text: str) -> str:
        if self.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if self.lower:
            text = text.lower()
        if self.punct:
            text = _OUTER_APOSTROPHE.sub("", text.translate(_punctuation_table()))
        if self.whitespace:
            text = " ".join(text.split())
        return text

    @property
    def is_identity(self) -> bool:
        return not (self.lower or self.punct or self.nfkc or self.whitespace)

    def describe(self) -> str:
        """One line stating what was done to both sides, for the report."""
        steps = []
        if self.nfkc:
            steps.append("Unicode NFKC")
        if self.lower:
            steps.append("lower-cased")
        if self.punct:
            steps.append("punctuation removed (apostrophes inside words kept)")
        if self.whitespace:
            steps.append("whitespace collapsed")
        return "; ".join(steps) if steps else "none (texts scored as given)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.describe()}
