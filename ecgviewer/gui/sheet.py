"""Where each lead goes on the waveform sheet, in paper millimetres (plain Python, no Qt).

The waveform pane draws the extracted signal as it was printed: one sheet of ECG paper in
mm, x = time × paper speed, y = row baseline + mV × gain, so a 1 mV, 0.2 s pulse is 10 mm
by 5 mm at 25 mm/s and 10 mm/mV and the grid squares stay square. Two arrangements:

``"paper"``  the page's layout (3×4 with rhythm strips, 6×2, 12×1…): each lead at its
             ``start_s`` in its row; a single-lead strip as rows of paper, as printed.
``"rows"``   one lead per row (rhythm lead first), each at its own ``start_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecgviewer.digitize.types import Digitization
from ecgviewer.paper import STANDARD_LEADS

ARRANGEMENTS = ("paper", "rows")
MIN_PITCH_MM, MAX_PITCH_MM = 15.0, 60.0
ROWS_PITCH_MM = 25.0  # "one lead per row": room for ±1.2 mV at 10 mm/mV
SINGLE_ROW_MAX_S = 12.0  # a single-lead strip longer than this wraps …
WRAP_S = 10.0  # … into rows of this length (unless the page shows its own rows)
TIMELINE_MM = 12.0  # height of the rhythm-probability band under the sheet
TIMELINE_GAP_MM = 4.0


@dataclass(frozen=True)
class Placement:
    """Samples ``first`` … ``first + count`` of lead ``index`` drawn from ``x0_mm`` on a row
    whose 0 mV line is at ``baseline_mm`` (y grows upwards)."""

    index: int
    first: int
    count: int
    x0_mm: float
    baseline_mm: float
    mm_per_s: float
    mm_per_mv: float
    fs_hz: float
    row: int

    @property
    def x1_mm(self) -> float:
        return self.x0_mm + self.count / self.fs_hz * self.mm_per_s

    def x_mm(self, k: np.ndarray) -> np.ndarray:
        """x of absolute sample indices ``k``."""
        return (
            self.x0_mm + (np.asarray(k, dtype=np.float64) - self.first) / self.fs_hz * self.mm_per_s
        )

    def y_mm(self, mv: np.ndarray) -> np.ndarray:
        return self.baseline_mm + np.asarray(mv, dtype=np.float64) * self.mm_per_mv

    def sample_at(self, x_mm: float) -> float:
        """The (fractional) absolute sample index at ``x_mm``."""
        return self.first + (x_mm - self.x0_mm) / self.mm_per_s * self.fs_hz

    def mv_at(self, y_mm: float) -> float:
        return (y_mm - self.baseline_mm) / self.mm_per_mv

    def covers(self, x_mm: float) -> bool:
        return self.x0_mm <= x_mm <= self.x1_mm


@dataclass(frozen=True)
class Sheet:
    """The placements and the sheet's extent (mm; ``bottom_mm`` < ``top_mm``). ``timeline``
    is (x at t = 0 of the rhythm lead, mm per s) when the band under the sheet can share the
    rhythm strip's time axis, else None (the band then spans the sheet's width)."""

    placements: tuple[Placement, ...]
    left_mm: float
    right_mm: float
    bottom_mm: float
    top_mm: float
    pitch_mm: float
    arrangement: str
    mm_per_s: float
    mm_per_mv: float
    timeline: tuple[float, float] | None = None

    def for_lead(self, index: int) -> list[Placement]:
        return [p for p in self.placements if p.index == index]

    def band(self) -> tuple[float, float]:
        """(bottom, top) of the rhythm-probability band, under the sheet."""
        top = self.bottom_mm - TIMELINE_GAP_MM
        return top - TIMELINE_MM, top


def display_order(dig: Digitization, rhythm_index: int | None) -> list[int]:
    """Lead indices: the rhythm strip first (what a rhythm reader looks at), then the usual
    order (I, II, III, aVR, … V6), each lead's segments by time."""
    rank = {name.lower(): k for k, name in enumerate(STANDARD_LEADS)}
    return sorted(
        range(len(dig.leads)),
        key=lambda i: (
            i != rhythm_index,
            rank.get(dig.leads[i].name.lower(), len(rank)),
            dig.leads[i].start_s,
            i,
        ),
    )


def is_rhythm_strip(dig: Digitization, index: int) -> bool:
    """Whether lead ``index`` is printed as a rhythm strip: a long lead alone on its row
    under (or over) a grid of several columns, as on a 3×4+1 page. On a page of full-width
    leads, one per row (a 6×1 or 12×1 print), lead II is just lead II."""
    leads, boxes = dig.leads, dig.layout.boxes
    if len(leads) < 2 or not 0 <= index < len(leads):
        return False
    if len(boxes) == len(leads):
        per_row: dict[int, int] = {}
        for box in boxes:
            per_row[box.row] = per_row.get(box.row, 0) + 1
        return per_row[boxes[index].row] == 1 and max(per_row.values()) > 1
    # no boxes to tell the rows: a strip lasts clearly longer than the other leads
    others = [ld.duration_s for i, ld in enumerate(leads) if i != index]
    return leads[index].duration_s > 1.5 * float(np.median(others))


def _row_pitch_mm(dig: Digitization) -> float:
    """The page's distance between row baselines in mm (median), clamped to a sane range."""
    by_row: dict[int, list[float]] = {}
    for box in dig.layout.boxes:
        by_row.setdefault(box.row, []).append(box.baseline_y)
    rows = sorted(by_row)
    if len(rows) < 2 or dig.calibration.px_per_mm_y <= 0:
        return ROWS_PITCH_MM
    base = [float(np.median(by_row[r])) for r in rows]
    pitch = float(np.median(np.diff(base))) / dig.calibration.px_per_mm_y
    if not math.isfinite(pitch):
        return ROWS_PITCH_MM
    return min(MAX_PITCH_MM, max(MIN_PITCH_MM, pitch))


def _single_row_s(dig: Digitization, duration_s: float) -> float:
    """How many seconds of a single-lead strip go in one row of paper."""
    rows = {b.row for b in dig.layout.boxes}
    cal = dig.calibration
    if len(rows) > 1 and cal.px_per_s > 0:
        widths = [(b.x1 - b.x0) / cal.px_per_s for b in dig.layout.boxes]
        return max(1.0, float(np.median(widths)))
    return duration_s if duration_s <= SINGLE_ROW_MAX_S else WRAP_S


def layout_sheet(dig: Digitization, rhythm_index: int | None, arrangement: str = "paper") -> Sheet:
    """Place every lead of ``dig`` on the sheet (see the module docstring)."""
    if arrangement not in ARRANGEMENTS:
        raise ValueError(f"unknown arrangement {arrangement!r}; use one of {ARRANGEMENTS}")
    speed = float(dig.calibration.paper_speed_mm_s)
    gain = float(dig.calibration.gain_mm_mv)
    leads = dig.leads
    placements: list[Placement] = []
    timeline = None
    if len(leads) == 1:
        lead = leads[0]
        pitch = _row_pitch_mm(dig)
        n = len(lead.signal_mv)
        row_n = max(1, int(round(_single_row_s(dig, lead.duration_s) * lead.fs_hz)))
        starts = list(range(0, n, row_n))
        if len(starts) > 1 and n - starts[-1] < 0.05 * row_n:
            starts.pop()  # a few samples past the last row (rounding) stay on it, not a new row
        for r, first in enumerate(starts):
            count = (starts[r + 1] if r + 1 < len(starts) else n) - first
            placements.append(
                Placement(0, first, count, 0.0, -r * pitch, speed, gain, lead.fs_hz, r)
            )
        if len(placements) == 1:
            timeline = (0.0, speed)
    elif arrangement == "paper" and len(leads) == len(dig.layout.boxes):
        pitch = _row_pitch_mm(dig)
        rows = sorted({b.row for b in dig.layout.boxes})
        for i, (lead, box) in enumerate(zip(leads, dig.layout.boxes)):
            r = rows.index(box.row)
            placements.append(_whole(i, lead, r, -r * pitch, speed, gain))
    else:
        pitch = ROWS_PITCH_MM
        arrangement = "rows"
        for r, i in enumerate(display_order(dig, rhythm_index)):
            placements.append(_whole(i, leads[i], r, -r * pitch, speed, gain))
    if timeline is None and rhythm_index is not None and len(leads) > 1:
        timeline = (leads[rhythm_index].start_s * speed, speed)
    left = min(0.0, min(p.x0_mm for p in placements))
    right = max(p.x1_mm for p in placements)
    top = max(p.baseline_mm for p in placements) + pitch / 2
    bottom = min(p.baseline_mm for p in placements) - pitch / 2
    return Sheet(
        tuple(placements),
        math.floor(left / 5) * 5,
        math.ceil(right / 5) * 5,
        math.floor(bottom / 5) * 5,
        math.ceil(top / 5) * 5,
        pitch,
        arrangement if len(leads) > 1 else "paper",
        speed,
        gain,
        timeline,
    )


def _whole(i, lead, row: int, baseline: float, speed: float, gain: float) -> Placement:
    n = len(lead.signal_mv)
    return Placement(i, 0, n, lead.start_s * speed, baseline, speed, gain, lead.fs_hz, row)


def grid_lines(x0: float, x1: float, y0: float, y1: float, step_x: float, step_y: float):
    """x, y arrays of vertical and horizontal grid segments (pairs) covering the box."""
    xs = np.arange(np.floor(x0 / step_x), np.ceil(x1 / step_x) + 1) * step_x
    ys = np.arange(np.floor(y0 / step_y), np.ceil(y1 / step_y) + 1) * step_y
    vx = np.repeat(xs, 2)
    vy = np.tile([ys[0], ys[-1]], len(xs))
    hx = np.tile([xs[0], xs[-1]], len(ys))
    hy = np.repeat(ys, 2)
    return np.concatenate([vx, hx]), np.concatenate([vy, hy])


def window_edges(centres_s: np.ndarray, duration_s: float) -> np.ndarray:
    """Boundaries of the analysis windows around their centre times: half-way between
    neighbours, the ends at 0 and ``duration_s`` (len(centres) + 1 values)."""
    c = np.asarray(centres_s, dtype=np.float64)
    mids = (c[:-1] + c[1:]) / 2
    first = min(0.0, c[0]) if c.size else 0.0
    last = max(duration_s, c[-1]) if c.size else duration_s
    return np.concatenate([[first], mids, [last]])


def doubted(valid_mask: np.ndarray, signal_mv: np.ndarray) -> np.ndarray:
    """The samples the digitiser bridged or doubts (``valid_mask`` False) with their
    neighbours, so the faded stretch joins the solid trace; NaN elsewhere (mV)."""
    sig = np.asarray(signal_mv, dtype=np.float64)
    bad = ~np.asarray(valid_mask, bool)
    if bad.shape != sig.shape or not bad.any():
        return np.full(sig.shape, np.nan)
    near = bad.copy()
    near[1:] |= bad[:-1]
    near[:-1] |= bad[1:]
    return np.where(near, sig, np.nan)
