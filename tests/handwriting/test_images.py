"""Line image loading, normalisation, augmentation and the featurizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ctc.data.manifest import Record
from ctc.errors import InputError
from ctc.modality import Featurizer, featurizer_from_state, featurizer_state
from handwriting import augment as aug
from handwriting.featurizer import LineImageFeaturizer
from handwriting.images import (
    estimate_slant,
    load_gray,
    normalize_line,
    otsu_threshold,
    shear_horizontal,
)


def _line(h: int = 40, w: int = 200, margin: int = 5) -> np.ndarray:
    """White page with black vertical bars (strokes) inside a margin."""
    gray = np.full((h, w), 250, dtype=np.uint8)
    for x in range(margin + 5, w - margin - 5, 12):
        gray[margin:h - margin, x:x + 3] = 20
    return gray


def _save(tmp_path, name, array, **kw):
    path = tmp_path / name
    Image.fromarray(array).save(path, **kw)
    return str(path)


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif"])
def test_load_formats(tmp_path, suffix):
    path = _save(tmp_path, f"a.{suffix}", _line())
    gray = load_gray(path)
    assert gray.shape == (40, 200) and gray.dtype == np.uint8
    assert gray.min() < 60 and gray.max() > 200


def test_load_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((30, 90, 4), dtype=np.uint8)  # fully transparent ...
    rgba[10:20, 10:80] = (0, 0, 0, 255)  # ... except an opaque black bar
    gray = load_gray(_save(tmp_path, "a.png", rgba))
    assert gray[0, 0] == 255 and gray[15, 40] == 0


@pytest.mark.parametrize("array,message", [
    (np.full((30, 100), 255, np.uint8), "blank image"),
    (np.full((30, 100), 0, np.uint8), "blank image"),
    (np.tile(np.array([[0, 255]], np.uint8), (1, 1000)), "aspect ratio"),
    (np.tile(np.array([[0], [255]], np.uint8), (100, 3)), "aspect ratio"),
])
def test_bad_images_one_line_error(tmp_path, array, message):
    path = _save(tmp_path, "bad.png", array)
    with pytest.raises(InputError) as err:
        load_gray(path)
    assert message in str(err.value) and path in str(err.value)
    assert "\n" not in str(err.value)


def test_unreadable_and_missing(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match=r"junk.png: unreadable image"):
        load_gray(junk)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.png"):
        load_gray(empty)
    with pytest.raises(InputError, match=r"nope.png: image not found"):
        load_gray(tmp_path / "nope.png")


def test_otsu_separates_two_levels():
    gray = np.concatenate([np.full(500, 30), np.full(1500, 220)]).astype(np.uint8)
    t = otsu_threshold(gray)
    assert 30 <= t < 220


@pytest.mark.parametrize("binarize", [False, True])
def test_normalize_height_aspect_inversion(binarize):
    gray = _line(h=40, w=200, margin=0)
    ink, geo = normalize_line(gray, 32, binarize=binarize, crop=False)
    assert ink.shape == (32, 160) and ink.dtype == np.float32
    assert 0.0 <= ink.min() and ink.max() <= 1.0
    # ink (dark bars) is high, paper is 0
    assert ink[:, 5 * 32 // 40 + 1].mean() > 0.8
    assert ink[:, 0].max() < 0.05
    assert geo.scale == pytest.approx(40 / 32) and geo.x0 == 0


def test_normalize_crops_margins_and_maps_back():
    gray = np.full((60, 300), 255, np.uint8)
    gray[20:40, 100:200] = 0
    ink, geo = normalize_line(gray, 16)
    # the crop keeps the ink box plus 2 px of margin: 24 x 104 -> 16 x 69
    assert ink.shape[0] == 16 and abs(ink.shape[1] - round(104 * 16 / 24)) <= 1
    cols = np.flatnonzero(ink.max(axis=0) > 0.5)
    assert abs(geo.to_original(cols[0]) - 100) <= 3
    assert abs(geo.to_original(cols[-1] + 1) - 200) <= 3


def test_slant_estimate_and_correction():
    ink = np.zeros((40, 200), np.float32)
    ys = np.arange(40)
    for x in range(30, 170, 20):  # strokes slanted by +0.4 (x grows with y)
        xs = np.rint(x + 0.4 * (ys - 20)).astype(int)
        ink[ys, xs] = 1.0
    s = estimate_slant(ink)
    assert s == pytest.approx(0.4, abs=0.06)
    straight, _ = shear_horizontal(ink, -s)
    assert estimate_slant(straight) == pytest.approx(0.0, abs=0.06)


def _ink(seed=0, h=32, w=120):
    rng = np.random.default_rng(seed)
    return (rng.random((h, w)) > 0.8).astype(np.float32)


def test_augment_deterministic_and_in_range():
    ink = _ink()
    a = aug.augment(ink, np.random.default_rng(5))
    b = aug.augment(ink, np.random.default_rng(5))
    c = aug.augment(ink, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert a.shape[0] == 32 and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_augment_changes_image_and_keeps_height():
    always = aug.AugmentConfig(affine_prob=1, elastic_prob=1, morph_prob=1, intensity_prob=1,
                               noise_prob=1)
    ink = _ink()
    for seed in range(5):
        out = aug.augment(ink, np.random.default_rng(seed), always)
        assert out.shape[0] == ink.shape[0] and out.shape[1] >= 1
        assert not (out.shape == ink.shape and np.allclose(out, ink))
    never = aug.AugmentConfig(affine_prob=0, elastic_prob=0, morph_prob=0, intensity_prob=0,
                              noise_prob=0)
    np.testing.assert_array_equal(aug.augment(ink, np.random.default_rng(0), never), ink)


def test_affine_identity_ranges_preserve_image():
    ink = _ink()
    out = aug.random_affine(ink, np.random.default_rng(0), shear=0, scale_x=0, scale_y=0,
                            rotate_deg=0)
    np.testing.assert_allclose(out, ink, atol=1e-6)


def test_affine_shear_widens_and_preserves_ink_mass():
    ink = np.zeros((32, 100), np.float32)
    ink[8:24, 20:80] = 1.0
    out = aug.random_affine(ink, np.random.default_rng(1), shear=0.5, scale_x=0, scale_y=0,
                            rotate_deg=0)
    assert out.shape[1] >= 100
    assert out.sum() == pytest.approx(ink.sum(), rel=0.05)


def test_morphology_and_intensity_properties():
    ink = np.zeros((48, 60), np.float32)
    ink[20:28, 10:50] = 1.0
    rng = np.random.default_rng(0)
    outs = {float(aug.morphology(ink, rng).sum()) for _ in range(20)}
    assert min(outs) < ink.sum() < max(outs)  # both erosion and dilation happen
    light = aug.intensity(ink, np.random.default_rng(1), contrast=0.3, brightness=0.1)
    assert light.max() <= 1.0 and light.min() >= 0.0 and light.min() <= 0.1


def test_elastic_keeps_shape_and_mass():
    ink = np.zeros((64, 128), np.float32)
    ink[20:44, 30:100] = 1.0
    out = aug.elastic(ink, np.random.default_rng(3), alpha=2.0, sigma=4.0)
    assert out.shape == ink.shape
    assert out.sum() == pytest.approx(ink.sum(), rel=0.1)
    assert not np.allclose(out, ink)


def test_featurizer_protocol_roundtrip_and_augment(tmp_path):
    path = _save(tmp_path, "line.png", _line(h=50, w=300))
    rec = Record(id="x", modality="image", path=path, text="abc", width=300, height=50)
    feat = LineImageFeaturizer(height=32, augment={"noise_prob": 1.0})
    assert isinstance(feat, Featurizer)
    assert feat.modality == "image" and feat.feature_dim == 32 and feat.frame_shift == 1.0
    x = feat(rec)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape[0] == 32
    y1 = feat(rec, train=True, rng=np.random.default_rng(0))
    y2 = feat(rec, train=True, rng=np.random.default_rng(0))
    assert torch.equal(y1, y2) and y1.shape[0] == 32
    state = featurizer_state(feat)
    assert state["kind"] == "line_image"
    again = featurizer_from_state(state)
    assert featurizer_state(again) == state
    assert torch.equal(again(rec), x)


def test_featurizer_bad_file_names_it(tmp_path):
    path = _save(tmp_path, "white.png", np.full((30, 90), 255, np.uint8))
    rec = Record(id="w", modality="image", path=path, text="")
    with pytest.raises(InputError, match=r"white.png: blank image"):
        LineImageFeaturizer()(rec)


def test_normalize_with_deslant_keeps_geometry():
    gray = np.full((40, 220), 255, np.uint8)
    ys = np.arange(40)
    for x in range(40, 180, 20):
        gray[ys, np.rint(x + 0.4 * (ys - 20)).astype(int)] = 0
    ink, geo = normalize_line(gray, 20, deslant=True, crop=False)
    assert ink.shape[0] == 20 and ink.shape[1] > 110
    cols = np.flatnonzero(ink.mean(axis=0) > 0.25)
    # the first stroke's centre (x = 40 at mid height) maps back to about x = 40
    first = cols[cols < cols[0] + 3].mean()
    assert abs(geo.to_original(first) - 40) <= 4


def test_load_16_bit_png(tmp_path):
    array = np.full((30, 120), 60000, np.uint16)
    array[10:20, 10:110] = 1000
    path = tmp_path / "deep.png"
    Image.fromarray(array).save(path)
    gray = load_gray(path)
    assert gray.dtype == np.uint8 and gray[15, 50] < 10 and gray[0, 0] > 240
