"""Access to the compiled extension ``ctc._C`` with a clear message when it was not built."""

from __future__ import annotations

from types import ModuleType

_MESSAGE = (
    "carousel's compiled extension ctc._C is not built ({err}). Build it with "
    "`pip install --no-build-isolation -e .` (after `pip install torch==2.13.0`), "
    "or run `make build`."
)


def load_extension() -> ModuleType:
    """Return the compiled module ``ctc._C``; ImportError with build instructions if absent."""
    import torch  # noqa: F401  (loads libtorch before the extension)

    try:
        from ctc import _C
    except ImportError as err:  # pragma: no cover - exercised only on broken installs
        raise ImportError(_MESSAGE.format(err=err)) from err
    return _C
