"""Turning CTC posteriors into token sequences and text."""

from ctc.decode.greedy import greedy_decode
from ctc.decode.hypothesis import Hypothesis

__all__ = ["Hypothesis", "greedy_decode"]
