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
GRID_LINE_MM = 5.0  # a grid line is grid over this length along it...
GRID_LINE_PROB = 0.3  # ...with at least this mean grid probability
DARK_GRID_INK = 0.025  # share of the grid's pixels in the ink above which the grid is "dark"


@dataclass(frozen=True)
class TraceMaps:
    """The automatic method's map (float32 H×W, 0..1, 0.5 = its default threshold) and where it
    came from."""

    trace_prob: np.ndarray
    marks_prob: np.ndarray | None  # calibration pulse, ticks and labels (segmenter only)
    source: str  # "segmenter" or "darkness" (fallback)
    warning: str | None = None
    grid_prob: np.ndarray | None = None  # visible grid lines (segmenter only)


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
        grid_prob=seg.grid_prob.astype(np.float32, copy=False),
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


def grid_line_pixels(trace_prob: np.ndarray, grid_prob: np.ndarray, px_per_mm: float) -> np.ndarray:
    """Pixels of visible grid lines: likelier grid than trace (segmenter) AND on a line that is
    grid over :data:`GRID_LINE_MM` along it (mean grid probability at least
    :data:`GRID_LINE_PROB` vertically or horizontally). The second test keeps the trace ink the
    map missed (a row's first downstroke): there both probabilities are near 0 and no grid line
    runs through it; a trace crossing a grid line is trace to the segmenter."""
    g = np.asarray(grid_prob, np.float32)
    n = max(3, round(GRID_LINE_MM * px_per_mm)) | 1
    along = np.maximum(
        ndimage.uniform_filter1d(g, n, axis=0), ndimage.uniform_filter1d(g, n, axis=1)
    )
    return (along >= GRID_LINE_PROB) & (g > np.asarray(trace_prob, np.float32))


def combine_with_ink(
    trace_binary: np.ndarray,
    darkness: np.ndarray,
    trace_prob: np.ndarray,
    px_per_mm: float,
    grid_prob: np.ndarray | None = None,
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

    ``grid_prob`` (the segmenter's grid channel): on a grid dark enough to be ink
    (:func:`grid_is_ink`), :func:`grid_line_pixels` are neither binary nor weight. A black or
    dark grid is as dark as the trace, so its lines within 1 mm of the map passed the gate and
    the tracer jumped onto them at QRS complexes and crossings (a black grid page: 10 dB; 21 dB
    without them). Then only ink :func:`touching` the map stays (a dotted black grid's dots:
    14 dB; 18 dB without them; noise specks). ``pulse_ink`` keeps all the ink: a pulse's edges
    lie on grid lines and the segmenter calls some of them grid.
    """
    ink = binarize(darkness, "modified_otsu").binary
    r = max(1, round(MASK_GROWTH_MM * px_per_mm))
    grown = ndimage.maximum_filter(trace_binary.view(np.uint8), size=2 * r + 1).view(bool)
    confident = np.minimum(
        np.float32(1.0), np.float32(WEIGHT_GAIN) * np.asarray(trace_prob, np.float32)
    )
    binary = grown & ink
    if grid_prob is not None:
        if grid_is_ink(ink, trace_prob, grid_prob):
            grid = grid_line_pixels(trace_prob, grid_prob, px_per_mm)
            binary &= ~grid
            confident[grid] = 0.0
        binary = touching(binary, trace_binary)
    weight = np.asarray(darkness, np.float32) * confident
    return binary, trace_binary | ink, weight


def grid_is_ink(ink: np.ndarray, trace_prob: np.ndarray, grid_prob: np.ndarray) -> bool:
    """Whether the grid is dark enough to pass for ink: at least :data:`DARK_GRID_INK` of the
    pixels the segmenter calls grid (> 0.5, trace < 0.1) are in ``ink``. The darkness map
    already drops coloured and light grids (0.1-1 % of them remain ink, and there removing
    "grid" pixels can only cut the trace where the network mislabels it: -2 dB on a PDF);
    a black grid keeps ~5 %."""
    sure = (np.asarray(grid_prob) > 0.5) & (np.asarray(trace_prob) < 0.1)
    return bool(sure.any()) and float(ink[sure].mean()) >= DARK_GRID_INK


def touching(binary: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 8-connected parts of ``binary`` that overlap ``seeds``: ink near the map but apart
    from it (the dots of a dotted grid, a grid line's stub cut off by :func:`grid_line_pixels`)
    is not the trace; a QRS tip the map rounded off is joined to the rest of the line."""
    labels, n = ndimage.label(binary, structure=np.ones((3, 3), bool))
    keep = np.zeros(n + 1, bool)
    keep[labels[binary & seeds]] = True
    keep[0] = False
    return keep[labels]
