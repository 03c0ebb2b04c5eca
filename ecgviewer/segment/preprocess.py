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


def normalise(image_rgb: np.ndarray, white: np.ndarray | None = None) -> np.ndarray:
    """uint8 H×W×3 -> float32 4×H×W: (R, G, B) / white and darkness, centred and scaled."""
    if white is None:
        white = paper_white(image_rgb)
    x = image_rgb.astype(np.float32) * (1.0 / 255.0) / white
    np.clip(x, 0.0, 1.5, out=x)
    dark = 1.0 - x.min(axis=2)
    out = np.empty((4, *image_rgb.shape[:2]), np.float32)
    out[:3] = (x.transpose(2, 0, 1) - 0.75) * 4.0
    out[3] = (dark - 0.25) * 4.0
    return out
