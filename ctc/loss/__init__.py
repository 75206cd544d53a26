"""CTC loss (compiled forward-backward) and feasibility checks."""

from ctc.loss.feasibility import required_frames, required_frames_batch
from ctc.loss.functional import ctc_loss, ctc_loss_from_logits
from ctc.loss.module import CTCLoss

__all__ = ["CTCLoss", "ctc_loss", "ctc_loss_from_logits", "required_frames",
           "required_frames_batch"]
