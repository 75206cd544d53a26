"""``CTCLoss``: the module form of ``ctc.loss.functional.ctc_loss``."""

from __future__ import annotations

import torch
from torch import nn

from ctc.loss.functional import Lengths, ctc_loss, ctc_loss_from_logits


class CTCLoss(nn.Module):
    """CTC loss with the options of ``torch.nn.CTCLoss``; drop-in for it.

    With ``from_logits=True`` the input is raw logits ``(T, N, C)`` and log_softmax is fused into
    the kernel (gradient ``softmax - occupancy``); otherwise the input is log-probabilities and
    the gradient is the exact ``-occupancy`` (see ``ctc.loss.functional``).
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False,
                 batch_first: bool = False, from_logits: bool = False) -> None:
        super().__init__()
        self.blank = blank
        self.reduction = reduction
        self.zero_infinity = zero_infinity
        self.batch_first = batch_first
        self.from_logits = from_logits

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, input_lengths: Lengths,
                target_lengths: Lengths) -> torch.Tensor:
        """``inputs (T, N, C)`` (or ``(N, T, C)``) -> loss; see ``ctc.loss.ctc_loss``."""
        fn = ctc_loss_from_logits if self.from_logits else ctc_loss
        return fn(inputs, targets, input_lengths, target_lengths, blank=self.blank,
                  reduction=self.reduction, zero_infinity=self.zero_infinity,
                  batch_first=self.batch_first)

    def extra_repr(self) -> str:
        return (f"blank={self.blank}, reduction={self.reduction!r}, "
                f"zero_infinity={self.zero_infinity}, batch_first={self.batch_first}, "
                f"from_logits={self.from_logits}")
