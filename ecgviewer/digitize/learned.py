"""The learned trace segmenter as the digitiser's automatic trace map (issue 18).

The "auto" binarisation thresholds a per-pixel trace probability: the segmenter's
(:func:`ecgviewer.segment.segment_page`, ``models/segmenter.pt``) when it loads, else the
classical darkness map rescaled so that its automatic (modified Otsu) threshold sits at the same
0.5 (:func:`~ecgviewer.digitize.binarize.darkness_as_probability`) -- one slider, one rule, with
a warning that says which. The map is computed once per prepared page, on first use, and cached
(:class:`LazyTraceMaps`), so moving the threshold is a comparison on a cached array.

torch is imported only when a map is first computed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.binarize import binarize, darkness_as_probability

SEGMENTER_THREADS = 2
MASK_GROWTH_MM = 1.0  # ink this close to the segmenter's trace belongs to the trace
WEIGHT_GAIN = 4.0  # probability at which a pixel counts fully in the line's centre: 1/4


@dataclass(frozen=True)
class TraceMaps:
    """The automatic method's map (float32 H×W, 0..1, 0.5 = its default threshold) and where it
    came from."""

    trace_prob: np.ndarray
    marks_prob: np.ndarray | None  # calibration pulse, ticks and labels (segmenter only)
    source: str  # "segmenter" or "darkness" (fallback)
    warning: str | None = None


def compute_trace_maps(
    image_rgb: np.ndarray,
    darkness: np.ndarray,
    px_per_mm: float | None,
    dpi: float | None,
) -> TraceMaps:
    """The segmenter's trace and marks probabilities of the page; the classical fallback (with a
    warning) when the segmenter or its weights cannot be used. Never raises for a missing or bad
    model."""
    try:
        from ecgviewer.segment import segment_page

        seg = segment_page(image_rgb, px_per_mm, dpi=dpi, threads=SEGMENTER_THREADS)
    except Exception as exc:  # missing weights, torch absent, a bad file: fall back, never crash
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return TraceMaps(
            darkness_as_probability(darkness),
            None,
            "darkness",
            f"trace segmenter unavailable ({reason}); used the classical automatic threshold",
        )
    return TraceMaps(
        seg.trace_prob.astype(np.float32, copy=False),
        seg.marks_prob.astype(np.float32, copy=False),
        "segmenter",
    )


class LazyTraceMaps:
    """:func:`compute_trace_maps` of one page, computed on the first :meth:`get` (thread-safe)
    and kept; :meth:`peek` returns it only when already computed (for a live preview that must
    not wait a second)."""

    def __init__(
        self,
        image_rgb: np.ndarray,
        darkness: np.ndarray,
        px_per_mm: float | None,
        dpi: float | None,
    ) -> None:
        self._args = (image_rgb, darkness, px_per_mm, dpi)
        self._maps: TraceMaps | None = None
        self._lock = threading.Lock()

    def get(self) -> TraceMaps:
        with self._lock:
            if self._maps is None:
                self._maps = compute_trace_maps(*self._args)
            return self._maps

    def peek(self) -> TraceMaps | None:
        return self._maps


def combine_with_ink(
    trace_binary: np.ndarray, darkness: np.ndarray, trace_prob: np.ndarray, px_per_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(binary, pulse_ink, weight)`` for the tracer from the segmenter's thresholded map.

    The segmenter decides WHICH ink is trace (no grid, labels or text), the ink decides WHERE:
    the network's map is about twice as thick as the line and rounds off sharp QRS tips, so the
    binary is the classical ink (modified Otsu of the darkness) within :data:`MASK_GROWTH_MM`
    of the thresholded map (+2 dB on clean pages over the map itself). ``pulse_ink`` (the map
    and all the ink) is where calibration pulses and lead-change marks are looked for: the
    network leaves most of a pulse out. ``weight`` (darkness × min(1, 4 × probability)) is what
    the tracer reads a line's centre from: the darkness where the network is fairly sure (as
    exact as the classical method on clean pages), faded where it is not (grid and noise pulled
    the centre off on distorted pages: +3 dB there over the darkness alone).
    """
    ink = binarize(darkness, "modified_otsu").binary
    r = max(1, round(MASK_GROWTH_MM * px_per_mm))
    grown = ndimage.maximum_filter(trace_binary.view(np.uint8), size=2 * r + 1).view(bool)
    confident = np.minimum(np.float32(1.0), np.float32(WEIGHT_GAIN) * np.asarray(trace_prob, np.float32))
    weight = np.asarray(darkness, np.float32) * confident
    return grown & ink, trace_binary | ink, weight
