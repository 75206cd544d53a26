"""The CTC loss the engine trains with, chosen by ``train.ctc_impl`` (``carousel`` | ``torch``).

Both give per-utterance losses ``(N,)`` from batch-first log-probabilities ``(N, T, V)``, padded
targets ``(N, S)`` and lengths ``(N,)``, with infeasible utterances at 0 (``zero_infinity``) so
that they add no gradient; the engine masks them out of the normalisation itself.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ctc.errors import CarouselError

CTC_IMPLS = ("carousel", "torch")
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _torch_ctc(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
               target_lengths: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, input_lengths,
                                        target_lengths, blank=0, reduction="none",
                                        zero_infinity=True)


def get_ctc_loss(impl: str) -> LossFn:
    """The loss function for ``impl``; CarouselError when carousel's loss is not available."""
    if impl == "torch":
        return _torch_ctc
    if impl != "carousel":
        raise CarouselError(f"train.ctc_impl must be one of {CTC_IMPLS}, got {impl!r}")
    try:
        from ctc.loss import ctc_loss
    except ImportError as err:
        raise CarouselError(
            f"train.ctc_impl=carousel needs ctc.loss.ctc_loss, which is not available ({err}); "
            "build the extension (`make build`) or set train.ctc_impl=torch") from None

    def carousel_ctc(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
                     target_lengths: torch.Tensor) -> torch.Tensor:
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0,
                        reduction="none", zero_infinity=True, batch_first=True)

    return carousel_ctc
