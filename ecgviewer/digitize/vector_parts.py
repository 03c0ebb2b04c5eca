"""The parts of a vector ECG page: which stroked polylines are traces, grid lines or
calibration pulses (:func:`classify_polylines`), and the page's calibration in page
millimetres (:func:`calibrate_vector`: grid pitch, pulse height, stated speed and gain).
Used by :mod:`ecgviewer.digitize.vector`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.io.pdf_vector import PdfPolyline

MIN_TRACE_SPAN_MM = 5.0  # a trace covers at least 0.2 s at 25 mm/s
MIN_TRACE_POINTS = 12
GRID_LINE_MIN_MM = 20.0  # straight axis-aligned lines at least this long are grid lines
STANDARD_GAINS_MM_MV = (2.5, 5.0, 10.0, 20.0, 40.0)
_AXIS_EPS_MM = 0.02


@dataclass(frozen=True)
class Trace:
    """One trace segment (chained pieces), points in page mm (x right, y down)."""

    x_mm: np.ndarray
    y_mm: np.ndarray

    @property
    def x0(self) -> float:
        return float(self.x_mm[0])

    @property
    def x1(self) -> float:
        return float(self.x_mm[-1])

    @property
    def level(self) -> float:
        """A robust vertical position (median y), used to group traces into rows."""
        return float(np.median(self.y_mm))


@dataclass(frozen=True)
class Pulse:
    """A calibration pulse: base (0 mV) and top (1 mV) levels and its x extent, page mm."""

    base_y: float
    top_y: float
    x0: float
    x1: float

    @property
    def height(self) -> float:
        return self.base_y - self.top_y


@dataclass(frozen=True)
class PageParts:
    """The polylines of a page sorted by role."""

    traces: tuple[Trace, ...]
    pulses: tuple[Pulse, ...]
    grid_x: np.ndarray  # x of vertical grid lines (mm)
    grid_y: np.ndarray  # y of horizontal grid lines (mm)


# --------------------------------------------------------------------------- classification


def _straight_axis_line(pts: np.ndarray) -> str | None:
    """'h' or 'v' for a straight horizontal/vertical polyline, else None."""
    span = np.ptp(pts, axis=0)
    if span[1] <= _AXIS_EPS_MM and span[0] > 0:
        return "h"
    if span[0] <= _AXIS_EPS_MM and span[1] > 0:
        return "v"
    return None


def _as_pulse(pts: np.ndarray) -> Pulse | None:
    """A pulse: every point on one of two levels 1..50 mm apart, some on each, within 30 mm
    of width, starting and ending on the lower level (the base, larger y)."""
    if len(pts) < 4:
        return None
    y = pts[:, 1]
    lo, hi = float(y.min()), float(y.max())
    height = hi - lo
    if not 1.0 <= height <= 50.0 or np.ptp(pts[:, 0]) > 30.0:
        return None
    tol = max(0.05, 0.01 * height)
    at_hi, at_lo = np.abs(y - hi) <= tol, np.abs(y - lo) <= tol
    if not (at_hi | at_lo).all() or at_hi.sum() < 2 or at_lo.sum() < 2:
        return None
    if not (at_hi[0] and at_hi[-1]):
        return None
    return Pulse(hi, lo, float(pts[:, 0].min()), float(pts[:, 0].max()))


def classify_polylines(polylines: tuple[PdfPolyline, ...] | list[PdfPolyline]) -> PageParts:
    """Sort stroked polylines into grid lines, pulses and trace pieces; chain the pieces."""
    grid_x, grid_y, pulses, pieces = [], [], [], []
    for p in polylines:
        pts = p.points_mm
        if len(pts) < 2 or not np.isfinite(pts).all():
            continue
        axis = _straight_axis_line(pts)
        if axis is not None and np.ptp(pts[:, 0 if axis == "h" else 1]) >= GRID_LINE_MIN_MM:
            (grid_y if axis == "h" else grid_x).append(float(pts[0, 1 if axis == "h" else 0]))
            continue
        if p.closed and len(pts) <= 5:
            continue  # boxes and frames
        pulse = _as_pulse(pts)
        if pulse is not None:
            pulses.append(pulse)
            continue
        pieces.append(pts)
    traces = [_trace_of(c) for c in _chain(pieces)]
    traces = [
        t for t in traces
        if t is not None and t.x1 - t.x0 >= MIN_TRACE_SPAN_MM and t.x_mm.size >= MIN_TRACE_POINTS
    ]
    traces.sort(key=lambda t: (t.x0, t.level))
    return PageParts(tuple(traces), tuple(pulses), np.array(grid_x), np.array(grid_y))


def _chain(pieces: list[np.ndarray], tol_mm: float = 0.01) -> list[np.ndarray]:
    """Join pieces whose start is where another ends (writers that stroke every sample pair
    separately), in order of their first x."""
    pieces = sorted(pieces, key=lambda p: (p[0, 0], p[0, 1]))
    open_ends: dict[tuple[int, int], int] = {}
    chains: list[list[np.ndarray]] = []

    def key(pt) -> tuple[int, int]:
        return round(pt[0] / tol_mm), round(pt[1] / tol_mm)

    for p in pieces:
        k = open_ends.pop(key(p[0]), None)
        if k is None:
            chains.append([p])
            k = len(chains) - 1
        else:
            chains[k].append(p[1:])
        open_ends[key(p[-1])] = k
    return [np.concatenate(c) for c in chains]


def _trace_of(pts: np.ndarray) -> Trace | None:
    """A trace runs left to right: mostly increasing x (a few equal-x strokes allowed);
    points with decreasing x are dropped, runs of equal x averaged."""
    x, y = pts[:, 0], pts[:, 1]
    if x[-1] < x[0]:
        x, y = x[::-1], y[::-1]
    dx = np.diff(x)
    if dx.size == 0 or np.mean(dx > -_AXIS_EPS_MM) < 0.9:
        return None
    keep = np.concatenate([[True], x[1:] >= np.maximum.accumulate(x)[:-1]])
    x, y = x[keep], y[keep]
    ux, inverse = np.unique(np.round(x, 4), return_inverse=True)
    if ux.size < 2:
        return None
    uy = np.bincount(inverse, weights=y) / np.bincount(inverse)
    return Trace(ux, uy)


# --------------------------------------------------------------------------- calibration


def grid_pitch_mm(positions: np.ndarray) -> float | None:
    """The most common spacing of grid lines (mm on the page), if at least 8 lines."""
    pos = np.unique(np.round(np.asarray(positions, float), 3))
    if pos.size < 8:
        return None
    d = np.diff(pos)
    d = d[d > 0.2]
    if d.size < 5:
        return None
    values, counts = np.unique(np.round(d, 2), return_counts=True)
    return float(values[np.argmax(counts)])


def _paper_scale(pitch: float | None) -> float | None:
    """Page mm per paper mm from a grid pitch: a 1 mm minor grid or a 5 mm major-only grid."""
    if pitch is None:
        return None
    if 0.5 <= pitch <= 2.0:
        return pitch
    if 2.5 <= pitch <= 10.0:
        return pitch / 5.0
    return None


def stated_speed_gain(texts) -> tuple[float | None, float | None]:
    """Paper speed (mm/s) and gain (mm/mV) written on the page, e.g. "25 mm/s  10 mm/mV"."""
    speed = gain = None
    for t in texts:
        s = t.text.replace(",", ".")
        m = re.search(r"(\d+(?:\.\d+)?)\s*mm\s*/\s*s(?:ec)?\b", s, re.IGNORECASE)
        if m and speed is None:
            speed = float(m.group(1))
        m = re.search(r"(\d+(?:\.\d+)?)\s*mm\s*/\s*mv\b", s, re.IGNORECASE)
        if m and gain is None:
            gain = float(m.group(1))
    return speed, gain


def _nice_gain(height_mm: float) -> float:
    for g in STANDARD_GAINS_MM_MV:
        if abs(height_mm - g) <= 0.08 * g:
            return g
    return height_mm


@dataclass(frozen=True)
class VectorCalibration:
    """Page mm per paper mm (x, y), speed and gain, and where they came from."""

    scale_x: float
    scale_y: float
    speed_mm_s: float
    gain_mm_mv: float
    source: str  # "grid", "pulse" or "default"
    grid_found: bool
    pulse_height_mm: float | None


def calibrate_vector(parts: PageParts, texts, settings: DigitizeSettings) -> VectorCalibration:
    """Scale from the grid pitch; gain from the pulse height in paper mm, else the page's
    stated gain, else the settings; speed from the page's text, else the settings."""
    sx = _paper_scale(grid_pitch_mm(parts.grid_x))
    sy = _paper_scale(grid_pitch_mm(parts.grid_y))
    grid = sx is not None or sy is not None
    sx = sx or sy or 1.0
    sy = sy or sx
    speed, gain = stated_speed_gain(texts)
    pulse_mm = None
    if parts.pulses:
        pulse_mm = float(np.median([p.height for p in parts.pulses])) / sy
    source = "grid" if grid else "default"
    if pulse_mm is not None:
        gain, source = _nice_gain(pulse_mm), ("grid" if grid else "pulse")
    gain = gain or settings.gain_mm_mv or 10.0  # no gain given: 10 mm/mV
    return VectorCalibration(
        sx, sy, float(speed or settings.paper_speed_mm_s), float(gain), source, grid, pulse_mm,
    )
