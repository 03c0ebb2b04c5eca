"""Grid suppression and illumination flattening: turn an ECG page into a "trace darkness" map.

Why: the trace is dark and unsaturated, the grid is coloured (red, pink, orange, green, blue) or a
light grey, and phone photos add slow shading. Taking the *brightest* colour channel makes a
coloured grid look almost white while a black trace stays dark; dividing by a large-scale
estimate of the paper brightness removes shadows and tinted paper. All costly work happens here
once, so that re-thresholding in :mod:`ecgviewer.digitize.binarize` is a plain comparison.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ecgviewer.errors import ImageTooSmallError

_BG_BLOCK_MAX_PX = 8  # block size of the downscaled background estimate


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as H×W×3 uint8 (greyscale is replicated, alpha is composited on white)."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an H×W, H×W×3 or H×W×4 image, got shape {img.shape}")
    if img.dtype != np.uint8:
        f = img.astype(np.float32)
        if f.max(initial=0.0) <= 1.0:
            f = f * 255.0
        img = np.clip(f + 0.5, 0, 255).astype(np.uint8)
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        img = (rgb + 0.5).astype(np.uint8)
    if img.shape[0] < 8 or img.shape[1] < 8:
        raise ImageTooSmallError(f"image of {img.shape[1]}×{img.shape[0]} px is too small")
    return img


def _block_max(a: np.ndarray, block: int) -> np.ndarray:
    """Downscale by taking the maximum of each ``block``×``block`` tile (edges padded)."""
    h, w = a.shape
    hp, wp = -(-h // block) * block, -(-w // block) * block
    if (hp, wp) != (h, w):
        a = np.pad(a, ((0, hp - h), (0, wp - w)), mode="edge")
    return a.reshape(hp // block, block, wp // block, block).max(axis=(1, 3))


def _upsample(small: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a block-downscaled map back to ``shape`` (separable, cheap)."""
    h, w = shape
    ys = (np.arange(h, dtype=np.float32) + 0.5) / block - 0.5
    xs = (np.arange(w, dtype=np.float32) + 0.5) / block - 0.5
    ys = np.clip(ys, 0, small.shape[0] - 1)
    xs = np.clip(xs, 0, small.shape[1] - 1)
    y0 = np.floor(ys).astype(np.intp)
    x0 = np.floor(xs).astype(np.intp)
    y1 = np.minimum(y0 + 1, small.shape[0] - 1)
    x1 = np.minimum(x0 + 1, small.shape[1] - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    rows = small[y0] * (1 - fy) + small[y1] * fy  # (h, ws)
    return rows[:, x0] * (1 - fx) + rows[:, x1] * fx


def paper_background(value: np.ndarray, block: int = _BG_BLOCK_MAX_PX) -> np.ndarray:
    """Large-scale paper brightness of a float image in [0,1] (same shape).

    Block maximum (ignores thin dark ink and grid) → grey closing over a few blocks (bridges
    wider dark features such as text or thick traces) → Gaussian smoothing → upsampling.
    """
    h, w = value.shape
    block = max(2, min(block, min(h, w) // 16 or 2))
    small = _block_max(value, block)
    size = max(3, int(round(min(small.shape) / 25)) | 1)
    small = ndimage.grey_closing(small, size=(size, size))
    small = ndimage.median_filter(small, size=3)
    small = ndimage.gaussian_filter(small, sigma=size / 2.0, mode="nearest")
    return _upsample(small.astype(np.float32), block, (h, w))


def trace_darkness(image_rgb: np.ndarray) -> np.ndarray:
    """Float32 H×W map in [0, 1]: higher = more likely trace ink.

    The value of a pixel is its brightest channel (so coloured grid lines stay bright while
    black/blue-black ink stays dark), divided by the local paper brightness (flattening shadows
    and tinted paper); darkness is one minus that, stretched so that paper is 0.
    """
    img = as_rgb_uint8(image_rgb)
    value = img.max(axis=2).astype(np.float32) * np.float32(1.0 / 255.0)
    background = paper_background(value)
    np.maximum(background, np.float32(0.05), out=background)
    dark = 1.0 - value / background
    np.clip(dark, 0.0, 1.0, out=dark)
    return dark.astype(np.float32, copy=False)
