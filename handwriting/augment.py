"""Training-time distortions of normalised line images, deterministic under a numpy Generator.

All functions take and return ``(H, W)`` float32 ink images in ``[0, 1]`` (ink high, paper 0) and
keep the height H; geometric ones may change the width W. The recipe follows the random affine +
morphology augmentation of PyLaia / Puigcerver (2017) and the elastic distortion of Simard et al.
(2003): smoothed random displacement fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each distortion (a probability of 0 disables it)."""

    affine_prob: float = 0.5
    shear: float = 0.35  # max |horizontal shear| (slant), x' = x + shear * (y - H/2)
    scale_x: float = 0.15  # horizontal scale in [1 - s, 1 + s]
    scale_y: float = 0.12  # vertical scale in [1 - s, 1 + s/2]
    rotate_deg: float = 1.5  # max |rotation| in degrees
    elastic_prob: float = 0.3
    elastic_alpha: float = 1.5  # displacement amplitude, in pixels at height 64
    elastic_sigma: float = 4.0  # smoothing of the field, in pixels at height 64
    morph_prob: float = 0.4  # erosion or dilation with a 2x2 / 3x3 grey structuring element
    intensity_prob: float = 0.5
    contrast: float = 0.3  # ink gain in [1 - c, 1]
    brightness: float = 0.12  # max paper level added
    noise_prob: float = 0.3
    noise_std: float = 0.06

    def to_dict(self) -> dict:
        return asdict(self)


def random_affine(ink: np.ndarray, rng: np.random.Generator, *, shear: float = 0.35,
                  scale_x: float = 0.15, scale_y: float = 0.12,
                  rotate_deg: float = 1.5) -> np.ndarray:
    """Random shear, anisotropic scale and small rotation about the image centre.

    The output keeps height H and takes the width that holds the transformed line.
    """
    h, w = ink.shape
    s = rng.uniform(-shear, shear)
    sx = rng.uniform(1.0 - scale_x, 1.0 + scale_x)
    sy = rng.uniform(1.0 - scale_y, 1.0 + scale_y / 2.0)
    theta = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg))
    c, si = np.cos(theta), np.sin(theta)
    # forward map on (y, x) coordinates centred on the image: rotate @ shear @ scale
    scale = np.diag([sy, sx])
    shear_m = np.array([[1.0, 0.0], [s, 1.0]])
    rot = np.array([[c, -si], [si, c]])
    forward = rot @ shear_m @ scale
    corners = np.array([[-h / 2, -w / 2], [-h / 2, w / 2], [h / 2, -w / 2], [h / 2, w / 2]])
    xs = corners @ forward.T
    out_w = max(1, int(np.ceil(xs[:, 1].max() - xs[:, 1].min())))
    inverse = np.linalg.inv(forward)
    out_centre = np.array([h / 2.0, out_w / 2.0])
    in_centre = np.array([h / 2.0, w / 2.0])
    offset = in_centre - inverse @ out_centre
    out = ndimage.affine_transform(ink, inverse, offset=offset, output_shape=(h, out_w), order=1,
                                   mode="constant", cval=0.0)
    return out.astype(np.float32, copy=False)


def elastic(ink: np.ndarray, rng: np.random.Generator, *, alpha: float = 1.5,
            sigma: float = 4.0) -> np.ndarray:
    """Elastic distortion: displace pixels by a Gaussian-smoothed random field.

    ``alpha`` and ``sigma`` are in pixels at height 64 and scale with the image height.
    """
    h, w = ink.shape
    k = h / 64.0
    sig = max(sigma * k, 0.5)
    field = rng.uniform(-1.0, 1.0, size=(2, h, w))
    field = ndimage.gaussian_filter(field, sigma=(0, sig, sig), mode="constant")
    peak = np.abs(field).max() or 1.0
    field *= alpha * k / peak
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    coords = np.stack([yy + field[0], xx + field[1]])
    out = ndimage.map_coordinates(ink, coords, order=1, mode="constant", cval=0.0)
    return out.astype(np.float32, copy=False)


def morphology(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Thin (erosion) or thicken (dilation) strokes with a 2x2 or 3x3 grey structuring element."""
    size = int(rng.choice([2, 3])) if ink.shape[0] >= 48 else 2
    op = ndimage.grey_dilation if rng.random() < 0.5 else ndimage.grey_erosion
    return op(ink, size=(size, size)).astype(np.float32, copy=False)


def intensity(ink: np.ndarray, rng: np.random.Generator, *, contrast: float = 0.3,
              brightness: float = 0.12) -> np.ndarray:
    """Lighter ink (gain in ``[1 - contrast, 1]``) on darker paper (level <= ``brightness``)."""
    gain = rng.uniform(1.0 - contrast, 1.0)
    paper = rng.uniform(0.0, brightness)
    return (paper + (gain - paper) * ink).astype(np.float32, copy=False)


def gaussian_noise(ink: np.ndarray, rng: np.random.Generator, *, std: float = 0.06) -> np.ndarray:
    """Add i.i.d. Gaussian noise of standard deviation ``std``."""
    return (ink + rng.normal(0.0, std, size=ink.shape)).astype(np.float32)


def augment(ink: np.ndarray, rng: np.random.Generator,
            config: AugmentConfig | None = None) -> np.ndarray:
    """Apply each distortion of ``config`` with its probability; result clipped to ``[0, 1]``.

    ``ink``: ``(H, W)`` float32. Returns ``(H, W')`` float32, W' >= 1. Same ``rng`` state, same
    output.
    """
    cfg = config or AugmentConfig()
    out = ink.astype(np.float32, copy=False)
    # draw every coin first so the sequence of random numbers does not depend on earlier branches
    coins = rng.random(5)
    if coins[0] < cfg.affine_prob:
        out = random_affine(out, rng, shear=cfg.shear, scale_x=cfg.scale_x, scale_y=cfg.scale_y,
                            rotate_deg=cfg.rotate_deg)
    if coins[1] < cfg.elastic_prob:
        out = elastic(out, rng, alpha=cfg.elastic_alpha, sigma=cfg.elastic_sigma)
    if coins[2] < cfg.morph_prob:
        out = morphology(out, rng)
    if coins[3] < cfg.intensity_prob:
        out = intensity(out, rng, contrast=cfg.contrast, brightness=cfg.brightness)
    if coins[4] < cfg.noise_prob:
        out = gaussian_noise(out, rng, std=cfg.noise_std)
    return np.clip(out, 0.0, 1.0, out=out)
