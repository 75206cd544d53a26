"""User-facing errors: one line naming the input, never a traceback."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable


class CarouselError(Exception):
    """An error caused by the user's input (file, option, data); printed as one line."""


class InputError(CarouselError, ValueError):
    """A bad input file or value: the message names it."""


Main = Callable[[list[str] | None], int]


def cli_entry(prog: str) -> Callable[[Main], Main]:
    """Decorator for a command's ``main``: CarouselError, KeyboardInterrupt and BrokenPipe give
    one line starting with ``prog`` (``asr``, ``htr``, ``ctc``).

    Unexpected exceptions still show a traceback: they are bugs, not user errors.
    """
    return functools.partial(_wrap, prog=prog)


def _wrap(main: Main, prog: str) -> Main:
    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except CarouselError as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `asr transcribe ... | head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141

    return wrapper
