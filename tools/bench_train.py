"""Training throughput of a BiLSTM-CTC model: carousel's CTC loss vs torch's, in the same run.

Times full training steps (forward, CTC loss, backward, Adam step) of a conv2d-subsampled
3x320 BiLSTM on synthetic 80-dim features and prints input frames per second and milliseconds
per step for each way of computing the loss:

* ``torch``: the model's log_softmax, then ``torch.nn.functional.ctc_loss``;
* ``carousel log-probs``: the model's log_softmax, then carousel's loss (the path training took
  before the engine handed logits to the loss);
* ``carousel fused``: the model's logits into carousel's fused loss (``ctc_loss_from_logits``),
  what training uses now (``ctc.train.ctc_impl``).

Then the loss alone: from the logits to their gradient (log_softmax included where the path has
it), on the model's own outputs. With ``--encoders`` it also times the ways to run the backward
direction exactly: our per-sequence reversal, ``pack_padded_sequence``, and (not exact, for
reference) a plain bidirectional ``nn.LSTM`` over the padded batch. With ``--precision`` it
times whole training steps in fp32 against bf16 autocast (``train.precision=bf16``, as the
engine runs it) for this model and for the handwriting recipes' line model (a 16-32-48-64
line CNN with two 2x2 poolings and a 2x128 BiLSTM on 32-pixel lines), and for the line model
also with its convolutions on (N, C, H, W) tensors instead of channels-last ones; the CPU's
native bf16 support (``ctc.cpu_features``) is printed with them. With ``--lstm-batches N ...``
it times one LSTM direction of the model's sizes, fp32 against bf16 autocast, over the same
frames split among N sequences (what ``ctc.models.rnn.CPU_BF16_MIN_SEQUENCES`` rests on).

    python tools/bench_train.py [--batches 6] [--batch 16] [--frames 400] [--encoders]
                                [--precision] [--lstm-batches [N ...]]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn

from ctc.models import ModelConfig, build_model
from ctc.train.ctc_impl import CTCLossFn, get_ctc_loss


def synthetic_batches(n_batches: int, batch: int, frames: int, feature_dim: int, vocab: int,
                      subsampling: int, seed: int = 0):
    """Batches of random features ``(N, T, F)`` with lengths in ``[0.8 T, T]`` (a length
    bucket) and random feasible targets of about one token per 3 output frames."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        lengths = torch.randint(int(0.8 * frames), frames + 1, (batch,), generator=gen)
        x = torch.randn(batch, int(lengths.max()), feature_dim, generator=gen)
        t_out = lengths // subsampling
        target_lengths = (t_out // 3).clamp(min=1)
        targets = torch.randint(1, vocab, (batch, int(target_lengths.max())), generator=gen)
        out.append((x, lengths, targets, target_lengths))
    return out


def time_training(model: nn.Module, loss_fn: CTCLossFn, batches, repeats: int) -> list[float]:
    """Frames/s of each repeat over all ``batches``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    rates = []
    for _ in range(repeats):
        frames, start = 0, time.perf_counter()
        for x, lengths, targets, target_lengths in batches:
            outputs, out_lengths = model(x, lengths, output=loss_fn.input)
            loss = loss_fn(outputs, targets, out_lengths, target_lengths).sum() / len(lengths)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            frames += int(lengths.sum())
        rates.append(frames / (time.perf_counter() - start))
    return rates


def time_loss_only(model: nn.Module, impls: dict[str, CTCLossFn], batches, repeats: int
                   ) -> dict[str, float]:
    """Median seconds per batch from the model's logits (computed once) to their gradient:
    log_softmax (for the paths that take log-probabilities), the loss, and their backward."""
    with torch.no_grad():
        inputs = [(*model(x, lengths, output="logits"), targets, target_lengths)
                  for x, lengths, targets, target_lengths in batches]
    times: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(repeats + 1):
        for name, fn in impls.items():
            start = time.perf_counter()
            for logits, out_lengths, targets, target_lengths in inputs:
                z = logits.detach().requires_grad_()
                scores = z.log_softmax(-1) if fn.input == "log_probs" else z
                fn(scores, targets, out_lengths, target_lengths).sum().backward()
            times[name].append((time.perf_counter() - start) / len(inputs))
    return {name: statistics.median(values[1:]) for name, values in times.items()}


class PackedBiLSTM(nn.Module):
    """Reference encoder: bidirectional nn.LSTM over packed sequences (exact, usually slower)."""

    def __init__(self, input_size: int, hidden: int, layers: int, packed: bool) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden, layers, batch_first=True, bidirectional=True)
        self.packed = packed
        self.output_dim = 2 * hidden

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if not self.packed:
            return self.lstm(x)[0]
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.lstm(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                total_length=x.shape[1])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=400, help="longest input in a batch")
    parser.add_argument("--hidden", type=int, default=320)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--feature-dim", type=int, default=80)
    parser.add_argument("--vocab", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--encoders", action="store_true",
                        help="also compare reversal vs packed vs padded bidirectional LSTM")
    parser.add_argument("--precision", action="store_true",
                        help="also compare fp32 with bf16 autocast, and channels-last line CNNs")
    parser.add_argument("--lstm-batches", type=int, nargs="*", metavar="N",
                        help="also time one LSTM direction of the model's sizes, fp32 against "
                             "bf16 autocast, at these numbers of sequences (the frames of "
                             "--batch x --frames split among them; default 1 2 3 4 8 16)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = ModelConfig(frontend="conv2d", input_dim=args.feature_dim, layers=args.layers,
                      hidden=args.hidden)
    model = build_model(cfg, args.vocab)
    batches = synthetic_batches(args.batches, args.batch, args.frames, args.feature_dim,
                                args.vocab, model.subsampling)
    print(f"model: conv2d/{model.subsampling} + {args.layers}x{args.hidden} BiLSTM, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; "
          f"{args.batches} batches of {args.batch} x <= {args.frames} frames; "
          f"{torch.get_num_threads()} threads")

    impls = {"torch": get_ctc_loss("torch")}
    try:
        impls["carousel log-probs"] = get_ctc_loss("carousel", from_logits=False)
        impls["carousel fused"] = get_ctc_loss("carousel")
    except Exception as err:  # the compiled loss is optional here
        print(f"carousel CTC not available ({err}); timing torch only")
    time_training(model, impls["torch"], batches[:1], 1)  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(args.repeats):  # interleaved, so load changes hit both
        for name, fn in impls.items():
            rates[name] += time_training(model, fn, batches, 1)
    frames_per_step = sum(int(b[1].sum()) for b in batches) / len(batches)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in medians.items():
        print(f"  CTC {name:<19} {rate:9.0f} frames/s  {1000 * frames_per_step / rate:8.1f} "
              f"ms per step  (median of {len(rates[name])})")
    if "carousel fused" in medians:
        before, after = medians["carousel log-probs"], medians["carousel fused"]
        print(f"  whole step, carousel fused vs carousel log-probs (before): "
              f"{after / before:.3f}x throughput, "
              f"{1000 * frames_per_step * (1 / before - 1 / after):.1f} ms less per step")
        print(f"  whole step, carousel fused vs torch: {after / medians['torch']:.3f}x")
    loss_only = time_loss_only(model, impls, batches, args.repeats)
    for name, seconds in loss_only.items():
        print(f"  CTC {name:<19} logits to their gradient: {1000 * seconds:8.2f} ms per step")
    if "carousel fused" in loss_only:
        fused, unfused = loss_only["carousel fused"], loss_only["carousel log-probs"]
        print(f"  loss alone, torch / carousel fused: {loss_only['torch'] / fused:.1f}x, "
              f"carousel log-probs / carousel fused: {unfused / fused:.2f}x")

    if args.encoders:
        torch.manual_seed(0)
        ours = build_model(cfg, args.vocab)
        variants = {"reversal (ours)": ours}
        for name, packed in (("packed", True), ("padded bidir (inexact)", False)):
            m = build_model(cfg, args.vocab)
            m.encoder = PackedBiLSTM(m.frontend.output_dim, args.hidden, args.layers, packed)
            variants[name] = m
        enc_rates: dict[str, list[float]] = {name: [] for name in variants}
        loss = impls["torch"]
        for _ in range(args.repeats):
            for name, m in variants.items():
                enc_rates[name] += time_training(m, loss, batches, 1)
        base = statistics.median(enc_rates["reversal (ours)"])
        for name, values in enc_rates.items():
            rate = statistics.median(values)
            print(f"  encoder {name:<24} {rate:10.0f} frames/s  ({rate / base:.2f}x ours)")
    if args.precision:
        compare_precisions(cfg, args, impls.get("carousel fused", impls["torch"]))
    if args.lstm_batches is not None:
        compare_lstm_batch_sizes(model, args.hidden, args.batch * args.frames // model.subsampling,
                                 args.lstm_batches or [1, 2, 3, 4, 8, 16], args.repeats)
    return 0


def line_batches(n_batches: int, batch: int, width: int, height: int, vocab: int,
                 subsampling: int, seed: int = 0):
    """``synthetic_batches`` laid out as line images ``(N, 1, H, W)``: widths in
    ``[0.8 W, W]``, ``height`` rows."""
    return [(x.transpose(1, 2).unsqueeze(1), widths, targets, target_lengths)
            for x, widths, targets, target_lengths in
            synthetic_batches(n_batches, batch, width, height, vocab, subsampling, seed)]


def compare_precisions(speech_cfg: ModelConfig, args, loss_fn: CTCLossFn) -> None:
    """Whole training steps, fp32 vs bf16 autocast, interleaved; line CNN also (N, C, H, W)."""
    from ctc.cpu_features import cpu_has_native_bf16

    print(f"precision (native bf16 on this CPU: {'yes' if cpu_has_native_bf16() else 'no'}):")
    line_cfg = ModelConfig(frontend="line_cnn", input_dim=32, cnn_channels=(16, 32, 48, 64),
                           cnn_pooled=2, layers=2, hidden=128)
    torch.manual_seed(0)
    speech = build_model(speech_cfg, args.vocab)
    line = build_model(line_cfg, 12)
    line_nchw = build_model(line_cfg, 12).to(memory_format=torch.contiguous_format)
    for conv in line_nchw.frontend.convs:  # each block then runs on (N, C, H, W) tensors
        conv.register_forward_pre_hook(lambda _module, inputs: (inputs[0].contiguous(),))
    cases = {
        "speech": (speech, synthetic_batches(args.batches, args.batch, args.frames,
                                             args.feature_dim, args.vocab, speech.subsampling)),
        "line": (line, line_batches(args.batches, 20, 150, 32, 12, line.subsampling)),
        "line (N, C, H, W)": (line_nchw, line_batches(args.batches, 20, 150, 32, 12,
                                                      line.subsampling)),
    }
    rates: dict[tuple[str, str], list[float]] = {}
    for model, batches in cases.values():  # warm-up
        model.train()
        for precision in ("fp32", "bf16"):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                time_training(model, loss_fn, batches[:1], 1)
    for _ in range(args.repeats):
        for name, (model, batches) in cases.items():
            for precision in ("fp32", "bf16"):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    rates.setdefault((name, precision), []).extend(
                        time_training(model, loss_fn, batches, 1))
    medians = {key: statistics.median(values) for key, values in rates.items()}
    for name in cases:
        fp32, bf16 = medians[(name, "fp32")], medians[(name, "bf16")]
        print(f"  {name:<18} fp32 {fp32:9.0f} columns-or-frames/s, bf16 {bf16:9.0f}: "
              f"bf16 / fp32 {bf16 / fp32:.2f}x")
    for precision in ("fp32", "bf16"):
        ratio = medians[("line", precision)] / medians[("line (N, C, H, W)", precision)]
        print(f"  line CNN channels-last / (N, C, H, W), {precision}: {ratio:.2f}x")


def compare_lstm_batch_sizes(model: nn.Module, hidden: int, frames: int, sizes: list[int],
                             repeats: int) -> None:
    """Forward and backward of one LSTM direction (the first layer's input size and a deeper
    layer's, ``hidden`` units) over ``frames`` subsampled frames split among N sequences,
    fp32 against bf16 autocast, interleaved."""
    first = model.frontend.output_dim
    print(f"one LSTM direction, {frames} frames split among N sequences, bf16 / fp32:")
    for input_size in (first, 2 * hidden):
        torch.manual_seed(0)
        lstm = nn.LSTM(input_size, hidden, batch_first=True)
        row = []
        for n in sizes:
            x = torch.randn(n, max(1, frames // n), input_size, requires_grad=True)
            seconds: dict[bool, list[float]] = {False: [], True: []}
            for attempt in range(repeats + 1):
                for bf16 in (False, True):
                    start = time.perf_counter()
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        out = lstm(x)[0]
                    out.float().sum().backward()
                    if attempt:  # the first round warms up
                        seconds[bf16].append(time.perf_counter() - start)
            ratio = statistics.median(seconds[False]) / statistics.median(seconds[True])
            row.append(f"N={n} {ratio:.2f}x")
        print(f"  {input_size:4d} -> {hidden:4d}: " + ", ".join(row))


if __name__ == "__main__":
    sys.exit(main())
