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
from ecgviewer.digitize.trace import column_runs

SEGMENTER_THREADS = 2
MASK_GROWTH_MM = 1.0  # ink this close to the segmenter's trace belongs to the trace
FAINT_GAP_PX = 2  # a faint trace's ink pieces this close belong to one line
FAINT_RUN_MM = 5.0  # ...and one seeded only by the map's specks is trace when this wide
_RING = np.ones((3, 3), bool)
WEIGHT_GAIN = 4.0  # probability at which a pixel counts fully in the line's centre: 1/4
GRID_LINE_MM = 5.0  # a grid line is grid over this length along it...
GRID_LINE_PROB = 0.3  # ...with at least this mean grid probability
DARK_GRID_INK = 0.025  # share of the grid's pixels in the ink above which the grid is "dark"
FAINT_MAP_SHARE = 0.6  # a faint page's threshold: this share of its typical column peak...
FAINT_MAP_FLOOR = 0.12  # ...but never below this (noise)
# ...and only when that is clearly below the default: a clean export whose ridges include some
# unsure grid or text pixels came to 0.47 (ecg00010), and the faint path's lighter ink then
# joined its split separator bars to the trace
FAINT_MAP_MARGIN = 0.05
MAP_COLUMN_MIN = 0.1  # columns whose peak probability is above this hold something
RIDGE_MM = 1.0  # a line's ridge: its map's vertical maximum within this height
FAINT_LINE_MM = 0.8  # ...and only where the map kept at it is lines at most this tall (75 %)
FAINT_INK_SHARE = 0.6  # ink is at least this share of the trace's own darkness (faint traces)
INK_COVER_MIN = 0.9  # ...added where the classical ink holds less of the map's columns than this


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
    faint: bool = False,
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

    ``faint`` (the map's automatic threshold was lowered, :func:`auto_map_threshold`): a grey or
    sub-pixel trace is lighter than the page's Otsu threshold and its map is broken into dashes,
    so :func:`faint_trace_binary` adds the line that joins the dashes, and the thresholded map
    itself joins what is left: a grey line 1 px wide is ink only in pieces, broken at every
    diagonal step or where it crosses a darker grid, and no row held a stroke long enough to be
    trace (CinC A07163, A02654: read as empty). There, and wherever the
    classical ink holds less than :data:`INK_COVER_MIN` of the map's columns (a light blue
    line on blue paper, a grey line under black labels: 7-76 %), the gate also lets through
    the trace's own ink (:func:`faint_trace_ink`, lighter than Otsu's) when the map is thin
    lines (:func:`is_thin_line`; blotches on a photo without an ECG are not a line); on a clean
    page (100 %) the binary is the classical one (its halo cost 1.7 dB on clean CinC strips).
    """
    ink = binarize(darkness, "modified_otsu").binary
    r = max(1, round(MASK_GROWTH_MM * px_per_mm))
    grown = ndimage.maximum_filter(trace_binary.view(np.uint8), size=2 * r + 1).view(bool)
    confident = np.minimum(
        np.float32(1.0), np.float32(WEIGHT_GAIN) * np.asarray(trace_prob, np.float32)
    )
    binary = grown & ink
    own = None  # the trace's own lighter ink: only computed where it is used (not clean pages)
    lost = faint or ink_cover(binary, trace_binary) < INK_COVER_MIN  # the ink lost the line...
    if faint or (lost and is_thin_line(trace_binary, px_per_mm)):  # ...and the map is one
        own = faint_trace_ink(darkness, trace_prob, trace_binary, grid_prob)
        binary |= grown & own
    if grid_prob is not None:
        if grid_is_ink(ink, trace_prob, grid_prob):
            grid = grid_line_pixels(trace_prob, grid_prob, px_per_mm)
            binary &= ~grid
            confident[grid] = 0.0
        binary = touching(binary, trace_binary)
    if faint:  # (own was computed above); the map where the faint ink breaks
        binary |= faint_trace_binary(own, trace_binary, trace_prob, px_per_mm) | trace_binary
    weight = np.asarray(darkness, np.float32) * confident
    return binary, trace_binary | ink, weight


def ink_cover(binary: np.ndarray, trace_binary: np.ndarray) -> float:
    """The share of the thresholded map's columns that hold some of ``binary`` (1 for an
    empty map)."""
    cols = np.asarray(trace_binary, bool).any(axis=0)
    return float(np.asarray(binary, bool).any(axis=0)[cols].mean()) if cols.any() else 1.0


def auto_map_threshold(trace_prob: np.ndarray, default: float, px_per_mm: float) -> float:
    """The automatic threshold of the segmenter's map: ``default`` (0.5) where the network is
    sure of the line, lower where it sees the whole line but unsure. A grey or sub-pixel trace
    gets 0.2-0.45 along its baseline and near 1 only at QRS complexes, so at 0.5 only the spikes
    remained and the page read as empty (a third of the varied rhythm strips). How sure the map
    typically is (:func:`typical_line_probability`) is ~1 on clean pages, scans and photos,
    0.15-0.46 on those; the threshold is :data:`FAINT_MAP_SHARE` of it, between
    :data:`FAINT_MAP_FLOOR` and ``default`` (by :data:`FAINT_MAP_MARGIN` at least, else the
    default), and only when what it keeps is thin lines
    (:func:`is_thin_line`): a photo of smooth blotches with no ECG has unsure columns too, and
    there the lower threshold keeps blotches. The line's ridges are tried first, then the
    column peaks (where the lower threshold keeps noise too thick to be a line)."""
    p = np.asarray(trace_prob)
    for typical in typical_line_probability(p, px_per_mm):
        lowered = float(np.clip(FAINT_MAP_SHARE * typical, FAINT_MAP_FLOOR, default))
        if lowered >= default - FAINT_MAP_MARGIN:
            break
        if is_thin_line(p > lowered, px_per_mm):
            return lowered
    return float(default)


def typical_line_probability(trace_prob: np.ndarray, px_per_mm: float) -> tuple[float, ...]:
    """How sure the map typically is of the line, lowest first: the 25th percentiles of the
    ridge values (vertical maxima within :data:`RIDGE_MM`) and of the column peaks, both above
    :data:`MAP_COLUMN_MIN`; () for an empty map. A column's peak is the surest of every row in
    it: a light trace printed in rows under dark scribbles or QRS complexes of other rows has
    sure peaks in most columns (0.51) while its own line is 0.13-0.37; its ridges say so."""
    p = np.asarray(trace_prob, np.float32)
    peaks = p.max(axis=0)
    peaks = peaks[peaks > MAP_COLUMN_MIN]
    if peaks.size == 0:
        return ()
    n = max(3, round(RIDGE_MM * px_per_mm)) | 1
    ridge = p[(p >= ndimage.maximum_filter1d(p, n, axis=0)) & (p > MAP_COLUMN_MIN)]
    return tuple(sorted((float(np.percentile(ridge, 25)), float(np.percentile(peaks, 25)))))


def is_thin_line(binary: np.ndarray, px_per_mm: float) -> bool:
    """Whether ``binary`` is mostly thin lines: three quarters of its vertical runs at most
    :data:`FAINT_LINE_MM` tall (a faint trace's map: 2-5 px at 8 px/mm; blotches: 30 px)."""
    top, bottom, _ = column_runs(np.asarray(binary, bool))
    heights = bottom - top + 1
    return heights.size > 0 and float(np.percentile(heights, 75)) <= FAINT_LINE_MM * px_per_mm


def trace_core_darkness(darkness: np.ndarray, trace_binary: np.ndarray) -> float | None:
    """The darkness of the trace's own line: the median over columns of the darkest pixel the
    thresholded map holds in each column (None where the map is empty). Not the map's sure
    middle: a sub-pixel grey trace is sure only at its QRS tips and under dark pen scribbles
    (0.28 there, 0.08 along its baseline), so a share of that dropped the line itself."""
    b = np.asarray(trace_binary, bool)
    cols = b.any(axis=0)
    if not cols.any():
        return None
    core = np.where(b[:, cols], np.asarray(darkness, np.float32)[:, cols], np.float32(0.0))
    return float(np.median(core.max(axis=0)))


def faint_trace_ink(
    darkness: np.ndarray,
    trace_prob: np.ndarray,
    trace_binary: np.ndarray,
    grid_prob: np.ndarray | None,
) -> np.ndarray:
    """Pixels at least :data:`FAINT_INK_SHARE` as dark as the trace's own line
    (:func:`trace_core_darkness` under the thresholded map ``trace_binary``), less what the
    segmenter is sure is grid (grid probability above 0.5 and above the trace's). A grey, thin
    or grid-coloured trace is lighter than the page's modified Otsu threshold (a dark grid,
    labels or pen scribbles set it: trace 0.08-0.17, threshold 0.15-0.27 on such pages), so
    the classical ink held little of it and the page read as empty; on a normal trace this
    threshold is above Otsu's and adds nothing."""
    d = np.asarray(darkness, np.float32)
    core = trace_core_darkness(d, trace_binary)
    if core is None:
        return np.zeros(d.shape, bool)
    ink = d >= np.float32(FAINT_INK_SHARE * core)
    if grid_prob is not None:
        g = np.asarray(grid_prob)
        ink &= ~((g > 0.5) & (g > np.asarray(trace_prob)))
    return ink


def faint_trace_binary(
    own_ink: np.ndarray,
    trace_binary: np.ndarray,
    trace_prob: np.ndarray | None = None,
    px_per_mm: float = 8.0,
) -> np.ndarray:
    """A faint trace's line: the pieces of its :func:`faint_trace_ink` ``own_ink``
    :func:`touching` the thresholded map, pieces up to :data:`FAINT_GAP_PX` apart counted as
    one (noise and grid crossings break a sub-pixel line every few pixels). On a grey 0.6 px
    trace over a blue grid the map alone held dashes of 3-5 mm: no row was long enough; this
    gives back the whole line (and its pulses).

    Where the map is only specks along the line (its dots, each above the threshold, all too
    small to outlive speck removal: ``trace_binary`` is empty there), a piece touching those
    specks (``trace_prob`` above the lowest value ``trace_binary`` holds) is the line too when
    it is :data:`FAINT_RUN_MM` wide: a grey line on green paper was read at 0.83 of its length
    (CinC A03742; now whole), A07028 at 0.65 (0.81); noise specks touch no ink that wide.
    Specks under the threshold join grid stubs on a red grid (A01777 read 8 % too long)."""
    tb = np.asarray(trace_binary, bool)
    specks = np.zeros(tb.shape, bool)
    if trace_prob is not None and tb.any():
        specks = np.asarray(trace_prob) >= np.asarray(trace_prob)[tb].min()
    line = own_ink | specks
    near = ndimage.binary_dilation(line, _RING, iterations=FAINT_GAP_PX)
    labels, n = ndimage.label(near, structure=_RING)
    keep = np.zeros(n + 1, bool)
    keep[labels[near & tb]] = True
    if specks.any():
        wide = np.zeros(n + 1, bool)
        for i, sl in enumerate(ndimage.find_objects(labels), start=1):
            wide[i] = sl is not None and sl[1].stop - sl[1].start >= FAINT_RUN_MM * px_per_mm
        seeded = np.zeros(n + 1, bool)
        seeded[labels[near & specks]] = True
        keep |= seeded & wide
    keep[0] = False
    return keep[labels] & line


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
