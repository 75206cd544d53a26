"""Best-path (greedy) CTC decoding: argmax per frame, merge repeats, drop blanks."""

from __future__ import annotations

import torch

from ctc.decode.hypothesis import Hypothesis


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor | None = None,
                  blank: int = 0) -> list[Hypothesis]:
    """Decode a batch by the best path.

    Args:
        log_probs: ``(N, T, V)`` log-posteriors (or logits: argmax is the same).
        lengths: ``(N,)`` valid frames per sequence; all ``T`` if None.
        blank: index of the blank token.

    Returns:
        N hypotheses, each with collapsed tokens, the frame where each token starts, and the
        best-path log score (sum of per-frame maxima).
    """
    if log_probs.dim() != 3:
        shape = tuple(log_probs.shape)
        raise ValueError(f"log_probs must be (batch, time, vocab), got shape {shape}")
    n, t, _ = log_probs.shape
    if lengths is None:
        lengths = torch.full((n,), t, dtype=torch.long)
    best, path = log_probs.detach().float().max(dim=-1)  # (N, T)
    valid = torch.arange(t, device=path.device)[None, :] < lengths.to(path.device)[:, None]
    prev = torch.nn.functional.pad(path, (1, 0), value=-1)[:, :-1]
    emit = valid & (path != blank) & (path != prev)
    scores = (best * valid).sum(dim=1).tolist()
    path, emit = path.cpu(), emit.cpu()
    out = []
    for i in range(n):
        frames = emit[i].nonzero().flatten()
        tokens = path[i, frames]
        out.append(Hypothesis(tuple(tokens.tolist()), tuple(frames.tolist()), scores[i]))
    return out
