"""CTC loss (compiled forward-backward) and feasibility checks."""

from ctc.loss.feasibility import required_frames, required_frames_batch

__all__ = ["required_frames", "required_frames_batch"]
