"""Training metrics: JSONL log, TensorBoard when installed, and a PNG of the curves."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

from ctc.io import atomic_open


class MetricsLog:
    """Appends one JSON object per line to ``path``; mirrors scalars to TensorBoard if present.

    ``truncate_after(step)`` drops rows written after a checkpoint, for resumed runs.
    """

    def __init__(self, path: Path, tensorboard_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self.writer = None
            else:
                self.writer = SummaryWriter(str(tensorboard_dir))

    def rows(self) -> list[dict[str, Any]]:
        """The rows written so far; a line torn by a killed process is left out."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def truncate_after(self, step: int) -> None:
        kept = [r for r in self.rows() if r.get("step", 0) <= step]
        with atomic_open(self.path, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in kept)

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, int | float) and key not in ("step", "epoch"):
                    self.writer.add_scalar(f"{row.get('kind', 'train')}/{key}", value,
                                           row.get("step", 0))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_curves(rows: list[dict[str, Any]], path: Path) -> bool:
    """Plot training loss by step and validation loss/CER/WER by epoch; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    train = [r for r in rows if r.get("kind") == "train" and math.isfinite(r.get("loss", math.nan))]
    valid = [r for r in rows if r.get("kind") == "valid" and "cer" in r]
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 4))
    if train:
        ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], label="train")
    if valid:
        ax_loss.plot([r["step"] for r in valid], [r["loss"] for r in valid], "o-", label="valid")
        for key in ("cer", "wer"):
            ax_err.plot([r["epoch"] for r in valid], [100 * r[key] for r in valid], "o-",
                        label=key.upper())
    ax_loss.set(xlabel="step", ylabel="CTC loss", title="loss")
    ax_err.set(xlabel="epoch", ylabel="%", title="validation error rates")
    for ax in (ax_loss, ax_err):
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return True
