"""Encoder front-ends: they turn padded model input into a padded frame sequence ``(N, T', D)``.

Legend: N batch, T input frames, F feature bins, H image height, W image width (columns),
T' output frames, D output feature size.

Both front-ends zero every position beyond a sequence's own length after each layer, so a padded
batch gives the same valid outputs as each sequence alone (the conv layers' own zero padding sees
zeros either way). Output lengths come from the layers' own arithmetic (``output_lengths``).
"""

from __future__ import annotations

import torch
from torch import nn


def conv_output_length(lengths: torch.Tensor, layer: nn.Conv2d | nn.MaxPool2d,
                       dim: int) -> torch.Tensor:
    """Output size along ``dim`` (0 height/time-of-conv, 1 width) of a conv or pool layer:
    ``floor((L + 2p - d (k - 1) - 1) / s) + 1``, clamped at 0."""

    def pick(value: int | tuple[int, ...]) -> int:
        return value if isinstance(value, int) else value[dim]

    k, s = pick(layer.kernel_size), pick(layer.stride)
    p, d = pick(layer.padding), pick(layer.dilation)
    out = torch.div(lengths + 2 * p - d * (k - 1) - 1, s, rounding_mode="floor") + 1
    return out.clamp(min=0)


def _mask_time(x: torch.Tensor, lengths: torch.Tensor, dim: int) -> torch.Tensor:
    """Zero ``x`` at positions ``>= lengths`` along ``dim`` (batch is dim 0)."""
    size = x.shape[dim]
    keep = torch.arange(size, device=x.device)[None, :] < lengths.to(x.device)[:, None]  # (N, L)
    shape = [x.shape[0]] + [1] * (x.dim() - 1)
    shape[dim] = size
    return x * keep.view(shape).to(x.dtype)


SUBSAMPLINGS = (1, 2, 4, 8)


class Conv2dSubsampling(nn.Module):
    """Speech front-end: a conv2d stack over ``(time, frequency)`` that subsamples time by
    ``subsampling`` (1, 2, 4 or 8).

    Each stride-2 layer is a 3x3 convolution with stride 2 in time and frequency and padding 1,
    followed by ReLU; with ``subsampling=1`` there is one 3x3 stride-1 layer. Input ``(N, T, F)``,
    output ``(N, T', channels * F')`` with ``T' = ceil(T / subsampling)`` for valid lengths.
    """

    def __init__(self, feature_dim: int, subsampling: int = 4, channels: int = 32) -> None:
        super().__init__()
        if subsampling not in SUBSAMPLINGS:
            raise ValueError(f"subsampling must be one of {SUBSAMPLINGS}, got {subsampling}")
        n_stride = {1: 0, 2: 1, 4: 2, 8: 3}[subsampling]
        strides = [2] * n_stride or [1]
        convs, in_ch, freq = [], 1, torch.tensor([feature_dim])
        for stride in strides:
            conv = nn.Conv2d(in_ch, channels, kernel_size=3, stride=stride, padding=1)
            convs.append(conv)
            freq = conv_output_length(freq, conv, 1)
            in_ch = channels
        self.convs = nn.ModuleList(convs)
        self.subsampling = subsampling
        self.output_dim = channels * int(freq)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames ``(N,)`` for input frames ``(N,)``."""
        for conv in self.convs:
            lengths = conv_output_length(lengths, conv, 0)
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(N, T, F)``, ``lengths`` ``(N,)`` -> ``(N, T', D)``, ``(N,)``."""
        x = _mask_time(x, lengths, 1).unsqueeze(1)  # (N, 1, T, F)
        for conv in self.convs:
            lengths = conv_output_length(lengths, conv, 0)
            x = _mask_time(torch.relu(conv(x)), lengths, 2)  # (N, C, T', F')
        n, c, t, f = x.shape
        return x.permute(0, 2, 1, 3).reshape(n, t, c * f), lengths


class LineCNN(nn.Module):
    """Handwriting front-end after Puigcerver (2017): conv blocks over a text-line image, height
    collapsed into features, width becoming time.

    Block i: 3x3 convolution (padding 1) -> batch norm -> LeakyReLU, then a 2x2 max-pool after
    every ``convs_per_pool``-th block, ``pooled`` times (``convs_per_pool=2``: two convolutions
    before each pooling, as VGG). Input ``(N, 1, H, W)`` (or ``(N, H, W)``), output
    ``(N, W', channels[-1] * H')`` with ``W' = floor(W / 2**pooled)``. Batch norm uses batch
    statistics in training (padding included); in eval mode padded batches are exact.
    """

    def __init__(self, height: int, channels: tuple[int, ...] = (16, 32, 48, 64, 80),
                 pooled: int = 3, batch_norm: bool = True, dropout: float = 0.0,
                 convs_per_pool: int = 1) -> None:
        super().__init__()
        if convs_per_pool < 1:
            raise ValueError(f"convs_per_pool must be >= 1, got {convs_per_pool}")
        if not 0 <= pooled * convs_per_pool <= len(channels):
            raise ValueError(f"pooled * convs_per_pool must be in [0, {len(channels)}], got "
                             f"{pooled} * {convs_per_pool}")
        blocks, in_ch, h = [], 1, torch.tensor([height])
        self.pools: list[nn.MaxPool2d | None] = []
        for i, out_ch in enumerate(channels):
            layers: list[nn.Module] = []
            if dropout > 0 and i > 0:
                layers.append(nn.Dropout(dropout))
            conv = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=not batch_norm)
            layers.append(conv)
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(nn.LeakyReLU(0.01))
            blocks.append(nn.Sequential(*layers))
            h = conv_output_length(h, conv, 0)
            ends_stage = (i + 1) % convs_per_pool == 0 and (i + 1) // convs_per_pool <= pooled
            pool = nn.MaxPool2d(2) if ends_stage else None
            if pool is not None:
                h = conv_output_length(h, pool, 0)
            self.pools.append(pool)
            in_ch = out_ch
        if int(h) < 1:
            raise ValueError(f"image height {height} is too small for {pooled} 2x2 poolings")
        self.blocks = nn.ModuleList(blocks)
        self.convs = [next(m for m in b if isinstance(m, nn.Conv2d)) for b in blocks]
        self.subsampling = 2**pooled
        self.output_dim = channels[-1] * int(h)
        # a training step on the CPU runs about 1.2x faster with the convolutions and poolings
        # on channels-last (N, H, W, C) tensors (tools/bench_train.py --precision)
        self.to(memory_format=torch.channels_last)

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Output frames (columns) ``(N,)`` for image widths ``(N,)``."""
        for conv, pool in zip(self.convs, self.pools):
            widths = conv_output_length(widths, conv, 1)
            if pool is not None:
                widths = conv_output_length(widths, pool, 1)
        return widths

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(N, 1, H, W)``, ``widths`` ``(N,)`` -> ``(N, W', D)``, ``(N,)``."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = _mask_time(x, widths, 3).contiguous(memory_format=torch.channels_last)
        for block, conv, pool in zip(self.blocks, self.convs, self.pools):
            x = block(x)
            widths = conv_output_length(widths, conv, 1)
            if pool is not None:
                x = pool(x)
                widths = conv_output_length(widths, pool, 1)
            x = _mask_time(x, widths, 3)  # (N, C, H', W')
        n, c, h, w = x.shape
        return x.permute(0, 3, 1, 2).reshape(n, w, c * h), widths
