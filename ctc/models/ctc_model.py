"""The CTC acoustic/optical model: front-end -> recurrent encoder -> linear head over tokens.

Legend: N batch, T input frames (or image columns W), F features, H image height, T' output
frames, V vocabulary size (blank included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from ctc.models.frontends import Conv2dSubsampling, LineCNN
from ctc.models.rnn import RNNEncoder

FRONTENDS = ("conv2d", "line_cnn")
OUTPUTS = ("log_probs", "logits")


@dataclass
class ModelConfig:
    """Architecture options.

    frontend: ``conv2d`` (speech features ``(N, T, F)``) or ``line_cnn`` (images ``(N, 1, H, W)``).
    input_dim: F (feature bins) or H (image height); 0 means "take it from the featurizer".
    subsampling, conv_channels: conv2d time subsampling (1/2/4/8) and channels per layer.
    cnn_channels, cnn_pooled, cnn_convs_per_pool, cnn_batch_norm, cnn_dropout: line_cnn blocks
    (Puigcerver 2017; a 2x2 max-pool after every ``cnn_convs_per_pool``-th, ``cnn_pooled`` times).
    cell: ``lstm`` (nn.LSTM fast path), ``gru`` or ``peephole`` (Gers & Schmidhuber 2000).
    layers, hidden, proj_size, dropout, bidirectional, forget_bias: the recurrent encoder.
    self_condition_layers: recurrent layers (1-based, below the last) whose output-layer
    posteriors are projected back (``self_condition``, a ``(V, E)`` linear map without bias,
    zero at the start) and added to what the next layer reads: self-conditioned CTC (Nozaki &
    Komatsu 2021, "Relaxing the conditional independence assumption of CTC-based ASR by
    conditioning on intermediate predictions"). Trained by intermediate CTC on the same layers
    (``train.inter_ctc_layers``); in decoding too, as part of the model.
    """

    frontend: str = "conv2d"
    input_dim: int = 0
    subsampling: int = 4
    conv_channels: int = 32
    cnn_channels: list[int] = field(default_factory=lambda: [16, 32, 48, 64, 80])
    cnn_pooled: int = 3
    cnn_convs_per_pool: int = 1
    cnn_batch_norm: bool = True
    cnn_dropout: float = 0.0
    cell: str = "lstm"
    layers: int = 3
    hidden: int = 256
    proj_size: int = 0
    dropout: float = 0.0
    bidirectional: bool = True
    forget_bias: float = 1.0
    self_condition_layers: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in state.items() if k in known})


class CTCModel(nn.Module):
    """``forward(x, lengths) -> (log_probs (N, T', V), out_lengths (N,))``.

    ``x`` is ``(N, T, F)`` for ``conv2d`` or ``(N, 1, H, W)`` / ``(N, H, W)`` for ``line_cnn``;
    ``lengths`` are valid frames (columns). Log-probabilities are float32 even under autocast.
    ``forward(x, lengths, output="logits")`` returns the head's unnormalised scores instead
    (float32; ``log_softmax(-1)`` of them is the default output), for a loss that normalises
    them itself (``ctc.loss.ctc_loss_from_logits``) without a log_softmax tensor in the graph.
    """

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        if config.input_dim <= 0:
            raise ValueError("model.input_dim must be set (feature bins or image height)")
        self.config = config
        self.vocab_size = vocab_size
        if config.frontend == "conv2d":
            self.frontend: Conv2dSubsampling | LineCNN = Conv2dSubsampling(
                config.input_dim, config.subsampling, config.conv_channels)
        elif config.frontend == "line_cnn":
            self.frontend = LineCNN(config.input_dim, tuple(config.cnn_channels),
                                    config.cnn_pooled, config.cnn_batch_norm, config.cnn_dropout,
                                    config.cnn_convs_per_pool)
        else:
            raise ValueError(f"model.frontend must be one of {FRONTENDS}, got {config.frontend!r}")
        self.encoder = RNNEncoder(self.frontend.output_dim, config.hidden, config.layers,
                                  config.proj_size, config.dropout, config.bidirectional,
                                  config.cell, config.forget_bias)
        self.head = nn.Linear(self.encoder.output_dim, vocab_size)
        self.self_condition: nn.Linear | None = None
        if config.self_condition_layers:
            for k in config.self_condition_layers:
                if not 1 <= k < config.layers:
                    raise ValueError(f"model.self_condition_layers: {k} is not one of the "
                                     f"recurrent layers 1..{config.layers - 1}")
            self.self_condition = nn.Linear(vocab_size, self.encoder.output_dim, bias=False)
            nn.init.zeros_(self.self_condition.weight)

    @property
    def subsampling(self) -> int:
        """Input frames (or pixels) per output frame."""
        return self.frontend.subsampling

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames ``(N,)`` for input lengths ``(N,)``."""
        return self.frontend.output_lengths(lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, output: str = "log_probs",
                intermediate: Sequence[int] = ()) -> tuple[torch.Tensor, ...]:
        """``(scores (N, T', V), out_lengths (N,))``: log-probabilities, or logits when
        ``output="logits"``.

        ``intermediate``: recurrent layers (1-based) whose outputs are also read by the output
        layer, for intermediate CTC (``train.inter_ctc_layers``); then the result is
        ``(scores, out_lengths, [scores of layer k (N, T', V) for k in intermediate])``.
        """
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        feats, out_lengths = self.frontend(x, lengths)  # (N, T', D)
        condition = {k: self._condition for k in self.config.self_condition_layers}
        enc, kept = self.encoder.forward_keeping(feats, out_lengths, intermediate,
                                                 condition)  # (N, T', E)
        scores = [self._scores(h, output) for h in (enc, *kept)]
        if intermediate:
            return scores[0], out_lengths, scores[1:]
        return scores[0], out_lengths

    def _condition(self, enc: torch.Tensor) -> torch.Tensor:
        """``enc`` (N, T', E) plus the projection of the output layer's posteriors over it."""
        posteriors = self.head(enc).float().softmax(dim=-1)  # (N, T', V)
        return enc + self.self_condition(posteriors.to(enc.dtype))

    def _scores(self, enc: torch.Tensor, output: str) -> torch.Tensor:
        logits = self.head(enc).float()  # (N, T', V)
        return logits if output == "logits" else logits.log_softmax(dim=-1)


def build_model(config: ModelConfig, vocab_size: int) -> CTCModel:
    """Build the model described by ``config`` for a vocabulary of ``vocab_size`` (blank incl.)."""
    return CTCModel(config, vocab_size)
