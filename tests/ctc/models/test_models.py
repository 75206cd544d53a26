"""Encoder models: padding invariance, output lengths from the conv arithmetic, peephole LSTM."""

from __future__ import annotations

import pytest
import torch

from ctc.models import (
    Conv2dSubsampling,
    LineCNN,
    ModelConfig,
    PeepholeLSTM,
    RNNEncoder,
    build_model,
    reverse_padded,
)


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([s.shape[0] for s in seqs])
    return torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True), lengths


def test_reverse_padded_reverses_each_sequence_by_its_length():
    x = torch.arange(2 * 4).view(2, 4, 1).float()
    out = reverse_padded(x, torch.tensor([4, 2]))
    assert out[:, :, 0].tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
    assert torch.equal(reverse_padded(out, torch.tensor([4, 2])), x)


def test_reverse_padded_gradient_is_the_reversed_gradient():
    x = torch.randn(3, 5, 2, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([5, 2, 3])
    torch.autograd.gradcheck(lambda v: reverse_padded(v, lengths), (x,))


@pytest.mark.parametrize("cell, proj", [("lstm", 0), ("lstm", 3), ("gru", 0), ("peephole", 2)])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_encoder_is_padding_invariant(cell, proj, bidirectional):
    torch.manual_seed(0)
    enc = RNNEncoder(5, hidden_size=6, layers=2, proj_size=proj, bidirectional=bidirectional,
                     cell=cell).eval()
    seqs = [torch.randn(t, 5) for t in (7, 3, 5)]
    x, lengths = _pad(seqs)
    x[1, 3:] = 100.0  # garbage in the padding must not matter
    batched = enc(x, lengths)
    for i, s in enumerate(seqs):
        alone = enc(s[None], torch.tensor([len(s)]))[0]
        torch.testing.assert_close(batched[i, :len(s)], alone, rtol=1e-5, atol=1e-6)
        assert torch.all(batched[i, len(s):] == 0)


def test_bidirectional_matches_nn_lstm_on_full_length_sequences():
    torch.manual_seed(0)
    enc = RNNEncoder(4, hidden_size=5, layers=1, bidirectional=True, cell="lstm").eval()
    ref = torch.nn.LSTM(4, 5, batch_first=True, bidirectional=True)
    fwd, bwd = enc.forward_layers[0].rnn, enc.backward_layers[0].rnn
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(fwd, f"{name}_l0"))
            getattr(ref, f"{name}_l0_reverse").copy_(getattr(bwd, f"{name}_l0"))
    x = torch.randn(3, 6, 4)
    torch.testing.assert_close(enc(x, torch.tensor([6, 6, 6])), ref(x)[0])


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole"])
def test_few_sequences_run_their_recurrence_in_fp32_under_cpu_bf16_autocast(cell):
    torch.manual_seed(0)
    enc = RNNEncoder(6, 5, layers=2, cell=cell)
    x = torch.randn(3, 7, 6)
    lengths = torch.tensor([7, 5, 6])
    plain = {n: enc(x[:n], lengths[:n]) for n in (1, 2)}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for n in (1, 2):  # exactly what the encoder gives without autocast
            assert torch.equal(enc(x[:n], lengths[:n]), plain[n])
        if cell == "lstm":  # autocast runs nn.LSTM (not GRU, nor our cell's ops) in bf16
            assert enc(x, lengths).dtype == torch.bfloat16
            enc.cpu_bf16_min_sequences = 1
            assert enc(x[:1], lengths[:1]).dtype == torch.bfloat16
    enc.cpu_bf16_min_sequences = 5
    assert enc(x[:1], lengths[:1]).dtype == torch.float32  # no autocast: as it was


def test_forget_gate_bias_initialised():
    enc = RNNEncoder(4, hidden_size=3, layers=1, forget_bias=1.0)
    rnn = enc.forward_layers[0].rnn
    total = rnn.bias_ih_l0 + rnn.bias_hh_l0
    assert torch.all(total[3:6] == 1.0)


def test_peephole_lstm_follows_the_equations():
    torch.manual_seed(1)
    cell = PeepholeLSTM(3, 4)
    with torch.no_grad():
        cell.peephole.normal_()
        cell.bias.normal_()
    x = torch.randn(2, 5, 3)
    out = cell(x)
    w_i, w_f, w_g, w_o = cell.weight_ih.split(4)
    u_i, u_f, u_g, u_o = cell.weight_hh.split(4)
    b_i, b_f, b_g, b_o = cell.bias.split(4)
    p_i, p_f, p_o = cell.peephole
    h, c = torch.zeros(2, 4), torch.zeros(2, 4)
    for t in range(5):
        xt = x[:, t]
        i = torch.sigmoid(xt @ w_i.T + h @ u_i.T + p_i * c + b_i)
        f = torch.sigmoid(xt @ w_f.T + h @ u_f.T + p_f * c + b_f)
        c = f * c + i * torch.tanh(xt @ w_g.T + h @ u_g.T + b_g)
        o = torch.sigmoid(xt @ w_o.T + h @ u_o.T + p_o * c + b_o)
        h = o * torch.tanh(c)
        torch.testing.assert_close(out[:, t], h)
    # with zero peepholes it is an ordinary LSTM
    ref = torch.nn.LSTM(3, 4, batch_first=True)
    with torch.no_grad():
        cell.peephole.zero_()
        ref.weight_ih_l0.copy_(cell.weight_ih)
        ref.weight_hh_l0.copy_(cell.weight_hh)
        ref.bias_ih_l0.copy_(cell.bias)
        ref.bias_hh_l0.zero_()
    torch.testing.assert_close(cell(x), ref(x)[0])


@pytest.mark.parametrize("subsampling", [1, 2, 4, 8])
def test_conv2d_subsampling_lengths_match_output(subsampling):
    front = Conv2dSubsampling(20, subsampling=subsampling, channels=4).eval()
    seqs = [torch.randn(t, 20) for t in (17, 9, 1)]
    x, lengths = _pad(seqs)
    out, out_len = front(x, lengths)
    expected = [-(-t // subsampling) for t in (17, 9, 1)]
    assert out_len.tolist() == expected
    assert out.shape == (3, expected[0], front.output_dim)
    for i, s in enumerate(seqs):
        alone, _ = front(s[None], torch.tensor([len(s)]))
        torch.testing.assert_close(out[i, :expected[i]], alone[0], rtol=1e-5, atol=1e-6)


def test_line_cnn_collapses_height_and_is_padding_invariant():
    torch.manual_seed(0)
    cnn = LineCNN(32, channels=(4, 6, 8), pooled=2).eval()
    images = [torch.rand(32, w) for w in (40, 23)]
    widths = torch.tensor([40, 23])
    x = torch.zeros(2, 1, 32, 40)
    x[0, 0], x[1, 0, :, :23] = images[0], images[1]
    out, out_w = cnn(x, widths)
    assert out_w.tolist() == [10, 5]
    assert out.shape == (2, 10, 8 * 8) and cnn.output_dim == 64
    alone, _ = cnn(images[1][None, None], torch.tensor([23]))
    torch.testing.assert_close(out[1, :5], alone[0], rtol=1e-5, atol=1e-6)


def test_line_cnn_two_convolutions_before_each_pooling():
    torch.manual_seed(0)
    cnn = LineCNN(32, channels=(4, 4, 6, 6, 8), pooled=2, convs_per_pool=2).eval()
    pooled_after = [i for i, pool in enumerate(cnn.pools) if pool is not None]
    assert pooled_after == [1, 3]
    assert cnn.subsampling == 4 and cnn.output_dim == 8 * 8
    images = [torch.rand(32, w) for w in (41, 22)]
    x = torch.zeros(2, 1, 32, 41)
    x[0, 0], x[1, 0, :, :22] = images[0], images[1]
    out, out_w = cnn(x, torch.tensor([41, 22]))
    assert out_w.tolist() == [10, 5] and out.shape == (2, 10, 64)
    alone, _ = cnn(images[1][None, None], torch.tensor([22]))
    torch.testing.assert_close(out[1, :5], alone[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pooled \\* convs_per_pool"):
        LineCNN(32, channels=(4, 4, 6), pooled=2, convs_per_pool=2)


@pytest.mark.parametrize("frontend, shape", [("conv2d", (2, 30, 12)), ("line_cnn", (2, 1, 16, 30))])
def test_build_model_returns_log_probs(frontend, shape):
    cfg = ModelConfig(frontend=frontend, input_dim=shape[-2] if frontend == "line_cnn" else 12,
                      layers=2, hidden=8, cnn_channels=[4, 4], cnn_pooled=2)
    model = build_model(cfg, vocab_size=7)
    lengths = torch.tensor([30, 21])
    log_probs, out_len = model(torch.randn(*shape), lengths)
    assert log_probs.shape == (2, int(out_len.max()), 7)
    assert out_len.tolist() == model.output_lengths(lengths).tolist()
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, log_probs.shape[1]))
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("frontend, shape", [("conv2d", (2, 30, 12)), ("line_cnn", (2, 1, 16, 30))])
def test_logits_output_is_what_log_softmax_normalises(frontend, shape):
    cfg = ModelConfig(frontend=frontend, input_dim=shape[-2] if frontend == "line_cnn" else 12,
                      layers=1, hidden=8, cnn_channels=[4, 4], cnn_pooled=2)
    torch.manual_seed(0)
    model = build_model(cfg, vocab_size=7).eval()
    x, lengths = torch.randn(*shape), torch.tensor([30, 21])
    log_probs, out_len = model(x, lengths)
    logits, logit_len = model(x, lengths, output="logits")
    assert logits.dtype == torch.float32 and torch.equal(out_len, logit_len)
    assert torch.equal(logits.log_softmax(-1), log_probs)
    assert not torch.allclose(logits.exp().sum(-1), torch.ones(2, logits.shape[1]))


def test_unknown_output_raises():
    model = build_model(ModelConfig(input_dim=12, layers=1, hidden=4), vocab_size=5)
    with pytest.raises(ValueError, match="output must be one of"):
        model(torch.randn(1, 8, 12), torch.tensor([8]), output="probs")


def test_intermediate_scores_are_the_output_layer_reading_that_layer():
    """Layer k's intermediate scores are what a k-layer model with the same first k layers and
    output layer gives; the final scores are those of a plain forward."""
    torch.manual_seed(0)
    config = ModelConfig(input_dim=8, subsampling=2, conv_channels=4, layers=3, hidden=6)
    model = build_model(config, 5).eval()
    x, lengths = _pad([torch.randn(14, 8), torch.randn(9, 8)])
    final, out_lengths, (first, second) = model(x, lengths, output="logits", intermediate=(1, 2))
    plain, _ = model(x, lengths, output="logits")
    assert torch.equal(final, plain)
    for k, scores in ((1, first), (2, second)):
        lower = build_model(ModelConfig(**{**config.to_dict(), "layers": k}), 5).eval()
        lower.load_state_dict({n: w for n, w in model.state_dict().items()
                               if not n.startswith("encoder.") or int(n.split(".")[2]) < k})
        expected, _ = lower(x, lengths, output="logits")
        for n, length in enumerate(out_lengths.tolist()):
            torch.testing.assert_close(scores[n, :length], expected[n, :length])
        padded = scores[1, out_lengths[1]:]  # the layer's padding zeroed, as the output's
        assert len(padded) and torch.equal(padded, model.head.bias.expand_as(padded))
    log_probs = model(x, lengths, intermediate=(2,))[2][0]
    torch.testing.assert_close(log_probs, second.log_softmax(-1))
    with pytest.raises(ValueError, match=r"layer 4 is not one of 1\.\.3"):
        model(x, lengths, intermediate=(4,))


def test_self_conditioning_feeds_the_layer_posteriors_to_the_next_layer():
    """With ``self_condition_layers=[2]`` the third layer reads layer 2's output plus the
    projection of the output layer's posteriors over it; at the start (projection zero) the
    model reads as the plain one; padding changes no valid frame."""
    torch.manual_seed(0)
    plain_config = ModelConfig(input_dim=8, subsampling=2, conv_channels=4, layers=3, hidden=6)
    config = ModelConfig(**{**plain_config.to_dict(), "self_condition_layers": [2]})
    model = build_model(config, 5).eval()
    plain = build_model(plain_config, 5).eval()
    plain.load_state_dict({n: w for n, w in model.state_dict().items()
                           if not n.startswith("self_condition.")})
    assert torch.equal(model.self_condition.weight, torch.zeros(12, 5))
    x, lengths = _pad([torch.randn(14, 8), torch.randn(9, 8)])
    torch.testing.assert_close(model(x, lengths)[0], plain(x, lengths)[0], rtol=0, atol=0)

    with torch.no_grad():
        model.self_condition.weight.normal_()
    final, out_lengths = model(x, lengths, output="logits")
    feats, _ = model.frontend(x, lengths)
    _, (second,) = plain.encoder.forward_keeping(feats, out_lengths, keep=(2,))
    conditioned = second + model.self_condition(model.head(second).softmax(-1))
    top = RNNEncoder(12, 6, layers=1)
    top.load_state_dict({n.replace(".2.", ".0."): w for n, w in model.encoder.state_dict().items()
                         if ".2." in n})
    expected = model.head(top(conditioned, out_lengths))
    assert not torch.allclose(expected, plain(x, lengths, output="logits")[0])
    for n, length in enumerate(out_lengths.tolist()):
        torch.testing.assert_close(final[n, :length], expected[n, :length])
    alone, _ = model(x[1:, :9], lengths[1:], output="logits")
    torch.testing.assert_close(alone[0], final[1, :out_lengths[1]])
    _, _, (inter,) = model(x, lengths, output="logits", intermediate=(2,))
    torch.testing.assert_close(inter[0], model.head(second[0]))  # the layer before conditioning
    with pytest.raises(ValueError, match=r"self_condition_layers: 3 is not one of the recurrent "
                                         r"layers 1\.\.2"):
        build_model(ModelConfig(**{**plain_config.to_dict(), "self_condition_layers": [3]}), 5)


def test_init_keeps_the_self_conditioning_columns_of_shared_symbols():
    from ctc.train.init import initialize_from

    torch.manual_seed(0)
    config = ModelConfig(input_dim=8, layers=2, hidden=4, self_condition_layers=[1])
    source = build_model(config, 4)
    with torch.no_grad():
        source.self_condition.weight.normal_()
    target = build_model(config, 5)
    report = initialize_from(target, ["<b>", "a", "x", "b", "c"], source.state_dict(),
                             ["<b>", "a", "b", "c"], "src")
    assert (report.shared_symbols, report.new_symbols) == (4, 1)
    got, want = target.self_condition.weight, source.self_condition.weight
    torch.testing.assert_close(got[:, [0, 1, 3, 4]], want)
    assert torch.equal(got[:, 2], torch.zeros(8))  # a new symbol's column stays zero
    unconditioned = build_model(ModelConfig(input_dim=8, layers=2, hidden=4), 4)
    fresh = build_model(config, 4)
    initialize_from(fresh, ["<b>", "a", "b", "c"], unconditioned.state_dict(),
                    ["<b>", "a", "b", "c"], "src")
    assert torch.equal(fresh.self_condition.weight, torch.zeros(8, 4))
    torch.testing.assert_close(fresh.head.weight, unconditioned.head.weight)
