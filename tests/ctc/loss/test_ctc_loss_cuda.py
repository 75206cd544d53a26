"""CUDA kernel parity with the CPU kernel (skipped without a GPU or a CUDA build)."""

from __future__ import annotations

import pytest
import torch

from ctc._ext import load_extension
from ctc.loss import ctc_loss, ctc_loss_from_logits

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture(autouse=True)
def _needs_cuda_build():
    if not load_extension().with_cuda:
        pytest.skip("ctc._C was built without CUDA")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("fused", [False, True])
def test_cuda_matches_cpu(dtype, index_dtype, fused):
    gen = torch.Generator().manual_seed(0)
    frames, batch, classes = 120, 5, 30
    logits = torch.randn(frames, batch, classes, dtype=dtype, generator=gen)
    inputs = logits if fused else logits.log_softmax(-1)
    targets = torch.randint(1, classes, (batch, 700), generator=gen).to(index_dtype)
    il = torch.tensor([120, 100, 90, 0, 120])
    tl = torch.tensor([40, 30, 50, 0, 0])
    fn = ctc_loss_from_logits if fused else ctc_loss
    results = []
    for device in ("cpu", "cuda"):
        x = inputs.to(device).requires_grad_()
        loss = fn(x, targets.to(device), il, tl, reduction="none", zero_infinity=True)
        (g,) = torch.autograd.grad(loss.sum(), x)
        results.append((loss.cpu(), g.cpu()))
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(results[1][0], results[0][0], rtol=tol, atol=tol)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=tol, atol=tol)


def test_cuda_long_targets_and_determinism():
    gen = torch.Generator().manual_seed(1)
    lp = torch.randn(1500, 2, 12, generator=gen).log_softmax(-1).cuda().requires_grad_()
    targets = torch.randint(1, 12, (2, 1000), generator=gen).cuda()  # beyond warp-ctc's cap
    runs = []
    for _ in range(2):
        loss = ctc_loss(lp, targets, [1500, 1400], [1000, 900], reduction="sum")
        (g,) = torch.autograd.grad(loss, lp)
        runs.append((loss, g))
    assert torch.isfinite(runs[0][0])
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    cpu = ctc_loss(lp.detach().cpu(), targets.cpu(), [1500, 1400], [1000, 900], reduction="sum")
    torch.testing.assert_close(runs[0][0].cpu(), cpu, rtol=1e-5, atol=1e-3)
