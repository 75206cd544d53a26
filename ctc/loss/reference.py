"""Slow float64 references for testing the compiled CTC loss: a log-space recursion in torch
(differentiable, so autograd gives the exact gradient) and a brute-force sum over all paths.

Both take one utterance: ``log_probs (T, C)`` and ``target`` a sequence of labels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

_IMPOSSIBLE = -1e300


def extended_target(target: Sequence[int], blank: int) -> list[int]:
    """``l'``: the target with a blank before, between and after its labels (length 2S + 1)."""
    out = [blank]
    for label in target:
        out += [int(label), blank]
    return out


def ctc_loss_reference(log_probs: torch.Tensor, target: Sequence[int], blank: int = 0
                       ) -> torch.Tensor:
    """``-log p(target | log_probs)`` by the alpha recursion (Graves et al. 2006, eq. 5-8).

    ``log_probs (T, C)``, any float dtype; computed in float64, differentiable. Returns a 0-d
    float64 tensor (``inf`` when no path exists; ``0`` for ``T = 0`` with an empty target).
    Impossible states hold ``-1e300`` rather than ``-inf``, so that autograd never meets
    ``logsumexp`` of all ``-inf`` (NaN gradient); the gradient is only meaningful when finite.
    """
    lp = log_probs.to(torch.float64)
    ext = extended_target(target, blank)
    states = len(ext)
    frames = lp.shape[0]
    if frames == 0:
        return lp.new_tensor(0.0 if states == 1 else math.inf)
    neg_inf = lp.new_tensor(_IMPOSSIBLE)
    skip = torch.tensor([s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]
                         for s in range(states)])
    index = torch.tensor(ext)
    alpha = torch.full((states,), _IMPOSSIBLE, dtype=torch.float64)
    alpha = torch.cat([lp[0, index[:2]], alpha[2:]]) if states > 1 else lp[0, index[:1]]
    for t in range(1, frames):
        stay = alpha
        step = torch.cat([neg_inf.reshape(1), alpha[:-1]])
        jump = torch.cat([neg_inf.expand(2), alpha[:-2]])[:states]
        jump = torch.where(skip, jump, neg_inf)
        alpha = torch.logsumexp(torch.stack([stay, step, jump]), dim=0) + lp[t, index]
    loss = -torch.logsumexp(alpha[-2:], dim=0)
    return loss if loss.item() < -_IMPOSSIBLE / 2 else lp.new_tensor(math.inf)


def ctc_loss_brute_force(log_probs: torch.Tensor, target: Sequence[int], blank: int = 0
                         ) -> torch.Tensor:
    """``-log`` of the summed probability of every path that collapses to ``target``.

    Enumerates all ``C ** T`` paths: only for tiny ``T`` and ``C``. Differentiable, float64.
    """
    lp = log_probs.to(torch.float64)
    frames, classes = lp.shape
    target = [int(k) for k in target]
    matching = [path for path in itertools.product(range(classes), repeat=frames)
                if collapse(path, blank) == target]
    if not matching:
        return lp.new_tensor(math.inf) + 0.0 * lp.sum()
    paths = torch.tensor(matching, dtype=torch.int64).reshape(len(matching), frames)
    scores = lp[torch.arange(frames), paths].sum(dim=1)
    return -torch.logsumexp(scores, dim=0)


def collapse(path: Sequence[int], blank: int) -> list[int]:
    """Merge repeated classes, then drop blanks (the CTC map B, Graves et al. 2006 sec. 3.1)."""
    out: list[int] = []
    previous = None
    for k in path:
        if k != previous and k != blank:
            out.append(k)
        previous = k
    return out
