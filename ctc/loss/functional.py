"""CTC loss over our compiled forward-backward (``ctc._C.ctc_loss``), swap-in for torch's.

Dimension legend: ``T`` frames, ``N`` utterances, ``C`` classes (blank included), ``S`` longest
target. Devices: CPU (OpenMP); CUDA when the extension was built with it. Autograd: first order.

Gradients (what ``backward`` returns; this differs from ``torch.nn.functional.ctc_loss``):

* ``ctc_loss`` (input: log-probabilities ``y``) returns the exact ``d loss / d y[t, n, k] =
  -w_n * gamma_t(k)``, the negated occupancy (posterior probability that frame ``t`` of utterance
  ``n`` emits ``k``) times the reduction weight ``w_n``. It assumes nothing about ``y`` being
  normalised, so ``torch.autograd.gradcheck`` holds on ``y`` directly, and chained through
  ``log_softmax`` it gives the usual ``softmax - gamma``. PyTorch's own backward returns
  ``exp(y) - gamma``, which is only right *through* log_softmax.
* ``ctc_loss_from_logits`` (input: raw logits ``z``) applies log_softmax inside the kernel and
  returns ``d loss / d z = w_n * (softmax(z_t) - gamma_t)``, without materialising log_softmax.

Frames at or after an utterance's input length get a zero gradient. An infeasible utterance
(fewer frames than target length plus adjacent repeats) has loss ``inf`` (``0`` with
``zero_infinity``) and a zero gradient. NaN in is NaN out: an utterance whose scores hold a NaN
that the loss reads (any class of its frames for logits; its label classes and blank for
log-probabilities, the only ones the loss depends on) has loss NaN and a NaN gradient, also
with ``zero_infinity``, which replaces infinities only. An empty batch has loss 0 with
``"mean"`` and ``"sum"``. The gradient is computed in the forward call
(as warp-ctc does) and scaled by ``grad_output`` in backward.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.autograd.function import once_differentiable

from ctc._ext import load_extension

_REDUCTIONS = ("none", "mean", "sum")
_NUMERICS = {"auto": 0, "log": 1}

Lengths = torch.Tensor | Sequence[int]


def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: Lengths,
    target_lengths: Lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    batch_first: bool = False,
) -> torch.Tensor:
    """CTC negative log-likelihood, with the arguments of ``torch.nn.functional.ctc_loss``.

    Args:
        log_probs: ``(T, N, C)`` log-probabilities (``(N, T, C)`` with ``batch_first``),
            float32 or float64.
        targets: padded ``(N, S)`` or concatenated ``(sum(target_lengths),)``, int32 or int64;
            labels in ``[0, C)`` and never ``blank``.
        input_lengths: ``(N,)`` frames per utterance, each in ``[0, T]``.
        target_lengths: ``(N,)`` labels per utterance.
        blank: index of the blank class.
        reduction: ``"none"`` gives ``(N,)`` losses; ``"sum"`` their sum; ``"mean"`` divides each
            loss by ``max(target_length, 1)`` and averages over the batch.
        zero_infinity: replace infinite losses (infeasible utterances) by 0.
        batch_first: ``log_probs`` is ``(N, T, C)``.

    Returns:
        The loss, in the dtype of ``log_probs``. Its gradient w.r.t. ``log_probs`` is the exact
        ``-w_n * occupancy`` (see the module docstring).

    Raises:
        ValueError: naming the utterance, for a label out of range or equal to ``blank``, a
            negative length, an input length above ``T`` or a target length above ``S``.
    """
    return _ctc(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, batch_first, logits=False)


def ctc_loss_from_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: Lengths,
    target_lengths: Lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    batch_first: bool = False,
) -> torch.Tensor:
    """Fused ``ctc_loss(logits.log_softmax(-1), ...)``: same arguments, ``logits`` unnormalised.

    The loss equals the unfused one; the gradient w.r.t. ``logits`` is
    ``w_n * (softmax(logits) - occupancy)`` computed in one pass, with no log_softmax tensor.
    """
    return _ctc(logits, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, batch_first, logits=True)


def _as_lengths(lengths: Lengths, name: str) -> torch.Tensor:
    if isinstance(lengths, torch.Tensor):
        if lengths.is_floating_point():
            raise ValueError(f"ctc_loss: {name} must hold integers, got {lengths.dtype}")
        return lengths.to("cpu", torch.int64).reshape(-1)
    return torch.as_tensor(list(lengths), dtype=torch.int64)


def _ctc(inputs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
         batch_first, logits, numerics="auto"):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"ctc_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if inputs.is_cuda and not load_extension().with_cuda:
        raise ValueError("ctc_loss: this build of ctc._C has no CUDA kernels; move inputs to CPU")
    return _CTCLossFunction.apply(
        inputs, targets, _as_lengths(input_lengths, "input_lengths"),
        _as_lengths(target_lengths, "target_lengths"), int(blank), reduction,
        bool(zero_infinity), bool(batch_first), logits, _NUMERICS[numerics])


def ctc_costs(inputs: torch.Tensor, targets: torch.Tensor, input_lengths: Lengths,
              target_lengths: Lengths, blank: int = 0, batch_first: bool = False,
              logits: bool = False, numerics: str = "auto",
              ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Raw kernel call (no autograd): ``(costs (N,) float64, gradient or None, numerics (N,))``.

    ``numerics="log"`` forces the exact log-space recursion. The returned uint8 ``numerics``
    says what each utterance ended with: 0 block-scaled double, 1 log space (the CPU kernel
    falls back to 1 when 0 detects underflow; CUDA always uses 1). For tests and benchmarks.
    """
    ext = load_extension()
    return ext.ctc_loss(inputs.detach(), targets, _as_lengths(input_lengths, "input_lengths"),
                        _as_lengths(target_lengths, "target_lengths"), int(blank), batch_first,
                        logits, None, inputs.requires_grad, _NUMERICS[numerics])


class _CTCLossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, batch_first, logits, numerics):
        batch = inputs.shape[0 if batch_first else 1] if inputs.dim() == 3 else 0
        want_grad = bool(ctx.needs_input_grad[0])
        weights = None
        if reduction == "mean" and target_lengths.numel() == batch:
            weights = 1.0 / (target_lengths.clamp_min(1).to(torch.float64) * max(batch, 1))
        costs, grad, _ = load_extension().ctc_loss(
            inputs.detach(), targets, input_lengths, target_lengths, blank, batch_first, logits,
            weights, want_grad, numerics)
        costs = costs.to(inputs.dtype)
        if zero_infinity:
            costs = torch.where(torch.isinf(costs), torch.zeros_like(costs), costs)
        if reduction == "mean":
            lengths = target_lengths.to(costs.device).clamp_min(1).to(costs.dtype)
            loss = (costs / lengths).mean() if batch else costs.sum()  # empty batch: 0
        elif reduction == "sum":
            loss = costs.sum()
        else:
            loss = costs
        if grad is not None:
            # saved (not a ctx attribute) so that autograd frees it after backward and a leaf
            # input can take the returned tensor as its .grad without a copy
            ctx.save_for_backward(grad)
        ctx.per_utterance = reduction == "none"
        ctx.batch_first = batch_first
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        if ctx.per_utterance:
            shape = (-1, 1, 1) if ctx.batch_first else (1, -1, 1)
            grad = grad * grad_output.to(grad.dtype).reshape(shape)
        elif not (grad_output.device.type == "cpu" and grad_output.item() == 1.0):
            grad = grad * grad_output.to(grad.dtype)
        return grad, None, None, None, None, None, None, None, None, None
