"""Training engine shared by speech and handwriting: config, batching, loop, checkpoints."""

from ctc.train.config import TrainConfig, load_config, save_config
from ctc.train.engine import run_training

__all__ = ["TrainConfig", "load_config", "run_training", "save_config"]
