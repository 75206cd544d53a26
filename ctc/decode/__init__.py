"""Turning CTC posteriors into token sequences and text."""

from ctc.decode.beam import BeamSearchDecoder
from ctc.decode.config import DecodeConfig
from ctc.decode.factory import BACKENDS, build_decoder, make_decoder
from ctc.decode.greedy import GreedyDecoder, greedy_decode
from ctc.decode.hypothesis import Hypothesis, WordSpan

__all__ = ["BACKENDS", "BeamSearchDecoder", "DecodeConfig", "GreedyDecoder", "Hypothesis",
           "WordSpan", "build_decoder", "greedy_decode", "make_decoder"]
