"""Compiled CTC loss: exact values (golden, brute force, float64 reference), gradients,
edge cases, validation and determinism. Parity with torch is in test_ctc_loss_torch.py."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ctc.loss import CTCLoss, ctc_loss, ctc_loss_from_logits
from ctc.loss.functional import ctc_costs
from ctc.loss.reference import ctc_loss_brute_force, ctc_loss_reference


def _one(lp_tc: torch.Tensor, target: list[int], blank: int = 0, **kw) -> torch.Tensor:
    """Our loss for one utterance given as (T, C)."""
    return ctc_loss(lp_tc[:, None], torch.tensor([target], dtype=torch.int64),
                    [lp_tc.shape[0]], [len(target)], blank=blank, reduction="sum", **kw)


# warp-ctc's published values (torch_binding/TUTORIAL.md and tests/test_cpu.cpp); the inputs
# are activations (logits), softmax over 5 classes, blank 0.
GOLDEN = [
    ([[0.0] * 5], [1], 1.6094379),                                       # uniform, T=1: ln 5
    ([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15]], [3, 3], 7.3557429),  # repeat
    ([[-5, -4, -3, -2, -1], [-10, -9, -8, -7, -6], [-15, -14, -13, -12, -11]], [2, 3],
     4.9388504),
    ([[0.1, 0.6, 0.1, 0.1, 0.1], [0.1, 0.1, 0.6, 0.1, 0.1]], [1, 2], 2.4628584),
]


@pytest.mark.parametrize("acts, target, expected", GOLDEN)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_warp_ctc_golden_values(acts, target, expected, dtype):
    logits = torch.tensor(acts, dtype=dtype)
    fused = ctc_loss_from_logits(logits[:, None], torch.tensor([target]), [len(acts)],
                                 [len(target)], reduction="sum")
    unfused = _one(logits.log_softmax(-1), target)
    assert fused.item() == pytest.approx(expected, rel=1e-6)
    assert unfused.item() == pytest.approx(expected, rel=1e-6)


def test_warp_ctc_golden_batch_sum():
    # the three TUTORIAL inputs padded to T=3 as one batch: 15.331147670746 (warp-ctc tests)
    acts = torch.tensor([[[0.0] * 5] * 3, GOLDEN[1][0], GOLDEN[2][0]], dtype=torch.float64)
    targets = torch.tensor([[1, 0], [3, 3], [2, 3]])
    loss = ctc_loss_from_logits(acts, targets, [3, 3, 3], [1, 2, 2], reduction="sum",
                                batch_first=True)
    assert loss.item() == pytest.approx(15.331147670746, rel=1e-7)  # float32 value


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("numerics", ["auto", "log"])
def test_brute_force_loss_and_gradient(seed, numerics):
    gen = torch.Generator().manual_seed(seed)
    frames, classes = 4 + seed % 2, 3
    blank = seed % classes
    labels = [k for k in range(classes) if k != blank]
    length = 1 + seed % 3
    target = [labels[int(i)] for i in torch.randint(0, len(labels), (length,), generator=gen)]
    # unnormalised scores on purpose: the gradient must be exact d loss / d scores
    lp = torch.randn(frames, classes, dtype=torch.float64, generator=gen).requires_grad_()
    expected = ctc_loss_brute_force(lp, target, blank)
    finite = math.isfinite(expected.item())
    (expected_grad,) = torch.autograd.grad(expected, lp) if finite else (None,)
    costs, grad, _ = ctc_costs(lp[:, None], torch.tensor([target]), [frames], [length],
                               blank=blank, numerics=numerics)
    if not finite:
        assert costs.item() == math.inf and torch.all(grad == 0)
        return
    assert costs.item() == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(grad[:, 0], expected_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("numerics", ["auto", "log"])
@pytest.mark.parametrize("fused", [False, True])
def test_recomputed_segments_match_float64_reference(numerics, fused):
    # targets long enough that alpha is kept at checkpoints and recomputed segment by segment
    # (S = 500: about 64 frames per segment), with padding frames, repeats and a blank that is
    # not 0; checked against the float64 autograd reference, utterance by utterance
    gen = torch.Generator().manual_seed(12)
    frames, classes, blank = 1400, 40, 39
    x = torch.randn(frames, 3, classes, dtype=torch.float64, generator=gen) * 2
    if not fused:
        x = x.log_softmax(-1)
    x.requires_grad_()
    targets = torch.randint(0, blank, (3, 500), generator=gen)
    targets[0, 100:140] = 7  # a run of repeats
    il, tl = [1400, 1111, 700], [500, 333, 0]
    costs, grad, used = ctc_costs(x, targets, il, tl, blank=blank, logits=fused,
                                  numerics=numerics)
    assert (used == (1 if numerics == "log" else 0)).all()
    for n in range(3):
        scores = x.detach()[: il[n], n].clone().requires_grad_()
        lp = scores.log_softmax(-1) if fused else scores
        expected = ctc_loss_reference(lp, targets[n, : tl[n]].tolist(), blank)
        (expected_grad,) = torch.autograd.grad(expected, scores)
        assert costs[n].item() == pytest.approx(expected.item(), rel=1e-11)
        torch.testing.assert_close(grad[: il[n], n], expected_grad, rtol=1e-8, atol=1e-11)
        assert torch.all(grad[il[n]:, n] == 0)


def test_reference_matches_brute_force():
    gen = torch.Generator().manual_seed(7)
    lp = torch.randn(5, 3, dtype=torch.float64, generator=gen).log_softmax(-1)
    for target in ([1], [1, 2], [2, 2], [1, 1, 2], []):
        assert ctc_loss_reference(lp, target).item() == pytest.approx(
            ctc_loss_brute_force(lp, target).item(), rel=1e-12)


@pytest.mark.parametrize("numerics", ["auto", "log"])
def test_matches_float64_reference_on_longer_sequences(numerics):
    gen = torch.Generator().manual_seed(3)
    frames, classes, blank = 60, 7, 6
    lp = torch.randn(frames, classes, dtype=torch.float64, generator=gen).log_softmax(-1)
    lp.requires_grad_()
    target = [1, 1, 2, 3, 3, 3, 0, 5, 4, 4, 2, 1]
    expected = ctc_loss_reference(lp, target, blank)
    (expected_grad,) = torch.autograd.grad(expected, lp)
    costs, grad, _ = ctc_costs(lp[:, None], torch.tensor([target]), [frames], [len(target)],
                               blank=blank, numerics=numerics)
    assert costs.item() == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(grad[:, 0], expected_grad, rtol=1e-9, atol=1e-12)


def test_gradcheck_on_log_probs_directly():
    gen = torch.Generator().manual_seed(0)
    lp = torch.randn(8, 3, 5, dtype=torch.float64, generator=gen).requires_grad_()
    targets = torch.tensor([[1, 2, 2], [3, 4, 0], [1, 0, 0]])

    def fn(x):
        return ctc_loss(x, targets, [8, 6, 5], [3, 2, 1], reduction="none")

    assert torch.autograd.gradcheck(fn, (lp,))
    assert torch.autograd.gradcheck(
        lambda x: ctc_loss(x, targets, [8, 6, 5], [3, 2, 1], reduction="mean"), (lp,))


def test_gradcheck_fused_logits():
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(6, 2, 4, dtype=torch.float64, generator=gen).requires_grad_()
    targets = torch.tensor([[1, 3], [2, 2]])
    assert torch.autograd.gradcheck(
        lambda x: ctc_loss_from_logits(x, targets, [6, 5], [2, 2], reduction="sum"), (z,))


def test_fused_equals_log_softmax_then_loss():
    gen = torch.Generator().manual_seed(2)
    z = (3 * torch.randn(30, 4, 9, generator=gen)).requires_grad_()
    targets = torch.randint(1, 9, (4, 7), generator=gen)
    il, tl = [30, 25, 20, 30], [7, 5, 3, 0]
    fused = ctc_loss_from_logits(z, targets, il, tl)
    (g_fused,) = torch.autograd.grad(fused, z)
    plain = ctc_loss(z.log_softmax(-1), targets, il, tl)
    (g_plain,) = torch.autograd.grad(plain, z)
    torch.testing.assert_close(fused, plain, rtol=1e-6, atol=0)
    torch.testing.assert_close(g_fused, g_plain, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- edge cases


def test_empty_target_is_minus_sum_of_blank_log_probs():
    lp = torch.randn(5, 1, 4, dtype=torch.float64).log_softmax(-1)
    loss = ctc_loss(lp, torch.zeros(1, 0, dtype=torch.int64), [5], [0], reduction="sum")
    assert loss.item() == pytest.approx(-lp[:, 0, 0].sum().item(), rel=1e-12)


def test_zero_length_input():
    lp = torch.randn(4, 2, 3, dtype=torch.float64).log_softmax(-1).requires_grad_()
    targets = torch.tensor([[1], [1]])
    loss = ctc_loss(lp, targets, [0, 0], [0, 1], reduction="none")
    assert loss[0].item() == 0.0 and loss[1].item() == math.inf
    loss = ctc_loss(lp, targets, [0, 0], [0, 1], reduction="sum", zero_infinity=True)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(lp.grad == 0)


@pytest.mark.parametrize("target", [[1, 1, 2, 2, 2], [1, 2, 3], [3, 3, 3, 3]])
def test_tight_length_is_finite_and_one_frame_less_is_infinite(target):
    required = len(target) + sum(a == b for a, b in itertools.pairwise(target))
    lp = torch.randn(required + 2, 2, 4, dtype=torch.float64).log_softmax(-1)
    lp.requires_grad_()
    targets = torch.tensor([target, target])
    loss = ctc_loss(lp, targets, [required, required - 1], [len(target)] * 2, reduction="none")
    expected = ctc_loss_reference(lp[:required, 0], target).item()
    assert loss[0].item() == pytest.approx(expected, rel=1e-12)
    assert loss[1].item() == math.inf
    loss.sum().backward()
    assert torch.isfinite(lp.grad).all()
    assert torch.all(lp.grad[:, 1] == 0)  # infeasible: zero gradient, never NaN
    zeroed = ctc_loss(lp, targets, [required, required - 1], [len(target)] * 2,
                      reduction="none", zero_infinity=True)
    assert zeroed[1].item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_peaked_low_temperature_inputs(dtype):
    # emission log-probs around -1000 underflow exp() even in float64: the scaled path must
    # detect it and fall back to log space; the result equals the float64 log-space reference.
    gen = torch.Generator().manual_seed(5)
    frames, classes = 40, 6
    logits = torch.randn(frames, 3, classes, dtype=torch.float64, generator=gen) * 400
    lp = logits.log_softmax(-1).to(dtype).requires_grad_()
    targets = torch.tensor([[1, 2, 3, 4, 5, 1], [2, 2, 5, 1, 0, 0], [4, 0, 0, 0, 0, 0]])
    il, tl = [40, 33, 12], [6, 4, 1]
    costs, _, used_log = ctc_costs(lp, targets, il, tl)
    loss = ctc_loss(lp, targets, il, tl, reduction="sum")
    loss.backward()
    assert not torch.isnan(loss) and torch.isfinite(lp.grad).all()
    assert (used_log == 1).any()  # log space
    for n in range(3):
        ref_lp = lp.detach()[: il[n], n].to(torch.float64).requires_grad_()
        expected = ctc_loss_reference(ref_lp, targets[n, : tl[n]].tolist())
        (g,) = torch.autograd.grad(expected, ref_lp)
        assert costs[n].item() == pytest.approx(expected.item(), rel=1e-9)
        tol = 1e-9 if dtype == torch.float64 else 1e-5
        torch.testing.assert_close(lp.grad[: il[n], n].to(torch.float64), g, rtol=tol, atol=tol)


def test_scaled_path_handles_moderately_peaked_inputs_without_fallback():
    gen = torch.Generator().manual_seed(9)
    lp = (torch.randn(200, 2, 20, dtype=torch.float64, generator=gen) * 8).log_softmax(-1)
    targets = torch.randint(1, 20, (2, 30), generator=gen)
    costs, _, used_log = ctc_costs(lp, targets, [200, 180], [30, 25])
    log_costs, _, _ = ctc_costs(lp, targets, [200, 180], [30, 25], numerics="log")
    assert (used_log == 0).all()  # block-scaled double
    torch.testing.assert_close(costs, log_costs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("where", ["label", "blank", "whole frame"])
def test_nan_in_is_nan_out_for_that_utterance_only(fused, dtype, where):
    gen = torch.Generator().manual_seed(8)
    scores = torch.randn(12, 3, 6, generator=gen, dtype=dtype)
    if not fused:
        scores = scores.log_softmax(-1)
    targets = torch.tensor([[1, 2, 3], [2, 2, 4], [5, 1, 1]])
    clean = scores.clone()
    column = {"label": 2, "blank": 0}.get(where)
    if column is None:
        scores[4, 1] = float("nan")
    else:
        scores[4, 1, column] = float("nan")
    scores.requires_grad_()
    loss_fn = ctc_loss_from_logits if fused else ctc_loss
    for zero_infinity in (False, True):
        loss = loss_fn(scores, targets, [12, 12, 12], [3, 3, 3], reduction="none",
                       zero_infinity=zero_infinity)
        assert math.isnan(loss[1].item())  # not inf, and not zeroed by zero_infinity
        expected = loss_fn(clean, targets, [12, 12, 12], [3, 3, 3], reduction="none")
        assert loss[0].item() == expected[0].item() and loss[2].item() == expected[2].item()
    scores.grad = None
    loss_fn(scores, targets, [12, 12, 12], [3, 3, 3], reduction="sum").backward()
    assert torch.isnan(scores.grad[:, 1]).all()
    assert torch.isfinite(scores.grad[:, [0, 2]]).all()
    for reduction in ("mean", "sum"):
        assert math.isnan(loss_fn(scores, targets, [12, 12, 12], [3, 3, 3],
                                  reduction=reduction).item())


def test_nan_in_a_class_the_loss_does_not_read_changes_nothing():
    """Log-probabilities of classes outside the target and blank are not read (documented)."""
    lp = torch.randn(10, 1, 6, dtype=torch.float64).log_softmax(-1)
    noisy = lp.clone()
    noisy[3, 0, 5] = float("nan")
    args = (torch.tensor([[1, 2]]), [10], [2])
    assert ctc_loss(noisy, *args).item() == ctc_loss(lp, *args).item()


def test_nan_in_padding_frames_is_not_read():
    lp = torch.randn(10, 1, 4, dtype=torch.float64).log_softmax(-1)
    noisy = lp.clone()
    noisy[7:] = float("nan")
    args = (torch.tensor([[1, 2]]), [7], [2])
    assert ctc_loss(noisy, *args).item() == ctc_loss(lp, *args).item()


@pytest.mark.parametrize("fused", [False, True])
def test_empty_batch_has_loss_zero_and_an_empty_gradient(fused):
    scores = torch.randn(5, 0, 4).requires_grad_()
    loss_fn = ctc_loss_from_logits if fused else ctc_loss
    for reduction in ("mean", "sum"):
        loss = loss_fn(scores, torch.zeros(0, 2, dtype=torch.int64), [], [],
                       reduction=reduction)
        assert loss.item() == 0.0
        loss.backward()
        assert scores.grad.shape == scores.shape
    assert loss_fn(scores, torch.zeros(0, 2, dtype=torch.int64), [], [],
                   reduction="none").shape == (0,)


def test_padding_frames_get_zero_gradient_and_do_not_matter():
    gen = torch.Generator().manual_seed(4)
    lp = torch.randn(20, 3, 5, generator=gen).log_softmax(-1).requires_grad_()
    targets = torch.randint(1, 5, (3, 4), generator=gen)
    il = [20, 11, 7]
    loss = ctc_loss(lp, targets, il, [4, 3, 2], reduction="sum")
    loss.backward()
    for n, frames in enumerate(il):
        assert torch.all(lp.grad[frames:, n] == 0)
    noisy = lp.detach().clone()
    noisy[11:, 1] = float("nan")
    noisy[7:, 2] = 123.0
    again = ctc_loss(noisy, targets, il, [4, 3, 2], reduction="sum")
    assert again.item() == loss.item()


def test_batched_equals_per_utterance_bitwise():
    gen = torch.Generator().manual_seed(6)
    lp = torch.randn(50, 5, 8, generator=gen).log_softmax(-1).requires_grad_()
    targets = torch.randint(1, 8, (5, 12), generator=gen)
    il, tl = [50, 31, 44, 12, 50], [12, 9, 0, 5, 11]
    batched = ctc_loss(lp, targets, il, tl, reduction="none")
    (g_batched,) = torch.autograd.grad(batched.sum(), lp)
    for n in range(5):
        x = lp.detach()[: il[n], n : n + 1].clone().requires_grad_()
        one = ctc_loss(x, targets[n : n + 1, : tl[n]], [il[n]], [tl[n]], reduction="none")
        (g,) = torch.autograd.grad(one.sum(), x)
        assert one.item() == batched[n].item()
        assert torch.equal(g[:, 0], g_batched[: il[n], n])


def test_repeated_runs_are_bit_identical():
    gen = torch.Generator().manual_seed(8)
    lp = torch.randn(80, 9, 12, generator=gen).log_softmax(-1).requires_grad_()
    targets = torch.randint(1, 12, (9, 20), generator=gen)
    il = torch.randint(40, 81, (9,), generator=gen)
    tl = torch.randint(0, 21, (9,), generator=gen)
    results = []
    for _ in range(3):
        loss = ctc_loss(lp, targets, il, tl)
        (g,) = torch.autograd.grad(loss, lp)
        results.append((loss, g))
    for loss, g in results[1:]:
        assert torch.equal(loss, results[0][0]) and torch.equal(g, results[0][1])


def test_batch_first_and_concatenated_targets_agree():
    gen = torch.Generator().manual_seed(10)
    lp = torch.randn(25, 3, 6, dtype=torch.float64, generator=gen).log_softmax(-1)
    targets = torch.tensor([[1, 2, 3, 4], [5, 5, 0, 0], [2, 0, 0, 0]], dtype=torch.int32)
    tl = [4, 2, 1]
    flat = torch.cat([targets[n, : tl[n]] for n in range(3)])
    a = ctc_loss(lp, targets, [25, 20, 9], tl, reduction="none")
    b = ctc_loss(lp.transpose(0, 1).contiguous(), flat, [25, 20, 9], tl, reduction="none",
                 batch_first=True)
    c = ctc_loss(lp.transpose(0, 1), flat.long(), torch.tensor([25, 20, 9], dtype=torch.int32),
                 torch.tensor(tl), reduction="none", batch_first=True)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_module_matches_functional():
    lp = torch.randn(10, 2, 4).log_softmax(-1)
    targets = torch.tensor([[1, 2], [3, 0]])
    module = CTCLoss(blank=0, reduction="sum")
    assert module(lp, targets, [10, 8], [2, 1]).item() == ctc_loss(
        lp, targets, [10, 8], [2, 1], reduction="sum").item()
    fused = CTCLoss(reduction="sum", from_logits=True)
    assert fused(lp, targets, [10, 8], [2, 1]).item() == pytest.approx(
        module(lp, targets, [10, 8], [2, 1]).item(), rel=1e-6)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("targets, il, tl, message", [
    ([[1, 2], [3, 7]], [5, 5], [2, 2], r"utterance 1: label 7 .* outside \[0, 5\)"),
    ([[1, 2], [0, 3]], [5, 5], [2, 2], r"utterance 1: label 0 .* equals the blank"),
    ([[1, 2], [-1, 3]], [5, 5], [2, 2], r"utterance 1: label -1"),
    ([[1, 2], [3, 4]], [5, -1], [2, 2], r"utterance 1: input length -1"),
    ([[1, 2], [3, 4]], [6, 5], [2, 2], r"utterance 0: input length 6 is outside \[0, 5\]"),
    ([[1, 2], [3, 4]], [5, 5], [2, -2], r"utterance 1: negative target length"),
    ([[1, 2], [3, 4]], [5, 5], [3, 2], r"utterance 0: target length 3 exceeds"),
])
def test_invalid_inputs_raise_value_error_naming_the_utterance(targets, il, tl, message):
    lp = torch.randn(5, 2, 5).log_softmax(-1)
    with pytest.raises(ValueError, match=message):
        ctc_loss(lp, torch.tensor(targets), il, tl)


def test_invalid_options_raise_value_error():
    lp = torch.randn(5, 1, 5).log_softmax(-1)
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss(lp, torch.tensor([[1]]), [5], [1], reduction="avg")
    with pytest.raises(ValueError, match="blank 5"):
        ctc_loss(lp, torch.tensor([[1]]), [5], [1], blank=5)
    with pytest.raises(ValueError, match="concatenated"):
        ctc_loss(lp, torch.tensor([1, 2]), [5], [3])
    with pytest.raises(ValueError, match="3-D"):
        ctc_loss(lp[:, 0], torch.tensor([[1]]), [5], [1])


@pytest.mark.slow
def test_long_random_utterances_scaled_path_equals_log_space():
    # T=3000, S=600 with random scores: past and future disagree by far more than the double
    # exponent range of one frame; the block-scaled path must still hold (no fallback) and
    # agree with the exact log-space recursion.
    gen = torch.Generator().manual_seed(0)
    lp = (torch.randn(3000, 2, 32, dtype=torch.float64, generator=gen) * 3).log_softmax(-1)
    lp.requires_grad_()
    targets = torch.randint(1, 32, (2, 600), generator=gen)
    costs, grad, used = ctc_costs(lp, targets, [3000, 2900], [600, 580])
    log_costs, log_grad, _ = ctc_costs(lp, targets, [3000, 2900], [600, 580], numerics="log")
    assert (used == 0).all()
    torch.testing.assert_close(costs, log_costs, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, log_grad, rtol=1e-8, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), frames=st.integers(1, 120), classes=st.integers(2, 9),
       max_target=st.integers(0, 70), scale=st.sampled_from([0.1, 1.0, 5.0, 40.0, 400.0]),
       blank_last=st.booleans(), fused=st.booleans())
def test_scaled_path_equals_log_space(seed, frames, classes, max_target, scale, blank_last,
                                      fused):
    # whatever the scaled path returns (or hands to log space) equals the exact recursion
    gen = torch.Generator().manual_seed(seed)
    blank = classes - 1 if blank_last else 0
    x = torch.randn(frames, 3, classes, dtype=torch.float64, generator=gen) * scale
    if not fused:
        x = x.log_softmax(-1)
    labels = torch.tensor([k for k in range(classes) if k != blank])
    targets = labels[torch.randint(0, len(labels), (3, max_target), generator=gen)]
    targets[1, 1::2] = targets[1, ::2][: targets[1, 1::2].numel()]  # many repeats
    il = torch.randint(0, frames + 1, (3,), generator=gen)
    tl = torch.randint(0, max_target + 1, (3,), generator=gen)
    x.requires_grad_()
    auto = ctc_costs(x, targets, il, tl, blank=blank, logits=fused)
    exact = ctc_costs(x, targets, il, tl, blank=blank, logits=fused, numerics="log")
    torch.testing.assert_close(auto[0], exact[0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(auto[1], exact[1], rtol=1e-8, atol=1e-10)
    assert not torch.isnan(auto[1]).any()


@pytest.mark.parametrize("fused", [False, True])
def test_a_gradient_the_caller_keeps_is_not_reused_by_the_next_call(fused):
    """The CPU gradient's memory is reused between calls only once nobody holds it."""
    gen = torch.Generator().manual_seed(11)
    loss_fn = ctc_loss_from_logits if fused else ctc_loss
    first = torch.randn(30, 4, 7, generator=gen)
    second = torch.randn(30, 4, 7, generator=gen)
    targets = torch.randint(1, 7, (4, 5), generator=gen)
    grads = []
    for scores in (first, second, first):
        leaf = scores.clone().requires_grad_()
        loss_fn(leaf, targets, [30, 28, 20, 9], [5, 4, 3, 2], reduction="sum").backward()
        grads.append(leaf.grad)  # kept: the next call must not write into it
    assert torch.equal(grads[0], grads[2]) and not torch.equal(grads[0], grads[1])
    again = []
    for _ in range(3):  # not kept: the same memory serves every call, results unchanged
        leaf = second.clone().requires_grad_()
        loss_fn(leaf, targets, [30, 28, 20, 9], [5, 4, 3, 2], reduction="sum").backward()
        again.append(leaf.grad.clone())
        del leaf
    assert all(torch.equal(g, grads[1]) for g in again)
