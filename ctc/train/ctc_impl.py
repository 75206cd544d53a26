"""The CTC loss the engine trains with, chosen by ``train.ctc_impl`` (``carousel`` | ``torch``).

Each gives per-utterance losses ``(N,)`` from batch-first scores ``(N, T, V)``, padded targets
``(N, S)`` and lengths ``(N,)``, with infeasible utterances at 0 (``zero_infinity``) so that they
add no gradient; the engine masks them out of the normalisation itself. The scores are what
``CTCLossFn.input`` names, and what the engine asks the model for
(``CTCModel.forward(x, lengths, output=loss.input)``):

* ``carousel`` takes the model's logits and normalises them inside the kernel
  (``ctc.loss.ctc_loss_from_logits``): the same loss and the same gradient w.r.t. the logits as
  ``log_softmax`` followed by the loss (``softmax - occupancy`` per frame), without the
  log_softmax tensor, its backward, or a second pass over the ``(N, T, V)`` scores.
* ``torch`` takes log-probabilities (``torch.nn.functional.ctc_loss``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ctc.errors import CarouselError

CTC_IMPLS = ("carousel", "torch")
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class CTCLossFn:
    """A per-utterance CTC loss and the model output it takes.

    ``input``: ``"logits"`` or ``"log_probs"``, a value of ``CTCModel.forward``'s ``output``.
    Calling it: ``(scores (N, T, V), targets (N, S), input_lengths (N,), target_lengths (N,))
    -> losses (N,)``.
    """

    name: str
    input: str
    fn: LossFn

    def __call__(self, scores: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
                 target_lengths: torch.Tensor) -> torch.Tensor:
        return self.fn(scores, targets, input_lengths, target_lengths)


def _torch_ctc(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
               target_lengths: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, input_lengths,
                                        target_lengths, blank=0, reduction="none",
                                        zero_infinity=True)


def get_ctc_loss(impl: str, from_logits: bool = True) -> CTCLossFn:
    """The loss for ``impl``; CarouselError when carousel's loss is not available.

    ``from_logits=False`` makes carousel's loss take log-probabilities (the unfused path, kept
    for comparisons such as ``tools/bench_train.py``); torch's always does.
    """
    if impl == "torch":
        return CTCLossFn("torch", "log_probs", _torch_ctc)
    if impl != "carousel":
        raise CarouselError(f"train.ctc_impl must be one of {CTC_IMPLS}, got {impl!r}")
    try:
        from ctc.loss import ctc_loss, ctc_loss_from_logits
    except ImportError as err:
        raise CarouselError(
            f"train.ctc_impl=carousel needs ctc.loss.ctc_loss, which is not available ({err}); "
            "build the extension (`make build`) or set train.ctc_impl=torch") from None
    fn = ctc_loss_from_logits if from_logits else ctc_loss

    def carousel_ctc(scores: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
                     target_lengths: torch.Tensor) -> torch.Tensor:
        return fn(scores, targets, input_lengths, target_lengths, blank=0, reduction="none",
                  zero_infinity=True, batch_first=True)

    return CTCLossFn("carousel", "logits" if from_logits else "log_probs", carousel_ctc)
