"""Recurrent encoders: stacked (bi)directional LSTM / GRU / peephole LSTM over padded batches.

Legend: N batch, T frames, D input size, H hidden size, P projection size (0: none).

Padding never reaches a valid position. The forward direction reads each sequence from its start,
so trailing padding comes after every valid frame. The backward direction reverses each sequence
by its *own* length (a per-sequence index gather, padding left in place), runs a forward-only RNN
and reverses back. This is exact, and on CPU faster than ``pack_padded_sequence`` (which made a
3x256 BiLSTM-CTC epoch 2.1x slower here); see ``tools/bench_train.py``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

CELLS = ("lstm", "gru", "peephole")
# Under bf16 autocast on a CPU, a recurrence over fewer sequences than this runs in fp32: each
# step's product with the recurrent weights is then a matrix-vector one, slower in bf16 (one
# LSTM direction, forward and backward, 1,000 frames, AVX512-BF16: bf16 / fp32 0.65-0.69x for
# one sequence, 0.87-0.94x for two, 1.07-1.18x for three, for 128-320 units;
# ``tools/bench_train.py --lstm-batches``). Larger layers need more: 512 units 0.84x at three.
# (Autocast leaves ``nn.GRU`` in fp32 anyway; the peephole cell's products follow the LSTM's.)
CPU_BF16_MIN_SEQUENCES = 3


def reversal_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """Flat row index ``(N * T,)`` that reverses each sequence of an ``(N, T, D)`` batch within
    its first ``lengths[n]`` frames and leaves positions ``t >= lengths[n]`` in place."""
    n = lengths.shape[0]
    t = torch.arange(steps, device=lengths.device).expand(n, steps)  # (N, T)
    length = lengths[:, None]
    index = torch.where(t < length, length - 1 - t, t)  # (N, T)
    return (index + torch.arange(n, device=lengths.device)[:, None] * steps).reshape(-1)


class _Reverse(torch.autograd.Function):
    """Row permutation by ``reversal_index``; it is its own inverse, so the backward pass is
    the same row selection (cheaper than the scatter-add a generic gather needs)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        n, t, d = x.shape
        return x.reshape(n * t, d).index_select(0, index).view(n, t, d)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (index,) = ctx.saved_tensors
        n, t, d = grad.shape
        return grad.reshape(n * t, d).index_select(0, index).view(n, t, d), None


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor,
                   index: torch.Tensor | None = None) -> torch.Tensor:
    """Reverse each sequence of ``x`` ``(N, T, D)`` within its first ``lengths[n]`` frames.

    Positions ``t >= lengths[n]`` stay where they are, so applying it twice is the identity.
    ``index`` (from :func:`reversal_index`) may be passed to reuse it across layers.
    """
    if index is None:
        index = reversal_index(lengths.to(x.device), x.shape[1])
    return _Reverse.apply(x, index)


class PeepholeLSTM(nn.Module):
    """Single-direction LSTM layer with peephole connections (Gers & Schmidhuber 2000).

    With gates from input ``x_t`` and previous output ``h_{t-1}``::

        i_t = sigmoid(W_i x_t + U_i h_{t-1} + p_i * c_{t-1} + b_i)
        f_t = sigmoid(W_f x_t + U_f h_{t-1} + p_f * c_{t-1} + b_f)
        g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
        c_t = f_t * c_{t-1} + i_t * g_t
        o_t = sigmoid(W_o x_t + U_o h_{t-1} + p_o * c_t + b_o)
        h_t = o_t * tanh(c_t)            (then h_t = R h_t when proj_size > 0)

    ``weight_ih`` ``(4H, D)`` and ``weight_hh`` ``(4H, P or H)`` stack the gates in the order
    i, f, g, o as ``nn.LSTM`` does; ``peephole`` is ``(3, H)`` for p_i, p_f, p_o.
    Input and output are batch-first: ``(N, T, D)`` -> ``(N, T, P or H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, proj_size: int = 0) -> None:
        super().__init__()
        out = proj_size or hidden_size
        self.hidden_size, self.proj_size = hidden_size, proj_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, out))
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size))
        self.peephole = nn.Parameter(torch.zeros(3, hidden_size))
        self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size)) if proj_size else None
        bound = 1.0 / math.sqrt(hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.peephole, self.weight_hr):
            if p is not None:
                nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        hsz = self.hidden_size
        gates_x = torch.nn.functional.linear(x, self.weight_ih, self.bias)  # (N, T, 4H)
        h = x.new_zeros(n, self.proj_size or hsz)
        c = x.new_zeros(n, hsz)
        p_i, p_f, p_o = self.peephole
        outputs = []
        for step in range(t):
            gates = gates_x[:, step] + h @ self.weight_hh.t()  # (N, 4H)
            gi, gf, gg, go = gates.split(hsz, dim=1)
            i = torch.sigmoid(gi + p_i * c)
            f = torch.sigmoid(gf + p_f * c)
            c = f * c + i * torch.tanh(gg)
            o = torch.sigmoid(go + p_o * c)
            h = o * torch.tanh(c)
            if self.weight_hr is not None:
                h = h @ self.weight_hr.t()
            outputs.append(h)
        return torch.stack(outputs, dim=1)


class _Direction(nn.Module):
    """One direction of one layer: a forward-only RNN over batch-first input."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, proj_size: int,
                 forget_bias: float) -> None:
        super().__init__()
        if cell == "lstm":
            self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True, proj_size=proj_size)
            if forget_bias is not None:
                with torch.no_grad():  # gate order i, f, g, o; the two biases add up
                    self.rnn.bias_ih_l0[hidden_size:2 * hidden_size].fill_(forget_bias)
                    self.rnn.bias_hh_l0[hidden_size:2 * hidden_size].zero_()
        elif cell == "gru":
            if proj_size:
                raise ValueError("proj_size is not supported with cell 'gru'")
            self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
        elif cell == "peephole":
            self.rnn = PeepholeLSTM(input_size, hidden_size, proj_size)
            with torch.no_grad():
                self.rnn.bias[hidden_size:2 * hidden_size].fill_(forget_bias)
        else:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rnn(x)
        return out[0] if isinstance(out, tuple) else out


class RNNEncoder(nn.Module):
    """Stacked RNN encoder, ``(N, T, D)`` + lengths ``(N,)`` -> ``(N, T, output_dim)``.

    ``output_dim`` is ``(P or H) * (2 if bidirectional else 1)``. Dropout is applied between
    layers (not after the last). ``forget_bias`` initialises the LSTM forget-gate bias
    (Gers, Schmidhuber & Cummins 2000 recommend a positive value; 1.0 by default); GRUs have no
    forget gate and ignore it. Outputs at padded positions are unspecified (zeroed here).
    ``cpu_bf16_min_sequences``: under CPU bf16 autocast, a batch of fewer sequences runs its
    recurrent layers in fp32 (1: never; :data:`CPU_BF16_MIN_SEQUENCES`); training sets it.
    """

    def __init__(self, input_size: int, hidden_size: int = 256, layers: int = 3,
                 proj_size: int = 0, dropout: float = 0.0, bidirectional: bool = True,
                 cell: str = "lstm", forget_bias: float = 1.0) -> None:
        super().__init__()
        self.cpu_bf16_min_sequences = CPU_BF16_MIN_SEQUENCES
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        dirs = 2 if bidirectional else 1
        self.output_dim = (proj_size or hidden_size) * dirs
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList() if bidirectional else None
        size = input_size
        for _ in range(layers):
            self.forward_layers.append(
                _Direction(cell, size, hidden_size, proj_size, forget_bias))
            if self.backward_layers is not None:
                self.backward_layers.append(
                    _Direction(cell, size, hidden_size, proj_size, forget_bias))
            size = self.output_dim
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.forward_keeping(x, lengths)[0]

    def forward_keeping(self, x: torch.Tensor, lengths: torch.Tensor, keep: Sequence[int] = (),
                        condition: Mapping[int, Callable[[torch.Tensor], torch.Tensor]] | None
                        = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(output (N, T, output_dim), [output of layer k (N, T, output_dim) for k in keep])``:
        the encoder's output and those of the layers ``keep`` names (1-based, before the dropout
        that feeds the next layer; padded positions zeroed as in the output).

        ``condition``: for a layer k (1-based, below the last), a function of its output
        ``(N, T, output_dim)`` whose result the next layer reads instead (self-conditioning);
        the kept output of layer k is the one before it.
        """
        condition = condition or {}
        for k in (*keep, *condition):
            if not 1 <= k <= len(self.forward_layers):
                raise ValueError(f"layer {k} is not one of 1..{len(self.forward_layers)}")
        kept: dict[int, torch.Tensor] = {}
        lengths = lengths.to(x.device)
        index = reversal_index(lengths, x.shape[1]) if self.backward_layers is not None else None
        fp32 = (x.device.type == "cpu" and x.shape[0] < self.cpu_bf16_min_sequences
                and torch.is_autocast_enabled("cpu")
                and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        with torch.autocast("cpu", enabled=False) if fp32 else contextlib.nullcontext():
            if fp32:
                x = x.float()
            for i, fwd in enumerate(self.forward_layers):
                if i > 0:
                    x = self.dropout(x)
                out = fwd(x)  # (N, T, P or H)
                if self.backward_layers is not None:
                    back = self.backward_layers[i](reverse_padded(x, lengths, index))
                    back = reverse_padded(back, lengths, index)
                    out = torch.cat([out, back], dim=-1)  # (N, T, 2 (P or H))
                x = out
                if i + 1 in keep:
                    kept[i + 1] = x
                if i + 1 in condition:
                    x = condition[i + 1](x)
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        mask = valid[:, :, None]
        return x * mask.to(x.dtype), [kept[k] * mask.to(kept[k].dtype) for k in keep]
