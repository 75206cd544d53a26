"""Fixtures shared across test modules."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

# a model that trains on 12 synthetic utterances in seconds
TINY_TRAINING = ["train.ctc_impl=torch", "model.layers=1", "model.hidden=32",
                 "model.conv_channels=4", "model.subsampling=2", "optim.lr=1e-2",
                 "optim.warmup_steps=3", "optim.schedule=constant", "data.max_frames=100",
                 "train.progress=false", "train.checkpoint_every=0", "train.epochs=8"]


@pytest.fixture(scope="session")
def train_tiny_experiment(tmp_path_factory) -> Callable[..., Path]:
    """Train a tiny model on synthetic features (one thread); extra ``--set`` overrides allowed.

    Returns the experiment directory.
    """
    from ctc.train import load_config, run_training
    from ctc.train.synthetic import SyntheticFeaturizer, synthetic_records

    def train(*overrides: str) -> Path:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            out = tmp_path_factory.mktemp("exp")
            records = synthetic_records(12)
            run_training(load_config(None, [*TINY_TRAINING, *overrides]),
                         SyntheticFeaturizer(feature_dim=8), records, records, out)
        finally:
            torch.set_num_threads(threads)
        return out

    return train


@pytest.fixture(scope="session")
def kenlm_bin() -> Path:
    """The folder holding KenLM's lmplz and build_binary (``tools/build_kenlm.sh`` builds them;
    ``CAROUSEL_KENLM_BIN`` overrides); the test is skipped where they were not built."""
    folder = Path(os.environ.get("CAROUSEL_KENLM_BIN",
                                 Path(__file__).resolve().parents[1] / "build" / "kenlm" / "bin"))
    if not ((folder / "lmplz").is_file() and (folder / "build_binary").is_file()):
        pytest.skip(f"KenLM programs not built in {folder} (run tools/build_kenlm.sh)")
    return folder


def _zipf_sentences(n: int = 1500, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(80)]
    weights = [1.0 / (i + 1) for i in range(80)]
    return [rng.choices(words, weights, k=rng.randint(0, 10)) for _ in range(n)]


@pytest.fixture(scope="session")
def zipf_corpus() -> Callable[..., list[list[str]]]:
    """``zipf_corpus(n=1500, seed=0)``: n sentences of 0-10 words drawn from 80 Zipfian words,
    a small LM training text with repeated n-grams at every order."""
    return _zipf_sentences
