"""Fixtures shared across test modules."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image, ImageDraw

from ctc.data.manifest import Record, write_manifest

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


# ----------------------------------------------------------- tiny models through the commands

SPEECH_CONFIG = """
frontend: {n_mels: 40}
model: {subsampling: 4, conv_channels: 4, layers: 1, hidden: 16}
optim: {lr: 1.0e-3, warmup_steps: 1}
train: {epochs: 1, max_steps: 2, device: cpu, ctc_impl: torch, progress: false,
        average_last: 0, keep_best: 1}
data: {max_frames: 4000}
"""

LINE_CONFIG = """
frontend: {height: 16, augment: false}
model: {frontend: line_cnn, cnn_channels: [4, 8], cnn_pooled: 1, layers: 1, hidden: 16}
optim: {lr: 1.0e-3, warmup_steps: 1}
train: {epochs: 1, max_steps: 2, device: cpu, ctc_impl: torch, progress: false,
        average_last: 0, keep_best: 1}
data: {max_frames: 4000}
"""


def speech(path: Path, seconds: float = 1.0, seed: int = 0, rate: int = 16000) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(path, wave.astype(np.float32), rate)


def line_image(path: Path, text: str, width: int = 160, height: int = 32) -> None:
    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).text((6, 8), text, fill=0)
    image.save(path)


@pytest.fixture(scope="session")
def speech_model(tmp_path_factory) -> Path:
    """A folder with ``u0..u3.wav``, ``train.jsonl``, ``tiny.yaml`` and ``exp/`` (a model)."""
    from asr.cli import main

    root = tmp_path_factory.mktemp("speech")
    records = []
    for i in range(4):
        speech(root / f"u{i}.wav", 1.0 + 0.2 * i, i)
        records.append(Record(f"u{i}", "audio", f"u{i}.wav", "AB BA" if i % 2 else "A B",
                              duration=1.0 + 0.2 * i))
    write_manifest(root / "train.jsonl", records)
    (root / "tiny.yaml").write_text(SPEECH_CONFIG)
    assert main(["train", "--config", str(root / "tiny.yaml"), "--train",
                 str(root / "train.jsonl"), "--valid", str(root / "train.jsonl"), "--out",
                 str(root / "exp")]) == 0
    return root


@pytest.fixture(scope="session")
def digit_model(tmp_path_factory) -> Path:
    """Lines of digits with no space anywhere (a vocabulary without a word delimiter, as digit
    fields and word images have): ``l0..l5.png``, ``train.jsonl``, ``tiny.yaml``, ``exp/``."""
    from handwriting.cli import main

    root = tmp_path_factory.mktemp("digits")
    records = []
    for i, text in enumerate(["0123", "4567", "8901", "2345", "6789", "1357"]):
        line_image(root / f"l{i}.png", text)
        records.append(Record(f"l{i}", "image", f"l{i}.png", text, width=160, height=32))
    write_manifest(root / "train.jsonl", records)
    (root / "tiny.yaml").write_text(LINE_CONFIG)
    assert main(["train", "--config", str(root / "tiny.yaml"), "--train",
                 str(root / "train.jsonl"), "--valid", str(root / "train.jsonl"), "--out",
                 str(root / "exp")]) == 0
    return root


@pytest.fixture(scope="session")
def write_speech():
    """``write_speech(path, seconds=1.0, seed=0, rate=16000)``: a short synthetic recording."""
    return speech


@pytest.fixture(scope="session")
def write_line():
    """``write_line(path, text, width=160, height=32)``: a line image of ``text``."""
    return line_image
