"""Text-line images: loading, sanity checks and normalisation to a fixed height.

A normalised line is a ``(H, W)`` float32 array in ``[0, 1]`` with ink high and background 0
(the layout ``ctc.modality`` documents for images). ``LineGeometry`` records how normalised columns
map back to the pixels of the original file, so recognised characters can be placed on it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ctc.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".webp")

# A text line is wide and short; anything outside these bounds is not a line image.
MAX_WIDTH_OVER_HEIGHT = 400.0
MAX_HEIGHT_OVER_WIDTH = 12.0
MIN_CONTRAST = 8  # grey levels between the darkest and the brightest pixel


@dataclass(frozen=True)
class LineGeometry:
    """Where normalised column ``c`` lies in the original image: ``x = x0 + c * scale``.

    ``x0``: first original column kept after cropping; ``scale``: original pixels per normalised
    column; ``width``/``height``: size of the original image.
    """

    x0: float
    scale: float
    width: int
    height: int

    def to_original(self, column: float) -> float:
        return self.x0 + column * self.scale


def load_gray(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``(H, W)`` uint8 grey levels (0 black, 255 white).

    Alpha is composited on white; multi-page TIFFs give their first page. Raises InputError naming
    the file when it is missing, unreadable, empty, all one colour or not line-shaped.
    """
    name = os.fspath(path)
    gray = read_gray(name)
    check_line_shape(gray, name)
    return gray


def read_gray(path: str | os.PathLike, *, transpose: bool | None = True,
              size: tuple[int, int] | None = None) -> np.ndarray:
    """Any image file (a line or a whole page) as ``(H, W)`` uint8 grey levels, unchecked.

    ``transpose``: apply the EXIF orientation (True), not (False), or (None) only when that
    gives ``size`` ``(width, height)`` and the stored pixels do not (a page's XML names the size
    its coordinates refer to). InputError naming the file when it is missing or unreadable.
    """
    name = os.fspath(path)
    with _reading(name), Image.open(name) as image:
        image.seek(0)
        if transpose or (transpose is None and size is not None
                         and tuple(image.size) != tuple(size)):
            turned = ImageOps.exif_transpose(image)
            if transpose or tuple(turned.size) == tuple(size or ()):
                image = turned
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.float64)
            top = array.max() or 1.0
            gray = np.round(array * (255.0 / top)).astype(np.uint8)
        else:
            gray = np.asarray(image.convert("L"), dtype=np.uint8)
    return gray


def _reason(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


@contextlib.contextmanager
def _reading(name: str) -> Iterator[None]:
    """Turn what Pillow raises for a missing, corrupt, truncated or oversized image into an
    InputError naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(f"{name}: image not found") from None
    except Image.DecompressionBombError as err:
        raise InputError(f"{name}: image too large ({err})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise InputError(f"{name}: unreadable image ({_reason(err)})") from None


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file, decoding all of it (a truncated file is caught
    here, not when training reaches it); InputError naming the file otherwise."""
    name = os.fspath(path)
    with _reading(name), Image.open(name) as image:
        image.load()
        return image.size


def check_line_shape(gray: np.ndarray, name: str) -> None:
    """Raise InputError unless ``gray`` ``(H, W)`` can be a text line image."""
    h, w = gray.shape[:2] if gray.ndim >= 2 else (0, 0)
    if h == 0 or w == 0:
        raise InputError(f"{name}: empty image ({w}x{h} pixels)")
    if w > MAX_WIDTH_OVER_HEIGHT * h or h > MAX_HEIGHT_OVER_WIDTH * w:
        raise InputError(f"{name}: absurd aspect ratio for a text line ({w}x{h} pixels)")
    if int(gray.max()) - int(gray.min()) < MIN_CONTRAST:
        raise InputError(f"{name}: blank image (all one colour, {w}x{h} pixels)")


def otsu_threshold(gray: np.ndarray) -> int:
    """Otsu's (1979) threshold of uint8 grey levels: maximises the between-class variance."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    prob = hist / hist.sum()
    omega = np.cumsum(prob)  # weight of the class <= t
    mu = np.cumsum(prob * np.arange(256))
    mu_total = mu[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu_total * omega - mu) ** 2 / (omega * (1.0 - omega))
    between = np.nan_to_num(between, nan=0.0, posinf=0.0)
    return int(np.argmax(between))


def ink_map(gray: np.ndarray, *, binarize: bool = False, contrast: bool = True) -> np.ndarray:
    """``(H, W)`` uint8 grey levels -> ``(H, W)`` float32 ink in ``[0, 1]`` (ink high).

    ``binarize``: Otsu threshold, ink 1 and paper 0. ``contrast``: stretch so that the paper
    level (the median: most of a line image is paper) maps to 0 and the darkest ink (99.5th
    percentile of ink) to 1.
    """
    if binarize:
        return (gray <= otsu_threshold(gray)).astype(np.float32)
    ink = (255.0 - gray.astype(np.float32)) / 255.0
    if contrast:
        lo = float(np.median(ink))
        hi = float(np.percentile(ink, 99.5))
        if hi - lo < 1e-3:
            hi = float(ink.max())
        if hi - lo >= 1e-3:
            ink = np.clip((ink - lo) / (hi - lo), 0.0, 1.0)
    return ink.astype(np.float32, copy=False)


def crop_box(ink: np.ndarray, threshold: float = 0.2, margin: int = 2) -> tuple[int, int, int, int]:
    """Bounding box ``(top, bottom, left, right)`` (exclusive ends) of pixels above ``threshold``,
    widened by ``margin``; the whole image when there is no such pixel."""
    h, w = ink.shape
    mask = ink > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, h, 0, w
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin),
            max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin))


def estimate_slant(ink: np.ndarray, shears: np.ndarray | None = None) -> float:
    """Slant of the strokes as a shear ``s`` (stroke x grows by ``s`` per row downwards).

    Vinciarelli & Luettin (2001), simplified: for each candidate correction ``c`` (x' = x + c *
    (y - H/2)), the corrected image's column sums are computed by shifting pixels; vertical
    strokes concentrate ink in few columns, which maximises the sum of squared column sums.
    Returns ``-c`` for the best ``c`` (0 when no candidate beats no correction), so that
    ``shear_horizontal(ink, -slant)`` straightens the line.
    """
    if shears is None:
        shears = np.linspace(-0.6, 0.6, 25)
    h, w = ink.shape
    weights = ink.astype(np.float64)
    ys = np.arange(h, dtype=np.float64) - h / 2.0
    pad = int(np.ceil(np.abs(shears).max() * h / 2.0)) + 1
    rows, cols = np.nonzero(weights > 0.3)
    if rows.size == 0:
        return 0.0
    vals = weights[rows, cols]
    # (S, P): column index of every ink pixel under every shear
    shifted = np.rint(cols[None, :] + shears[:, None] * ys[rows][None, :]).astype(np.int64) + pad
    width = w + 2 * pad
    flat = shifted + np.arange(len(shears))[:, None] * width
    sums = np.bincount(flat.ravel(), weights=np.broadcast_to(vals, shifted.shape).ravel(),
                       minlength=len(shears) * width).reshape(len(shears), width)
    score = (sums ** 2).sum(axis=1)
    best = int(np.argmax(score))
    zero = int(np.argmin(np.abs(shears)))
    return -float(shears[best]) if score[best] > score[zero] * 1.01 else 0.0


def shear_horizontal(ink: np.ndarray, shear: float) -> tuple[np.ndarray, float]:
    """Apply x' = x + shear * (y - H/2) to ``(H, W)`` ink; return the image and the column of the
    output where original column 0 lands (the horizontal offset introduced)."""
    if shear == 0.0:
        return ink, 0.0
    from scipy import ndimage

    h, w = ink.shape
    extra = int(np.ceil(abs(shear) * h / 2.0))
    out_w = w + 2 * extra
    # output (y, x') samples input (y, x' - extra - shear * (y - H/2))
    matrix = np.array([[1.0, 0.0], [-shear, 1.0]])
    offset = np.array([0.0, -extra + shear * h / 2.0])
    out = ndimage.affine_transform(ink, matrix, offset=offset, output_shape=(h, out_w), order=1,
                                   mode="constant", cval=0.0)
    return out.astype(np.float32, copy=False), float(extra)


def resize_height(ink: np.ndarray, height: int) -> np.ndarray:
    """Resize ``(h, w)`` float ink to ``(height, round(w * height / h))`` keeping the aspect."""
    h, w = ink.shape
    new_w = max(1, round(w * height / h))
    image = Image.fromarray(ink.astype(np.float32, copy=False), mode="F")
    resample = Image.Resampling.BOX if height < h else Image.Resampling.BILINEAR
    out = np.asarray(image.resize((new_w, height), resample=resample), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)


def normalize_line(gray: np.ndarray, height: int, *, binarize: bool = False,
                   contrast: bool = True, deslant: bool = False,
                   crop: bool = True) -> tuple[np.ndarray, LineGeometry]:
    """Grey levels ``(h, w)`` -> normalised ink ``(height, W)`` float32 and its geometry.

    Steps: ink map (optionally binarised / contrast-stretched), crop to the ink's bounding box,
    optional slant correction, resize to ``height`` keeping the aspect ratio.
    """
    orig_h, orig_w = gray.shape
    ink = ink_map(gray, binarize=binarize, contrast=contrast)
    x0 = 0
    if crop:
        top, bottom, left, right = crop_box(ink)
        ink = ink[top:bottom, left:right]
        x0 = left
    shift = 0.0
    if deslant:
        ink, shift = shear_horizontal(ink, -estimate_slant(ink))
    scale = ink.shape[0] / height
    out = resize_height(ink, height)
    return out, LineGeometry(x0=x0 - shift, scale=scale, width=orig_w, height=orig_h)


def list_images(paths: list[str]) -> list[str]:
    """Expand directories (recursively, sorted) into image files; plain files pass through."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                out += [os.path.join(root, f) for f in sorted(files)
                        if f.lower().endswith(IMAGE_SUFFIXES)]
        else:
            out.append(path)
    return out
