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


def cli_entry(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Wrap a command's ``main`` so CarouselError, KeyboardInterrupt and BrokenPipe give one line.

    Unexpected exceptions still show a traceback: they are bugs, not user errors.
    """

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        prog = getattr(main, "__module__", "carousel").split(".")[0]
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
