"""Turning CTC posteriors into token sequences and text."""

from ctc.decode.beam import BeamSearchDecoder
from ctc.decode.factory import BACKENDS, make_decoder
from ctc.decode.greedy import GreedyDecoder, greedy_decode
from ctc.decode.hypothesis import Hypothesis, WordSpan

__all__ = ["BACKENDS", "BeamSearchDecoder", "GreedyDecoder", "Hypothesis", "WordSpan",
           "greedy_decode", "make_decoder"]
