"""Parity of ctc.loss.ctc_loss with torch.nn.functional.ctc_loss: loss, and the gradient through
log_softmax (where torch's gradient is right), for every argument convention."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ctc.loss import ctc_loss, ctc_loss_from_logits


def _batch(seed, frames, batch, classes, max_target, blank, dtype):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(frames, batch, classes, dtype=dtype, generator=gen) * 2
    labels = [k for k in range(classes) if k != blank]
    targets = torch.tensor(labels)[torch.randint(0, len(labels), (batch, max_target),
                                                 generator=gen)]
    input_lengths = torch.randint(frames // 2, frames + 1, (batch,), generator=gen)
    input_lengths[0] = frames
    target_lengths = torch.randint(0, max_target + 1, (batch,), generator=gen)
    return logits, targets, input_lengths, target_lengths


def _grads(fn, logits, *args, **kw):
    z = logits.clone().requires_grad_()
    loss = fn(z.log_softmax(-1), *args, **kw)
    if loss.dim() == 1:  # reduction "none": distinct weights per utterance
        loss_for_grad = (loss * torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype)).sum()
    else:
        loss_for_grad = loss * 1.5
    (g,) = torch.autograd.grad(loss_for_grad, z)
    return loss.detach(), g


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), frames=st.integers(1, 60), batch=st.integers(1, 6),
       classes=st.integers(2, 12), max_target=st.integers(0, 15),
       blank_last=st.booleans(), reduction=st.sampled_from(["none", "sum", "mean"]),
       concatenated=st.booleans(), zero_infinity=st.booleans(), int32=st.booleans())
def test_parity_with_torch_float32(seed, frames, batch, classes, max_target, blank_last,
                                   reduction, concatenated, zero_infinity, int32):
    blank = classes - 1 if blank_last else 0
    logits, targets, il, tl = _batch(seed, frames, batch, classes, max_target, blank,
                                     torch.float32)
    if int32:
        targets = targets.int()
    if concatenated:
        targets = torch.cat([targets[n, : tl[n]] for n in range(batch)])
    kw = dict(blank=blank, reduction=reduction, zero_infinity=True)
    ours, g_ours = _grads(ctc_loss, logits, targets, il, tl, **kw)
    theirs, g_theirs = _grads(torch.nn.functional.ctc_loss, logits, targets, il, tl, **kw)
    _, g_exact = _grads(torch.nn.functional.ctc_loss, logits.double(), targets, il, tl, **kw)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    # torch's float32 gradient is itself off by up to ~1e-4 (float32 log-space sums and
    # exp(lp) - occupancy in float32); ours is compared tightly with torch's float64 result.
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-4, atol=2e-4)
    torch.testing.assert_close(g_ours.double(), g_exact, rtol=1e-5, atol=1e-6)
    if not zero_infinity:  # losses (inf included) still agree; torch's grads may be NaN
        with torch.no_grad():
            ours = ctc_loss(logits.log_softmax(-1), targets, il, tl, blank=blank,
                            reduction=reduction)
            theirs = torch.nn.functional.ctc_loss(logits.log_softmax(-1), targets, il, tl,
                                                  blank=blank, reduction=reduction)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_parity_float64_long_batch(reduction):
    logits, targets, il, tl = _batch(11, 300, 8, 30, 80, 0, torch.float64)
    kw = dict(reduction=reduction, zero_infinity=True)
    ours, g_ours = _grads(ctc_loss, logits, targets, il, tl, **kw)
    theirs, g_theirs = _grads(torch.nn.functional.ctc_loss, logits, targets, il, tl, **kw)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-8, atol=1e-10)


def test_fused_logits_parity_with_torch():
    logits, targets, il, tl = _batch(12, 120, 6, 40, 30, 0, torch.float32)
    z = logits.clone().requires_grad_()
    ours = ctc_loss_from_logits(z, targets, il, tl, zero_infinity=True)
    (g_ours,) = torch.autograd.grad(ours, z)
    theirs, g_theirs = _grads(torch.nn.functional.ctc_loss, logits, targets, il, tl,
                              zero_infinity=True)
    torch.testing.assert_close(ours.detach(), theirs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g_ours, g_theirs / 1.5, rtol=1e-5, atol=3e-5)


def test_torch_gradient_differs_from_exact_one_on_log_probs():
    # documents the semantic difference: torch returns exp(lp) - occupancy on log_probs
    lp = torch.randn(6, 1, 4, dtype=torch.float64).log_softmax(-1).requires_grad_()
    targets = torch.tensor([[1, 2]])
    (ours,) = torch.autograd.grad(ctc_loss(lp, targets, [6], [2], reduction="sum"), lp)
    (theirs,) = torch.autograd.grad(
        torch.nn.functional.ctc_loss(lp, targets, [6], [2], reduction="sum"), lp)
    torch.testing.assert_close(theirs, ours + lp.detach().exp())
