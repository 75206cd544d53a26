"""Atomic file output: write to a temporary file beside the target, fsync, then rename.

The result has the permissions a plain ``open(path, "w")`` would give: those of the file it
replaces, or ``0o666`` less the process's umask for a new file (the temporary file itself is
created ``0o600`` by ``mkstemp``). Leftover temporaries of killed writers match
``.NAME.*.tmp`` (:func:`remove_orphan_temporaries`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


def _read_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _final_mode(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def remove_orphan_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete temporaries left by writers killed mid-write (``.NAME.*.tmp``, or any ``.*.tmp``
    when ``name`` is None) in ``folder``; return what was removed."""
    pattern = f".{name}.*.tmp" if name else ".*.tmp"
    removed = []
    for path in Path(folder).glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open ``path`` for writing so that readers see either the old file or the complete new one.

    The data goes to a temporary file in the same directory, which is flushed, fsynced and
    renamed over ``path`` only when the block exits without an exception.
    """
    if "r" in mode or "a" in mode:
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} is not supported")
    from ctc.errors import InputError

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"cannot write {target}: {target.parent} (or a folder above it) "
                         "exists and is not a folder") from None
    except PermissionError:
        raise InputError(f"cannot write {target}: permission denied") from None
    if target.is_dir():
        os.close(fd)
        os.unlink(tmp)
        raise InputError(f"cannot write {target}: it is a folder")
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), _final_mode(target))
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically."""
    import torch

    with atomic_open(path, "wb") as handle:
        torch.save(obj, handle)


def read_text_lines(path: str | os.PathLike, *, strict: bool = True,
                    bad: list[str] | None = None) -> list[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file (a BOM is dropped, line ends stripped).

    A line that is not UTF-8 raises InputError naming ``file:line`` and the byte, or, with
    ``strict=False``, is left out and its message appended to ``bad``. A missing or unreadable
    file raises InputError.
    """
    from ctc.errors import InputError

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a text file") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            message = (f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column "
                       f"{err.start + 1}; convert the file, e.g. iconv -f latin1 -t utf-8)")
            if strict:
                raise InputError(message) from None
            if bad is not None:
                bad.append(message)
            continue
        out.append((lineno, line.rstrip("\r")))
    if out and out[-1][1] == "" and data.endswith(b"\n"):
        out.pop()  # the final newline ends the last line; it does not start another
    return out


def unique_names(stems: Iterable[str], suffix: str = "") -> list[str]:
    """``stem + suffix`` for each stem, ``stem-2 + suffix``, ``stem-3 + suffix``, ... where a
    stem repeats (output files and ids of inputs that share a file name)."""
    names: list[str] = []
    used: set[str] = set()
    for stem in stems:
        name, n = f"{stem}{suffix}", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}{suffix}"
        used.add(name)
        names.append(name)
    return names
