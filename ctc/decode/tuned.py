"""``lm_tuned.json``: the LM weight and word bonus ``ctc tune-lm`` found for one LM file.

The file sits in the model's experiment folder; ``{"alpha", "beta", "lm", "wer", ...}``. It is
read only here: by the decoding commands (:func:`tuned_weights`, which applies the pair only to
the LM it was tuned for) and by the recipes, through ``python -m ctc.decode.tuned FILE``, which
prints ``ALPHA BETA``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ctc.errors import InputError

TUNED_FILE = "lm_tuned.json"


def read_tuned(path: str | os.PathLike) -> dict:
    """The tuned record in ``path``; InputError if it is missing or not a tuned record."""
    path = Path(path)
    try:
        tuned = json.loads(path.read_text(encoding="utf-8"))
        float(tuned["alpha"]), float(tuned["beta"])
    except FileNotFoundError:
        raise InputError(f"tuned weights not found: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: not an lm_tuned.json written by ctc tune-lm ({err})") from None
    return tuned


def tuned_weights(model: str | os.PathLike, lm: str | os.PathLike) -> tuple[float, float] | None:
    """(alpha, beta) from the ``lm_tuned.json`` beside ``model`` (an experiment folder or a
    checkpoint inside one) if it was tuned for the file ``lm``, else None."""
    folder = Path(model) if Path(model).is_dir() else Path(model).parent
    path = folder / TUNED_FILE
    if not path.is_file():
        return None
    try:
        tuned = read_tuned(path)
        same_lm = os.path.samefile(tuned["lm"], lm)
    except (InputError, OSError, KeyError, TypeError):
        return None
    return (float(tuned["alpha"]), float(tuned["beta"])) if same_lm else None


def main(argv: list[str] | None = None) -> int:
    """``python -m ctc.decode.tuned FILE``: print ``ALPHA BETA`` (for shell scripts)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ctc.decode.tuned EXPDIR/lm_tuned.json", file=sys.stderr)
        return 2
    try:
        tuned = read_tuned(args[0])
    except InputError as err:
        print(f"ctc: error: {err}", file=sys.stderr)
        return 1
    print(tuned["alpha"], tuned["beta"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
