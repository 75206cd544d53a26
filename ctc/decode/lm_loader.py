"""Loading word n-gram LMs for the compiled decoder (ARPA, optionally gzipped, or KenLM binary),
cached by path."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from ctc._ext import load_extension
from ctc.errors import InputError
from ctc.lm.arpa import is_kenlm_binary
from ctc.lm.kenlm_binary import kenlm_binary_to_arpa

_CACHE: dict[tuple[str, float, int], Any] = {}
_LOCK = threading.Lock()


def load_ngram_lm(path: str | os.PathLike) -> Any:
    """The extension's ``NGramLM`` for an ARPA file (``.arpa`` or ``.arpa.gz``) or a KenLM binary.

    A KenLM binary is read by :func:`ctc.lm.kenlm_binary.read_kenlm_binary` (every format
    ``build_binary`` writes; probing files only with moderate vocabularies) and handed to the
    table through a temporary ARPA file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"language model not found: {path}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        ext = load_extension()
        try:
            if is_kenlm_binary(path):
                with tempfile.TemporaryDirectory() as tmp:
                    arpa = Path(tmp) / "lm.arpa"
                    kenlm_binary_to_arpa(path, arpa)
                    lm = _read(ext, arpa, path)
            elif path.suffix == ".gz":
                with tempfile.NamedTemporaryFile(suffix=".arpa") as tmp:
                    try:
                        with gzip.open(path, "rb") as src:
                            shutil.copyfileobj(src, tmp)
                    except (OSError, EOFError) as err:
                        raise InputError(f"{path}: not a readable gzip file ({err})") from None
                    tmp.flush()
                    lm = _read(ext, Path(tmp.name), path)
            else:
                lm = _read(ext, path, path)
        except RuntimeError as err:
            raise InputError(f"cannot read language model: {err}") from None
        _CACHE.clear()  # keep one model in memory
        _CACHE[key] = lm
        return lm


def _read(ext: Any, file: Path, shown: Path) -> Any:
    """The compiled table of the ARPA ``file``; errors name ``shown`` (the user's file, not a
    temporary copy of it)."""
    try:
        return ext.NGramLM(str(file))
    except RuntimeError as err:
        raise InputError(f"cannot read language model: {str(err).replace(str(file), str(shown))}"
                         ) from None
