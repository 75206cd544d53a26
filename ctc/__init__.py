"""carousel core: CTC loss, encoders, training engine, decoding and metrics.

The compiled extension is imported lazily, so that pure-Python parts (manifests, metrics,
LM building) work even where it has not been built.
"""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("ctc_loss", "CTCLoss"):
        from ctc import loss

        return getattr(loss, name)
    raise AttributeError(f"module 'ctc' has no attribute {name!r}")
