"""Network input from an RGB page: white-balanced per page, plus a darkness channel.

The page's paper white is the 90th percentile of each channel (paper dominates an ECG page),
so dividing by it removes colour casts and exposure; the same statistics are used for every
tile of a page. Training computes them per window, which is close for the paper-dominated
windows the network sees.
"""

from __future__ import annotations

import numpy as np

WHITE_PERCENTILE = 90.0
MIN_WHITE = 0.15


def paper_white(image_rgb: np.ndarray) -> np.ndarray:
    """Per-channel paper level (0..1) of a uint8 H×W×3 image, from a subsample of pixels."""
    h, w = image_rgb.shape[:2]
    step = max(1, int(np.sqrt(h * w / 250_000)))
    sample = image_rgb[::step, ::step].reshape(-1, 3)
    white = np.percentile(sample, WHITE_PERCENTILE, axis=0) / 255.0
    return np.maximum(white, MIN_WHITE).astype(np.float32)


def _lookup_tables(white: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (3×256): the normalised value of each uint8 level, and the darkness
    channel's value were that channel the darkest. The same float32 operations as applying
    the formula to every pixel, so the result is bit-identical, at a table look-up's cost."""
    x = np.arange(256, dtype=np.float32)[None, :] * (1.0 / 255.0) / white[:, None]
    np.clip(x, 0.0, 1.5, out=x)
    return (x - 0.75) * 4.0, ((1.0 - x) - 0.25) * 4.0


def normalise(image_rgb: np.ndarray, white: np.ndarray | None = None) -> np.ndarray:
    """uint8 H×W×3 -> float32 4×H×W: (R, G, B) / white and darkness, centred and scaled.

    x = clip(value / 255 / white, 0, 1.5); channels (x - 0.75)·4 and darkness
    ((1 - min x) - 0.25)·4, computed by table look-up (the darkness as the max of the
    per-channel darkness tables: the formula is monotone). The array is a 4×H×W view of an
    H×W×4 buffer: channels-last, the layout the inference network reads without a copy."""
    if white is None:
        white = paper_white(image_rgb)
    rgb_lut, dark_lut = _lookup_tables(np.asarray(white))
    out = np.empty((*image_rgb.shape[:2], 4), np.float32)
    for c in range(3):
        out[..., c] = rgb_lut[c][image_rgb[..., c]]
    dark = dark_lut[0][image_rgb[..., 0]]
    np.maximum(dark, dark_lut[1][image_rgb[..., 1]], out=dark)
    np.maximum(dark, dark_lut[2][image_rgb[..., 2]], out=dark)
    out[..., 3] = dark
    return out.transpose(2, 0, 1)
