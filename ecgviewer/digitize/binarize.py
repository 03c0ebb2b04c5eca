"""Threshold a trace map: the classical methods threshold the darkness map (see
:func:`ecgviewer.digitize.preprocess.trace_darkness`); "auto" thresholds a trace probability
(the learned segmenter's, see :mod:`ecgviewer.digitize.learned`, or
:func:`darkness_as_probability` when it is unavailable) at :data:`AUTO_THRESHOLD`.

The project's one Otsu (:func:`otsu_threshold`) lives here, and so does the rule for live
previews (:func:`binarize_preview`), so the GUI shows what the pipeline would compute."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.preprocess import noise_floor
from ecgviewer.digitize.types import BINARIZE_METHODS


@dataclass(frozen=True)
class BinarizeResult:
    """A binary trace image (True = ink), the threshold (0..1 of darkness) and the method used."""

    binary: np.ndarray
    threshold: float
    method: str


def otsu_threshold(darkness: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a [0,1] map from its histogram (between-class variance maximum).

    ``bins`` equal bins over [0, 1]; the threshold is the upper edge of the last bin of the
    dark class, so ``darkness > threshold`` splits exactly between bins."""
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


_MAX_INK_FRACTION = 0.10  # ink rarely covers more than this share of an ECG page
_MAX_ABOVE_FLOOR = 0.1  # ...but never more than this above the noise floor
_INK_SHIFT = 0.22  # threshold position between the paper's noise floor (0) and the ink (1)


def modified_otsu_threshold(darkness: np.ndarray) -> float:
    """Otsu's threshold modified to keep the trace and drop paper and grid (after the modified
    Otsu of Brisk et al. 2019: compress the grey range, then shift the threshold).

    1. Compression: only pixels darker than the paper's noise floor enter the histogram, so
       the huge paper class (and photographed paper texture) cannot drag Otsu down.
    2. Otsu on those separates the ink class; while that class holds more than 10 % of the
       page (grid remnants, shading), Otsu again within it.
    3. The threshold sits 22 % of the way from the noise floor to the ink level (the 90th
       percentile of the ink class): low enough to keep thin, anti-aliased or faded strokes
       (a pixel half covered by ink is ~50 % dark), high enough to stay clear of the noise;
       and at most 0.1 above the floor, so black labels (darker than a grey trace) cannot
       push it up on clean exports.
    """
    d = np.asarray(darkness, dtype=np.float32).ravel()
    if d.size > 400_000:  # a regular subsample is plenty for a histogram
        d = d[:: d.size // 200_000]
    floor = noise_floor(d)
    nz = d[d > floor]
    if nz.size < 16:
        return float(min(0.9, max(0.5, floor + 0.1)))
    t = otsu_threshold(nz)
    for _ in range(3):
        above = nz[nz > t]
        if above.size <= _MAX_INK_FRACTION * d.size or above.size < 32:
            break
        t = otsu_threshold(above)
    ink = nz[nz > t]
    ink_level = float(np.quantile(ink, 0.9)) if ink.size else t
    t = min(floor + _INK_SHIFT * (ink_level - floor), floor + _MAX_ABOVE_FLOOR)
    return float(np.clip(t, floor, 0.9))


def remove_small_components(binary: np.ndarray, min_px: int, join_px: int = 0) -> np.ndarray:
    """Drop 8-connected components smaller than ``min_px`` pixels; pieces up to ``join_px``
    apart count as one component (their pixels together)."""
    if min_px <= 1 or not binary.any():
        return binary
    joined = binary
    if join_px > 0:
        joined = ndimage.binary_dilation(binary, np.ones((3, 3), bool), iterations=join_px)
    labels, n = ndimage.label(joined, structure=np.ones((3, 3), bool))
    if n == 0:
        return binary
    labels = np.where(binary, labels, 0)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


AUTO_THRESHOLD = 0.5  # "auto": a pixel is trace when its probability is above this
# ...less specks, where pieces this close are one: a faint trace's unsure map is a dotted line
# whose dots, each under the speck size, broke the row into dashes (CinC A02654)
SPECK_JOIN_PX = 1


def darkness_as_probability(darkness: np.ndarray) -> np.ndarray:
    """A monotone rescaling of ``darkness`` to 0..1 with its modified Otsu threshold at
    :data:`AUTO_THRESHOLD`: "auto" on it selects exactly what the classical automatic method
    did, and the slider still moves a threshold (the fallback when the segmenter is missing)."""
    d = np.asarray(darkness, dtype=np.float32)
    t = min(max(modified_otsu_threshold(d), 1e-3), 1.0 - 1e-3)
    below = np.minimum(d * np.float32(AUTO_THRESHOLD / t), np.float32(AUTO_THRESHOLD))
    above = AUTO_THRESHOLD + (d - np.float32(t)) * np.float32((1.0 - AUTO_THRESHOLD) / (1.0 - t))
    out = np.where(d > t, np.maximum(above, np.nextafter(np.float32(AUTO_THRESHOLD), 1)), below)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def local_contrast(darkness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The adaptive method's threshold-free part (Sauvola-like, on darkness): how far each pixel
    stands above its neighbourhood's mean, and whether it is above the page's noise floor."""
    d = np.asarray(darkness, dtype=np.float32)
    local = ndimage.uniform_filter(d, size=max(15, min(d.shape) // 20 | 1))
    return d - local, d > noise_floor(d[::2, ::2])


class _ContrastCache:
    """The last map's local contrast, so moving the adaptive slider is only a comparison."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ref = None  # the array that owns the memory (a crop is a new view of it each time)
        self._key: tuple | None = None
        self._value: tuple[np.ndarray, np.ndarray] | None = None

    def get(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        owner = image if image.base is None else image.base
        key = (image.__array_interface__["data"][0], image.shape, image.strides, image.dtype.str)
        with self._lock:
            if self._ref is not None and self._ref() is owner and self._key == key:
                return self._value
        value = local_contrast(image)
        with self._lock:
            self._ref, self._key, self._value = weakref.ref(owner), key, value
        return value


_PREVIEW_CONTRAST = _ContrastCache()


def binarize(
    image: np.ndarray, method: str = "auto", threshold: float | None = None
) -> BinarizeResult:
    """Binarise a [0,1] map with ``method``: ``image`` is the darkness map for the classical
    methods and the trace probability for "auto" (threshold :data:`AUTO_THRESHOLD`, then specks
    removed). ``threshold`` is used by "manual" and overrides the computed one for the others."""
    if method not in BINARIZE_METHODS:
        raise ValueError(f"unknown binarisation method {method!r}; use one of {BINARIZE_METHODS}")
    d = np.asarray(image, dtype=np.float32)
    if method == "auto":
        t = AUTO_THRESHOLD if threshold is None else float(threshold)
        binary = remove_small_components(d > t, max(4, int(d.size / 200_000)), SPECK_JOIN_PX)
        return BinarizeResult(binary, t, method)
    if method == "manual":
        t = 0.5 if threshold is None else float(threshold)
        return BinarizeResult(d > t, t, method)
    if method == "adaptive":
        contrast, above_floor = local_contrast(d)
        t = float(threshold) if threshold is not None else 0.1
        return BinarizeResult((contrast > t) & above_floor, t, method)
    if method == "otsu":
        t = otsu_threshold(d) if threshold is None else float(threshold)
        return BinarizeResult(d > t, t, method)
    t = modified_otsu_threshold(d) if threshold is None else float(threshold)
    return BinarizeResult(d > t, t, method)


def binarize_preview(
    image: np.ndarray, method: str = "auto", threshold: float | None = None
) -> np.ndarray:
    """The live preview's binary image: :func:`binarize`, except that "auto" shows its plain
    threshold (the same pixels without the speck removal, which costs ~100 ms on a 200 dpi
    page; the digitisation that follows shows the exact image), and "adaptive" re-uses the local
    contrast of the last map it saw (the same pixels as :func:`binarize`)."""
    if method == "auto":
        t = AUTO_THRESHOLD if threshold is None else float(threshold)
        return np.asarray(image) > t
    if method == "adaptive" and isinstance(image, np.ndarray):
        contrast, above_floor = _PREVIEW_CONTRAST.get(image)  # same map: a comparison only
        t = 0.1 if threshold is None else float(threshold)
        return (contrast > t) & above_floor
    return binarize(image, method, threshold).binary
