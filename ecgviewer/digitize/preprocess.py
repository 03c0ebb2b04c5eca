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
        if img.dtype == np.uint16:
            f = f / 257.0
        elif f.max(initial=0.0) <= 1.0:
            f = f * 255.0
        img = np.clip(f + 0.5, 0, 255).astype(np.uint8)
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        img = (rgb + 0.5).astype(np.uint8)
    if img.shape[0] < 8 or img.shape[1] < 8:
        raise ImageTooSmallError(f"image of {img.shape[1]}×{img.shape[0]} px is too small")
    return img


def channel_min(img: np.ndarray) -> np.ndarray:
    """Darkest channel of an H×W×3 image (``img.min(axis=2)`` is ~8× slower on uint8)."""
    return np.minimum(np.minimum(img[:, :, 0], img[:, :, 1]), img[:, :, 2])


def channel_max(img: np.ndarray) -> np.ndarray:
    """Brightest channel of an H×W×3 image."""
    return np.maximum(np.maximum(img[:, :, 0], img[:, :, 1]), img[:, :, 2])


def paper_background(value: np.ndarray, step: int | None = None) -> np.ndarray:
    """Large-scale paper brightness of an image in [0,1] (same shape, float32).

    On a copy subsampled by ``step``: a maximum filter a few mm wide (ignores thin dark ink
    and grid lines), a median (drops specks), a Gaussian (smooth shading), then back to full
    size by pixel repetition (the field is smooth, so blocks of ``step`` px are invisible).
    """
    h, w = value.shape
    if step is None:
        step = max(1, round(max(h, w) / 250))
    small = value[::step, ::step]
    size = 5
    small = ndimage.maximum_filter(small, size=size)
    small = ndimage.median_filter(small, size=size)
    small = ndimage.gaussian_filter(small.astype(np.float32), sigma=size, mode="nearest")
    if step > 1:
        small = np.repeat(np.repeat(small, step, axis=0), step, axis=1)[:h, :w]
    return small


def _window_reduce(a: np.ndarray, length: int, axis: int, op) -> np.ndarray:
    """``op`` (np.minimum / np.maximum) over every window of ``length`` along ``axis``
    (sparse-table doubling: log2(length) whole-array operations); output is shorter by
    ``length - 1``."""
    n = a.shape[axis]
    length = int(min(max(1, length), n))
    m, k = a, 1
    while 2 * k <= length:
        m = op(_slice(m, 0, m.shape[axis] - k, axis), _slice(m, k, m.shape[axis], axis))
        k *= 2
    count = n - length + 1
    return op(_slice(m, 0, count, axis), _slice(m, length - k, length - k + count, axis))


def _slice(a: np.ndarray, start: int, stop: int, axis: int) -> np.ndarray:
    return a[start:stop] if axis == 0 else a[:, start:stop]


def line_opening(a: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Grey opening with a straight line of ``length`` px along ``axis``: each pixel keeps the
    darkness it shares with a straight run of at least ``length`` px through it."""
    length = int(min(max(1, length), a.shape[axis]))
    eroded = _window_reduce(a, length, axis, np.minimum)
    pad = [(0, 0), (0, 0)]
    pad[axis] = (length - 1, length - 1)
    eroded = np.pad(eroded, pad, constant_values=-np.inf)
    return _window_reduce(eroded, length, axis, np.maximum)


def _block_mean(a: np.ndarray, step: int, axis: int) -> np.ndarray:
    """Mean of ``step`` consecutive rows (axis 0) or columns (axis 1); the tail is dropped."""
    n = (a.shape[axis] // step) * step
    if axis == 0:
        return a[:n].reshape(n // step, step, a.shape[1]).mean(axis=1)
    return a[:, :n].reshape(a.shape[0], n // step, step).mean(axis=2)


def straight_line_background(dark: np.ndarray, length_px: int | None = None) -> np.ndarray:
    """Darkness explained by long straight horizontal or vertical lines (the grid).

    A grey opening with a line of ``length_px`` (default: 1/8 of the page's long side, about
    35 mm on a full page) in each direction. Grid lines run across the whole page; the trace
    is never straight and axis-aligned for that long (a QRS is slanted and short, a baseline
    wanders). Computed on a copy averaged over blocks of 4 px along the line (the line is
    constant along it; averaging bridges dotted lines and halftone gaps).
    """
    h, w = dark.shape
    if length_px is None:
        length_px = max(h, w) // 8
    step = 4
    sub_len = max(2, length_px // step)
    vert = line_opening(_block_mean(dark, step, 0), sub_len, axis=0)
    horiz = line_opening(_block_mean(dark, step, 1), sub_len, axis=1)
    vert = np.repeat(vert, step, axis=0)
    horiz = np.repeat(horiz, step, axis=1)
    out = np.zeros_like(dark)
    out[: vert.shape[0]] = vert
    np.maximum(out[:, : horiz.shape[1]], horiz, out=out[:, : horiz.shape[1]])
    return out


_LINE_CAP = 0.95  # straight-line darkness removed at most up to this fraction of the ink
_NOISY = 0.03  # pixel noise (robust std of darkness) above which the map is smoothed


def noise_level(dark: np.ndarray) -> float:
    """Robust standard deviation of pixel noise: median absolute horizontal difference of a
    subsample (lines and edges are rare, so the median sees the noise), scaled to a std."""
    sub = dark[::3, : (dark.shape[1] // 2) * 2]
    diff = np.abs(sub[:, 1::2] - sub[:, ::2])
    return float(np.median(diff)) * 1.4826 / np.sqrt(2.0)


def noise_floor(dark: np.ndarray) -> float:
    """Darkness that blank paper (with its texture, noise and grid remnants) stays below:
    median + 4 robust standard deviations of the map, at least 0.04."""
    d = np.asarray(dark, dtype=np.float32).ravel()
    med = float(np.median(d))
    return max(0.04, med + 4.0 * 1.4826 * float(np.median(np.abs(d - med))))


def _remove_lines(dark: np.ndarray, lines: np.ndarray, cap: float) -> None:
    """In place: dark <- (dark - min(lines, cap)) / (1 - min(lines, cap)), clipped at 0."""
    np.minimum(lines, np.float32(cap), out=lines)
    np.subtract(dark, lines, out=dark)
    np.subtract(np.float32(1.0), lines, out=lines)
    np.divide(dark, lines, out=dark)
    np.maximum(dark, np.float32(0.0), out=dark)


def trace_darkness(image_rgb: np.ndarray) -> np.ndarray:
    """Float32 H×W map in [0, 1]: higher = more likely trace ink.

    1. Each pixel's brightest channel: coloured grid lines (red, pink, orange, green, blue)
       stay bright there while black or blue-black ink stays dark.
    2. Divided by the local paper brightness (:func:`paper_background`): flattens shadows,
       vignetting and tinted paper; darkness = 1 - that.
    3. Minus the darkness of long straight lines (:func:`straight_line_background`), capped
       below the ink level, renormalised: removes grey grids (greyscale scans, photos whose
       white balance greys the grid) without eating the trace where it crosses a line.
    4. Lightly smoothed (Gaussian, 1 px) when pixel noise is still high (photos, JPEG).
    """
    img = as_rgb_uint8(image_rgb)
    value = channel_max(img).astype(np.float32)
    value *= np.float32(1.0 / 255.0)
    background = paper_background(value)
    np.maximum(background, np.float32(0.05), out=background)
    dark = np.divide(value, background, out=value)
    np.subtract(np.float32(1.0), dark, out=dark)
    np.clip(dark, 0.0, 1.0, out=dark)
    if min(dark.shape) < 32:
        return dark
    ink = float(np.quantile(dark[::4, ::4], 0.997))
    long_px = max(dark.shape) // 8
    _remove_lines(dark, straight_line_background(dark, long_px), _LINE_CAP * ink)
    np.clip(dark, 0.0, 1.0, out=dark)
    if noise_level(dark) > _NOISY:
        dark = ndimage.gaussian_filter(dark, sigma=1.0)
    return dark
