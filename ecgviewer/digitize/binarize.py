"""Threshold a trace-darkness map (see :func:`ecgviewer.digitize.preprocess.trace_darkness`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

_METHODS = ("auto", "otsu", "modified_otsu", "adaptive", "manual")


@dataclass(frozen=True)
class BinarizeResult:
    """A binary trace image (True = ink), the threshold (0..1 of darkness) and the method used."""

    binary: np.ndarray
    threshold: float
    method: str


def otsu_threshold(darkness: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a [0,1] map from its histogram (between-class variance maximum)."""
    hist = np.bincount(
        np.minimum((darkness.ravel() * bins).astype(np.intp), bins - 1), minlength=bins
    ).astype(np.float64)
    return _otsu_from_hist(hist) / bins


def _otsu_from_hist(hist: np.ndarray) -> float:
    total = hist.sum()
    if total <= 0:
        return 0.5 * len(hist)
    centers = np.arange(len(hist), dtype=np.float64) + 0.5
    w0 = np.cumsum(hist)
    w1 = total - w0
    m0 = np.cumsum(hist * centers)
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 / total - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1
    return float(np.argmax(between) + 1)


def modified_otsu_threshold(darkness: np.ndarray) -> float:
    """Otsu on the non-paper pixels, shifted half-way towards the ink mode (keeps the trace,
    drops faint grid remnants; after Brisk et al. 2019)."""
    d = darkness[darkness > 0.04]
    if d.size < 16:
        return 0.5
    t = otsu_threshold(d)
    ink = d[d > t]
    if ink.size == 0:
        return t
    return float(min(0.9, t + 0.25 * (np.median(ink) - t)))


def remove_small_components(binary: np.ndarray, min_px: int) -> np.ndarray:
    """Drop 8-connected components smaller than ``min_px`` pixels."""
    if min_px <= 1 or not binary.any():
        return binary
    labels, n = ndimage.label(binary, structure=np.ones((3, 3), bool))
    if n == 0:
        return binary
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


def binarize(
    darkness: np.ndarray, method: str = "auto", threshold: float | None = None
) -> BinarizeResult:
    """Binarise ``darkness`` (float [0,1]) with ``method``; ``threshold`` is used by "manual"
    (and overrides the computed one for the others when given)."""
    if method not in _METHODS:
        raise ValueError(f"unknown binarisation method {method!r}; use one of {_METHODS}")
    d = np.asarray(darkness, dtype=np.float32)
    if method == "manual":
        t = 0.5 if threshold is None else float(threshold)
        return BinarizeResult(d > t, t, method)
    if method == "adaptive":
        local = ndimage.uniform_filter(d, size=max(15, min(d.shape) // 20 | 1))
        t = float(threshold) if threshold is not None else 0.15
        return BinarizeResult((d - local) > t, t, method)
    if method == "otsu":
        t = otsu_threshold(d) if threshold is None else float(threshold)
        return BinarizeResult(d > t, t, method)
    t = modified_otsu_threshold(d) if threshold is None else float(threshold)
    binary = d > t
    if method == "auto":
        binary = remove_small_components(binary, max(4, int(d.size / 200_000)))
    return BinarizeResult(binary, t, method)
