"""The loss as training uses it (ctc.train.ctc_impl): the model's logits into the fused kernel
give the same losses and parameter gradients as log_softmax followed by the loss. The model's
outputs are float32 (as under autocast), so agreement is to float32 rounding."""

from __future__ import annotations

import pytest
import torch

from ctc.models import ModelConfig, build_model
from ctc.train.ctc_impl import get_ctc_loss


def _batch(seed: int, vocab: int = 9):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 48, 10, generator=gen)
    lengths = torch.tensor([48, 40, 29, 8])  # the last one is too short for its target
    target_lengths = torch.tensor([9, 7, 5, 6])
    targets = torch.randint(1, vocab, (4, 9), generator=gen)
    targets[0, 3] = targets[0, 2]  # a repeat
    return x, lengths, targets, target_lengths


def _step(loss_fn, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(input_dim=10, subsampling=2, conv_channels=3, layers=1,
                                    hidden=6), vocab_size=9)
    x, lengths, targets, target_lengths = _batch(seed)
    outputs, out_lengths = model(x, lengths, output=loss_fn.input)
    losses = loss_fn(outputs, targets, out_lengths, target_lengths)
    (losses * torch.tensor([1.0, 0.5, 2.0, 1.0])).sum().backward()
    return losses.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def test_fused_training_loss_takes_logits_and_the_unfused_one_log_probs():
    assert get_ctc_loss("carousel").input == "logits"
    assert get_ctc_loss("carousel", from_logits=False).input == "log_probs"
    assert get_ctc_loss("torch").input == "log_probs"


@pytest.mark.parametrize("seed", [0, 1])
def test_fused_training_path_equals_log_softmax_then_loss(seed):
    fused_losses, fused = _step(get_ctc_loss("carousel"), seed)
    losses, unfused = _step(get_ctc_loss("carousel", from_logits=False), seed)
    assert fused_losses[3].item() == 0.0  # infeasible: zero_infinity
    torch.testing.assert_close(fused_losses, losses, rtol=1e-6, atol=1e-6)
    for name, grad in unfused.items():
        torch.testing.assert_close(fused[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_fused_training_path_matches_torch():
    fused_losses, fused = _step(get_ctc_loss("carousel"))
    torch_losses, theirs = _step(get_ctc_loss("torch"))
    torch.testing.assert_close(fused_losses, torch_losses, rtol=1e-5, atol=1e-5)
    for name, grad in theirs.items():
        torch.testing.assert_close(fused[name], grad, rtol=1e-4, atol=1e-6, msg=name)
