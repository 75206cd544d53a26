"""Encoder models: conv front-ends, recurrent encoders and the CTC model."""

from ctc.models.ctc_model import CTCModel, ModelConfig, build_model
from ctc.models.frontends import Conv2dSubsampling, LineCNN
from ctc.models.rnn import PeepholeLSTM, RNNEncoder, reversal_index, reverse_padded

__all__ = ["CTCModel", "Conv2dSubsampling", "LineCNN", "ModelConfig", "PeepholeLSTM",
           "RNNEncoder", "build_model", "reversal_index", "reverse_padded"]
