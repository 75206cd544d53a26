"""Best-path (greedy) CTC decoding: argmax per frame, merge repeats, drop blanks (compiled)."""

from __future__ import annotations

from typing import Any

from ctc._ext import load_extension
from ctc.decode._inputs import as_batch
from ctc.decode.hypothesis import Hypothesis, paused_gc


def greedy_decode(log_probs: Any, lengths: Any | None = None, blank: int = 0
                  ) -> list[Hypothesis]:
    """Decode a batch by the best path.

    Args:
        log_probs: ``(N, T, V)`` log-posteriors (or logits: argmax is the same), tensor or array.
        lengths: ``(N,)`` valid frames per sequence; all ``T`` if None.
        blank: index of the blank token.

    Returns:
        N hypotheses, each with collapsed tokens, the frame where each token starts, and the
        best-path log score (sum of per-frame maxima).
    """
    array, lens = as_batch(log_probs, lengths)
    if not 0 <= blank < array.shape[2]:
        raise ValueError(f"blank {blank} is outside the vocabulary of size {array.shape[2]}")
    results = load_extension().greedy_batch(array, lens, blank)
    with paused_gc():
        return [Hypothesis(tuple(tokens), tuple(frames), float(score))
                for tokens, frames, score in results]


class GreedyDecoder:
    """Callable greedy decoder returning complete hypotheses (text and words from the word
    convention of ``tokens``, see :class:`ctc.data.tokens.TokenText`; ``lm_score`` 0)."""

    def __init__(self, tokens: list[str], blank: int = 0, word_delimiter: str | None = " ",
                 word_prefix: str | None = None) -> None:
        from ctc.data.tokens import TokenText

        self.text = TokenText(tokens, blank, word_delimiter, word_prefix)
        self.blank = blank

    def __call__(self, log_probs: Any, lengths: Any | None = None) -> list[Hypothesis]:
        out = []
        hyps = greedy_decode(log_probs, lengths, self.blank)
        with paused_gc():
            for h in hyps:
                out.append(Hypothesis(h.tokens, h.frames, h.score, self.text.text(h.tokens),
                                      self.text.words(h.tokens, h.frames)))
        return out
