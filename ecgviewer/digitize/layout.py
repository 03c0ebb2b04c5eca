"""Find the rows of trace on a binary page and decide the lead layout (which lead is where).

Rows come from the horizontal projection of the ink (the isoelectric line of every row makes a
sharp peak). The layout follows from the number of rows and, where that is ambiguous (3 or 6
rows), from lead-change marks or gaps at the quarter/half points of the rows. Columns of a
12-lead page are equal fractions of the common time span of the rows (2.5 s each for 3x4 at
25 mm/s); a calibration pulse at a row start is excluded from the signal.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage, signal

from ecgviewer.digitize.calibration import find_calibration_pulse
from ecgviewer.digitize.trace import close_vertical_gaps, column_runs
from ecgviewer.digitize.types import STANDARD_LEADS, Calibration, DigitizeSettings, Layout, LeadBox
from ecgviewer.errors import NoTraceFoundError

_MIN_ROW_SEP_MM = 7.0
_MIN_ROW_WIDTH_MM = 40.0
_MIN_LONG_COVER = 0.6
_MIN_TALL_EVENTS = 3
_MAX_BAND_INK = 0.35  # a trace row's ±2.5 mm band is mostly paper
_MAX_STRAIGHT_FILL = 0.9  # ink on one straight line over this fraction of the row: a rule
_MIN_OFF_LINE = 0.03  # ... unless ink leaves that line (waves) in this fraction of columns
_MIN_REL_ROW_WIDTH = 0.6  # rows narrower than this fraction of the widest are text blocks
_MIN_SEGMENT_SPREAD = 0.4
_MIN_COLUMN_VARIATION = 0.6
_AMBIGUOUS_BEAT_SYNC = 0.2
_MIN_QUARTER_OVER_HALF = -0.25  # 6 rows: quarter marks on top minus half marks below
_EVENT_BAND = 0.5  # beats are looked for up to this fraction of the way to a neighbour row
_MIN_BEAT_SYNC = 0.47  # fraction of beats lining up across rows: rows recorded simultaneously


@dataclass(frozen=True)
class TraceRow:
    """One horizontal row of trace: its baseline, its band of rows and its inked columns."""

    baseline_y: float
    y0: int  # band (image rows) the row's trace may use
    y1: int
    x0: int  # first and last+1 inked column of the row (after any calibration pulse)
    x1: int
    pulse_x1: int | None = None  # end column of a calibration pulse at the row start
    pulse_base_y: float | None = None  # row just below the pulse's foot (0 mV line + half ink)


@dataclass(frozen=True)
class LayoutDetection:
    """What :func:`detect_layout` found: the layout, per box the column of 0 s on its row's time
    axis and the foot of its row's calibration pulse (None if none), and warnings."""

    layout: Layout
    origins_px: tuple[float, ...]
    pulse_base_y: tuple[float | None, ...]
    warnings: tuple[str, ...] = ()


def _row_extent(present: np.ndarray, merge_px: int, min_seg_px: int) -> tuple[int, int, float]:
    """First and last+1 column of the inked part of a row, and the inked fraction between."""
    closed = ndimage.binary_closing(present, structure=np.ones(max(1, merge_px), bool))
    labels, n = ndimage.label(closed)
    if n == 0:
        return 0, 0, 0.0
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= min_seg_px) + 1
    if keep.size == 0:
        return 0, 0, 0.0
    cols = np.flatnonzero(np.isin(labels, keep))
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    return x0, x1, float(present[x0:x1].mean())


def _tall_events(binary: np.ndarray, p: int, x0: int, x1: int, px_per_mm: float) -> int:
    """Number of places along the row where ink runs vertically for 4.5 mm or more (QRS
    complexes, calibration pulses), bridging dropouts under 1 mm. Text lines have none."""
    reach = int(12 * px_per_mm)
    sub = binary[max(0, p - reach) : p + reach + 1, x0:x1]
    if sub.size == 0:
        return 0
    # a QRS drawn thin at a low resolution or a fast paper speed is a slanted stroke that no
    # single column holds for long: widen strokes by 0.8 mm first (letters do not grow taller)
    k = max(1, round(0.8 * px_per_mm))
    sub = ndimage.binary_dilation(sub, structure=np.ones((1, k), bool))
    sub = close_vertical_gaps(sub, max(1, round(1.0 * px_per_mm)))
    top, bot, ptr = column_runs(sub)
    if top.size == 0:
        return 0
    lengths = bot - top + 1
    starts = ptr[:-1]
    nonempty = starts < ptr[1:]
    longest = np.zeros(sub.shape[1], int)
    longest[nonempty] = np.maximum.reduceat(lengths, starts[nonempty])
    tall = longest >= 4.5 * px_per_mm
    if not tall.any():
        return 0
    tall = ndimage.binary_closing(tall, structure=np.ones(max(1, int(px_per_mm)) + 1, bool)) | tall
    return int(ndimage.label(tall)[1])


def _looks_like_trace(
    binary: np.ndarray, p: int, x0: int, x1: int, band: np.ndarray, px_per_mm: float
) -> bool:
    """A row of trace has QRS complexes (tall vertical strokes) or, for a flat trace, one long
    unbroken line; a line of text has neither. A band mostly inked is a dark area (shadow,
    photo), not a thin trace."""
    if band.size == 0 or band.mean() > _MAX_BAND_INK:
        return False
    k = max(1, round(0.15 * px_per_mm))
    on_line = binary[max(0, p - k) : p + k + 1, x0:x1].any(axis=0)
    if on_line.mean() > _MAX_STRAIGHT_FILL:
        # a ruled or grid line, unless the line has waves: a flat low-gain trace with small
        # QRS complexes is also mostly on one line, but has ink off it every beat
        reach = max(k + 1, round(0.6 * px_per_mm))
        whole = band.any(axis=0)
        near = binary[max(0, p - reach) : p + reach + 1, x0:x1]
        off_line = whole & (band.sum(axis=0) > near.sum(axis=0))
        if off_line.mean() < _MIN_OFF_LINE:
            return False
    tall = _tall_events(binary, p, x0, x1, px_per_mm)
    if tall >= _MIN_TALL_EVENTS:
        return True
    cover = _long_stroke_cover(band, px_per_mm)
    return cover >= _MIN_LONG_COVER or (tall >= 1 and cover >= 0.5 * _MIN_LONG_COVER)


def _peak_sharpness(prof: np.ndarray, p: int, px_per_mm: float) -> float:
    """Ink on the row's densest line against the mean over ±1.5 mm: a trace's isoelectric line
    is a thin dense line (high); a line of text is a dense band letters high (near 1)."""
    r = max(2, round(1.5 * px_per_mm))
    lo, hi = max(0, p - r), min(prof.size, p + r + 1)
    peak = prof[max(0, p - 1) : p + 2].max()
    return float(peak / max(prof[lo:hi].mean(), 1e-9))


def _long_stroke_cover(band: np.ndarray, px_per_mm: float) -> float:
    """Fraction of the band's columns spanned by connected strokes at least 8 mm long.

    A trace is one long curve (broken only at QRS strokes or lead changes); a line of text
    is many letter-sized pieces. Gaps under 0.4 mm are closed first (scan dropouts).
    """
    if band.size == 0:
        return 0.0
    k = max(1, round(0.4 * px_per_mm))
    closed = ndimage.binary_closing(band, structure=np.ones((1, k + 1), bool)) | band
    labels, n = ndimage.label(closed, structure=np.ones((3, 3), bool))
    if n == 0:
        return 0.0
    covered = np.zeros(band.shape[1], bool)
    min_len = 8.0 * px_per_mm
    for sl in ndimage.find_objects(labels):
        if sl is not None and sl[1].stop - sl[1].start >= min_len:
            covered[sl[1]] = True
    return float(covered.mean())


def find_rows(binary: np.ndarray, px_per_mm: float) -> list[TraceRow]:
    """Rows of trace, top to bottom. Raises :class:`NoTraceFoundError` when there are none."""
    h, w = binary.shape
    if not binary.any():
        raise NoTraceFoundError("no ink found on the page (blank page or threshold too high)")
    prof = binary.sum(axis=1).astype(float)
    smooth = ndimage.uniform_filter1d(prof, size=max(3, round(0.6 * px_per_mm)))
    sep = max(3, int(_MIN_ROW_SEP_MM * px_per_mm))
    # close peaks first (a text line may sit just under a trace), then keep the strongest
    # trace-like ones at least `sep` apart
    peaks, _ = signal.find_peaks(
        smooth, distance=max(2, sep // 3), prominence=0.05 * max(smooth.max(), 1)
    )
    if peaks.size == 0:
        raise NoTraceFoundError("no horizontal trace rows found")
    strong = peaks[smooth[peaks] >= 0.2 * smooth[peaks].max()]
    half_band = max(2, int(2.5 * px_per_mm))
    min_width = _MIN_ROW_WIDTH_MM * px_per_mm
    cands = []
    for p in sorted(strong, key=lambda q: -smooth[q]):
        if any(abs(int(p) - c[0]) < sep for c in cands):
            continue
        band = binary[max(0, p - half_band) : p + half_band + 1]
        present = band.any(axis=0)
        x0, x1, fill = _row_extent(present, int(6 * px_per_mm), int(3 * px_per_mm))
        wide = x1 - x0 >= min(min_width, 0.3 * w) and fill >= 0.5
        if wide and _looks_like_trace(binary, int(p), x0, x1, band[:, x0:x1], px_per_mm):
            cands.append((int(p), x0, x1, fill))
    if not cands:
        raise NoTraceFoundError("no row of trace long enough to be an ECG")
    cands.sort()
    widest = max(c[2] - c[1] for c in cands)
    wide = [c for c in cands if c[2] - c[1] >= _MIN_REL_ROW_WIDTH * widest]
    wide += _partial_last_row(cands, wide, px_per_mm)
    return _with_bands(
        [TraceRow(float(p), 0, 0, x0, x1) for p, x0, x1, _fill in wide], h, px_per_mm
    )


def _partial_last_row(
    cands: list[tuple[int, int, int, float]],
    wide: list[tuple[int, int, int, float]],
    px_per_mm: float,
) -> list[tuple[int, int, int, float]]:
    """The end of a long strip: a narrower trace row one row pitch below the last full row,
    starting where the full rows start (a 13 s strip printed in 10 s rows ends in a 3 s row).
    Narrow rows anywhere else are text blocks or labels."""
    if not wide:
        return []
    ys = sorted(c[0] for c in wide)
    # one full row gives no pitch: any distance (the renderer and printers spread two rows)
    lo, hi = (0.6, 1.4) if len(ys) > 1 else (0.0, np.inf)
    pitch = float(np.median(np.diff(ys))) if len(ys) > 1 else 1.0
    start = float(np.median([c[1] for c in wide]))
    below = [
        c
        for c in cands
        if c not in wide
        and lo * pitch <= c[0] - ys[-1] <= hi * pitch
        and abs(c[1] - start) <= 3.0 * px_per_mm
    ]
    return below[:1]


def _with_bands(rows: list[TraceRow], h: int, px_per_mm: float) -> list[TraceRow]:
    """Rows sorted top to bottom with their bands: to 85 % of the way to each neighbour
    (bands overlap a little: big QRS complexes reach into the neighbour's half)."""
    rows = sorted(rows, key=lambda r: r.baseline_y)
    ys = [r.baseline_y for r in rows]
    out = []
    for k, row in enumerate(rows):
        up = ys[k] - ys[k - 1] if k > 0 else None
        down = ys[k + 1] - ys[k] if k + 1 < len(ys) else None
        spacing = min(d for d in (up, down, 40 * px_per_mm) if d is not None)
        y0 = ys[k] - int(0.85 * (up if up is not None else spacing * 1.2))
        y1 = ys[k] + int(0.85 * (down if down is not None else spacing * 1.2)) + 1
        out.append(replace(row, y0=max(0, int(y0)), y1=min(h, int(y1))))
    return out


def _rows_from_pulses(
    binary: np.ndarray, rows: list[TraceRow], calibration: Calibration
) -> list[TraceRow]:
    """Add rows the projection missed (a wandering or very noisy trace has no sharp baseline
    line) where a calibration pulse sits one row pitch above, below or between found rows."""
    pulsed = [r for r in rows if r.pulse_base_y is not None]
    if len(pulsed) < 2:
        return rows
    h = binary.shape[0]
    pitch = float(np.median(np.diff(sorted(r.baseline_y for r in rows))))
    if pitch <= 0:
        return rows
    pxx = calibration.px_per_mm_x
    xa = max(0, int(min(r.pulse_x1 for r in pulsed) - 12 * pxx))
    xb = int(max(r.pulse_x1 for r in pulsed) + 2)
    x1 = int(np.median([r.x1 for r in rows]))
    px_per_mm = 0.5 * (calibration.px_per_mm_x + calibration.px_per_mm_y)
    ys = sorted(r.baseline_y for r in rows)
    cands = [ys[0] - pitch * k for k in range(1, 4)] + [ys[-1] + pitch * k for k in range(1, 4)]
    cands += [a + pitch for a, b in itertools.pairwise(ys) if b - a > 1.6 * pitch]
    added = []
    for y in cands:
        ya, yb = int(y - 0.45 * pitch), int(y + 0.45 * pitch)
        if ya < 0 or yb > h:
            continue
        pulse = find_calibration_pulse(
            binary[ya:yb, xa:xb], calibration.px_per_mm_y, pxx, search_fraction=1.0
        )
        if pulse is None:
            continue
        foot = float(ya + pulse.y_bottom)
        end = xa + pulse.x1
        # the row ends where its ink ends (the last row of a long strip may be partial)
        reach = int(0.3 * pitch)
        present = binary[max(0, int(foot) - reach) : int(foot) + reach + 1, end + 1 : x1].any(0)
        _, stop, _ = _row_extent(present, int(6 * px_per_mm), int(3 * px_per_mm))
        if stop > 0:
            added.append(TraceRow(foot, 0, 0, end + 1, end + 1 + stop, end, foot))
    if not added:
        return rows
    return _with_bands(rows + added, h, px_per_mm)


def _find_pulse(
    binary: np.ndarray, row: TraceRow, calibration: Calibration
) -> tuple[int, float] | None:
    """``(end column, row below the foot)`` of a calibration pulse at the start of ``row``."""
    pxx = calibration.px_per_mm_x
    xa = max(0, row.x0 - 1)
    xb = min(binary.shape[1], row.x0 + int(14 * pxx))
    sub = binary[row.y0 : row.y1, xa:xb]
    if sub.shape[1] < 4:
        return None
    pulse = find_calibration_pulse(
        sub, calibration.px_per_mm_y, calibration.px_per_mm_x, search_fraction=1.0
    )
    if pulse is None or pulse.x0 > 4 * pxx:
        return None
    return xa + pulse.x1, float(row.y0 + pulse.y_bottom)


def marker_span(
    binary: np.ndarray, row: TraceRow, x: float, half_win: int, px_per_mm: float
) -> tuple[int, int] | None:
    """Columns ``[xa, xb)`` of a lead-change mark near column ``x``: a vertical bar crossing
    the baseline (at least 1 mm above and below it), at most 1.2 mm wide."""
    xa = max(0, int(x - half_win))
    xb = min(binary.shape[1], int(x + half_win) + 1)
    base = round(row.baseline_y)
    reach = max(2, round(1.0 * px_per_mm))
    ya, yb = base - reach, base + reach + 1
    if xb <= xa or ya < 0 or yb > binary.shape[0]:
        return None
    # a column is a bar column if it is inked over the whole [baseline - 1 mm, baseline + 1 mm]
    full = binary[ya:yb, xa:xb].all(axis=0)
    cols = np.flatnonzero(full)
    if cols.size == 0:
        return None
    groups = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
    best = min(groups, key=lambda g: abs(xa + 0.5 * (g[0] + g[-1]) - x))
    if best.size > max(2, 1.2 * px_per_mm):
        return None
    return xa + int(best[0]), xa + int(best[-1]) + 1


def _snap_row_starts(rows: list[TraceRow], calibration: Calibration) -> list[TraceRow]:
    """Move row starts past the flat lead-in that follows a calibration pulse.

    Printed strips show a whole number of half seconds, ending at the common right edge, so
    when a pulse was found the common start is the end minus the span rounded down to 0.5 s
    (only when the excess is small: a lead-in, not signal).
    """
    if not any(r.pulse_x1 is not None for r in rows):
        return rows
    end = float(np.median([r.x1 for r in rows]))
    start = float(np.median([r.x0 for r in rows]))
    span_s = (end - start) / calibration.px_per_s
    grain = 0.5
    snapped = np.floor(span_s / grain + 1e-6) * grain
    if snapped <= 0 or span_s - snapped > 0.3:
        return rows
    new_start = round(end - snapped * calibration.px_per_s)
    return [replace(r, x0=max(r.x0, new_start)) if r.x0 < new_start < r.x1 else r for r in rows]


def _break_evidence(
    binary: np.ndarray, row: TraceRow, x: float, half_win: int, px_per_mm: float
) -> bool:
    """Whether the row shows a lead change near column ``x``: a gap in the ink or a bar."""
    xa, xb = int(x - half_win), int(x + half_win) + 1
    band = binary[row.y0 : row.y1, max(0, xa) : xb]
    if band.size == 0:
        return False
    present = band.any(axis=0)
    if (~present).sum() >= 2:
        return True
    return marker_span(binary, row, x, half_win, px_per_mm) is not None


def _span(rows: list[TraceRow]) -> tuple[float, float]:
    """The common start and end column of the 12-lead grid (medians over rows)."""
    return float(np.median([r.x0 for r in rows])), float(np.median([r.x1 for r in rows]))


def _has_breaks(
    binary: np.ndarray, rows: list[TraceRow], fractions, half_win: int, px_per_mm: float
) -> float:
    """Fraction of (row, fraction) pairs with break evidence, minus that at control points."""
    if not rows:
        return 0.0
    x0, x1 = _span(rows)
    hits = ctrl = 0
    for r in rows:
        for f in fractions:
            hits += _break_evidence(binary, r, x0 + f * (x1 - x0), half_win, px_per_mm)
            ctrl += _break_evidence(binary, r, x0 + (f - 0.125) * (x1 - x0), half_win, px_per_mm)
    n = len(rows) * len(fractions)
    return (hits - ctrl) / n


def _column_variation(binary: np.ndarray, rows: list[TraceRow], px_per_mm: float) -> float:
    """How much the wave heights change between the quarters of each row (median over rows of
    the largest log-ratio between adjacent quarters). Near 0 for one lead printed on; large
    where the quarters show different leads (aVR inverted, V1 deep S, V4 tall R...)."""
    if not rows:
        return 0.0
    x0, x1 = _span(rows)
    edges = np.linspace(x0, x1, 5).astype(int)
    margin = 1.0 * px_per_mm
    scores = []
    for r in rows:
        band = binary[r.y0 : r.y1]
        base = r.baseline_y - r.y0
        any_ink = band.any(axis=0)
        first = np.argmax(band, axis=0)
        last = band.shape[0] - 1 - np.argmax(band[::-1], axis=0)
        up = np.where(any_ink, np.clip(base - first, 0, None), 0)
        down = np.where(any_ink, np.clip(last - base, 0, None), 0)
        ups = [np.percentile(up[a:b], 98) for a, b in itertools.pairwise(edges) if b > a]
        downs = [np.percentile(down[a:b], 98) for a, b in itertools.pairwise(edges) if b > a]
        if len(ups) < 4:
            continue
        d = [
            abs(np.log((ups[i] + margin) / (ups[i + 1] + margin)))
            + abs(np.log((downs[i] + margin) / (downs[i + 1] + margin)))
            for i in range(3)
        ]
        scores.append(max(d))
    return float(np.median(scores)) if scores else 0.0


def _segment_spread(binary: np.ndarray, rows: list[TraceRow]) -> float:
    """Spread (standard deviation of the log) of the wave height over the quarter segments of
    the rows: the 95th percentile per segment of each column's inked height. About 0.1-0.3
    for one lead printed on, 0.5 or more for the twelve different leads of a 3x4 page."""
    x0, x1 = (int(v) for v in _span(rows))
    edges = np.linspace(x0, x1, 5).astype(int)
    heights = []
    for r in rows:
        band = binary[r.y0 : r.y1]
        if band.size == 0:
            continue
        inked = band.any(axis=0)
        first = np.argmax(band, axis=0)
        last = band.shape[0] - 1 - np.argmax(band[::-1], axis=0)
        extent = np.where(inked, last - first, 0)
        heights += [np.percentile(extent[a:b], 95) for a, b in itertools.pairwise(edges) if b > a]
    return float(np.std(np.log(np.asarray(heights, float) + 1.0))) if heights else 0.0


def _row_events(
    binary: np.ndarray, row: TraceRow, x0: int, x1: int, px_per_s: float, inner: bool = False
) -> np.ndarray:
    """Columns (relative to ``x0``) of the QRS-like events of a row: places where the ink spans
    much more height than usual (at least half the row's 99th percentile). With ``inner`` only
    the band's inner part (half-way to the neighbouring rows) counts: the tall R waves of a
    neighbouring row reach into the full band and put that row's beats on this one."""
    if inner:
        frac = _EVENT_BAND / 0.85  # the band reaches 85 % of the way to each neighbour
        ya = max(0, round(row.baseline_y - frac * (row.baseline_y - row.y0)))
        yb = round(row.baseline_y + frac * (row.y1 - row.baseline_y))
    else:
        ya, yb = row.y0, row.y1
    band = binary[ya:yb, x0:x1]
    if band.size == 0:
        return np.zeros(0)
    any_ink = band.any(axis=0)
    first = np.argmax(band, axis=0)
    last = band.shape[0] - 1 - np.argmax(band[::-1], axis=0)
    extent = np.where(any_ink, last - first, 0).astype(float)
    hi = np.percentile(extent, 99)
    if hi <= 0:
        return np.zeros(0)
    tall = extent >= 0.5 * hi
    tall = ndimage.binary_closing(tall, structure=np.ones(max(1, int(0.04 * px_per_s)), bool))
    labels, n = ndimage.label(tall)
    if n == 0:
        return np.zeros(0)
    return np.asarray(ndimage.center_of_mass(tall, labels, range(1, n + 1)))[:, 0]


def _beat_sync(
    binary: np.ndarray, rows: list[TraceRow], px_per_s: float, inner: bool = False
) -> float:
    """How often the QRS events of adjacent rows fall at the same column (within 80 ms).

    The rows of a 12-lead page are recorded at the same time, so their beats line up; the rows
    of a long single-lead strip are consecutive stretches, whose beats line up only by chance.
    """
    if len(rows) < 2:
        return 0.0
    x0, x1 = (int(v) for v in _span(rows))
    events = [_row_events(binary, r, x0, x1, px_per_s, inner) for r in rows]
    tol = 0.08 * px_per_s
    fracs = []
    for a, b in itertools.pairwise(events):
        if a.size < 2 or b.size < 2:
            continue
        hit_a = np.mean([np.min(np.abs(b - e)) <= tol for e in a])
        hit_b = np.mean([np.min(np.abs(a - e)) <= tol for e in b])
        fracs.append(0.5 * (hit_a + hit_b))
    return float(np.median(fracs)) if fracs else 0.0


def _decide_name(binary: np.ndarray, rows: list[TraceRow], calibration: Calibration) -> str:
    n = len(rows)
    half_win = max(2, int(0.1 * calibration.px_per_s))
    quarters = (0.25, 0.5, 0.75)
    pxmm = calibration.px_per_mm_x

    def breaks(rs, fr):
        return _has_breaks(binary, rs, fr, half_win, pxmm)

    if n <= 2:
        return "single"
    # simultaneous rows (beats line up) or lead-change marks: a 12-lead page; beats that do
    # not line up: consecutive stretches of one lead. In between (photos bend rows, regular
    # rhythms line up by chance) the row count decides: 4 rows (3x4+1) are far more often a
    # 12-lead page, 3 rows a 30 s strip.
    sync = _beat_sync(binary, rows, calibration.px_per_s)
    if n == 3:  # a 30 s strip: its tall R waves can reach the neighbours' bands in step
        sync = min(sync, _beat_sync(binary, rows, calibration.px_per_s, inner=True))
    unsure = sync >= _AMBIGUOUS_BEAT_SYNC and n == 4
    if sync < _MIN_BEAT_SYNC and not unsure and breaks(rows[:3], quarters) < 0.5:
        return "single"
    if n >= 10:
        return "12x1"
    if n == 3:
        if breaks(rows, quarters) > 0.3:
            return "3x4"
        # beats in line but no lead-change marks: a regular rhythm can line up by chance in
        # a 30 s strip; twelve segments of one lead have much the same wave heights
        differ = _segment_spread(binary, rows) >= _MIN_SEGMENT_SPREAD
        change = _column_variation(binary, rows, pxmm) > _MIN_COLUMN_VARIATION
        return "3x4" if differ and change else "single"
    if n == 4:
        return "3x4+1"
    if n == 5:
        return "3x4+2"
    if n == 6:
        # 6x2: every row changes lead at half time; 3x4+3: the top rows change at the
        # quarters and the bottom three are unbroken rhythm strips of one lead each. Either
        # kind of evidence can be noisy (a QRS gap at the half of a rhythm strip, a flat
        # stretch at a quarter), so they are weighed against each other
        quarter_top = breaks(rows[:3], (0.25, 0.75))
        half_bottom = breaks(rows[3:], (0.5,))
        return "3x4+3" if quarter_top - half_bottom > _MIN_QUARTER_OVER_HALF else "6x2"
    return "single"


_RHYTHM_ROWS = {0: (), 1: ("{r}",), 2: ("V1", "{r}"), 3: ("V1", "{r}", "V5")}


def _boxes_12_lead(
    binary: np.ndarray,
    name: str,
    rows: list[TraceRow],
    calibration: Calibration,
    settings: DigitizeSettings,
) -> tuple[list[LeadBox], list[float]]:
    """Lead boxes of a 12-lead layout and the 0 s column of every box's row."""
    n_cols, n_grid_rows = {"12x1": (1, 12), "6x2": (2, 6)}.get(name, (4, 3))
    n_rhythm = max(0, len(rows) - n_grid_rows) if name.startswith("3x4") else 0
    grid_rows = rows[:n_grid_rows]
    x_start, x_end = _span(grid_rows)
    col_w = (x_end - x_start) / n_cols
    boxes: list[LeadBox] = []
    origins: list[float] = []
    half_win = max(2, int(0.08 * calibration.px_per_s))
    for r, row in enumerate(grid_rows):
        # column edges, moved off any lead-change mark found near them
        edges = [float(row.x0)] + [x_start + c * col_w for c in range(1, n_cols)] + [float(row.x1)]
        starts = [round(e) for e in edges[:-1]]
        ends = [round(e) for e in edges[1:]]
        min_w = 0.5 * col_w
        for c in range(1, n_cols + 1):
            span = marker_span(binary, row, edges[c], half_win, calibration.px_per_mm_x)
            if span is None:
                continue
            if c < n_cols and ends[c] - span[1] >= min_w:
                starts[c] = max(starts[c], span[1])
            if span[0] - starts[c - 1] >= min_w:
                ends[c - 1] = min(ends[c - 1], span[0])
        for c in range(n_cols):
            lead = STANDARD_LEADS[c * n_grid_rows + r]
            xb = max(ends[c], starts[c] + 1)  # a row that starts late may leave a lead empty
            boxes.append(LeadBox(lead, starts[c], xb, row.y0, row.y1, row.baseline_y, r, c))
            origins.append(x_start)
    names = _RHYTHM_ROWS.get(n_rhythm, ())
    for k, row in enumerate(rows[n_grid_rows : n_grid_rows + len(names)]):
        lead = names[k].format(r=settings.rhythm_lead)
        boxes.append(
            LeadBox(lead, row.x0, row.x1, row.y0, row.y1, row.baseline_y, n_grid_rows + k, 0)
        )
        origins.append(float(row.x0))
    return boxes, origins


def detect_layout(
    binary: np.ndarray, calibration: Calibration, settings: DigitizeSettings
) -> LayoutDetection:
    """Rows, layout name and one box per lead segment (see :class:`LayoutDetection`).

    The origins let leads be placed on a common timeline; the pulse foot gives each row's
    0 mV line exactly where a calibration pulse is printed.
    """
    warnings: list[str] = []
    px_per_mm = 0.5 * (calibration.px_per_mm_x + calibration.px_per_mm_y)
    rows = find_rows(binary, px_per_mm)
    # exclude calibration pulses at row starts
    trimmed = []
    for row in rows:
        found = _find_pulse(binary, row, calibration)
        if found is not None and found[0] < row.x1 - 10 * calibration.px_per_mm_x:
            row = replace(row, x0=found[0] + 1, pulse_x1=found[0], pulse_base_y=found[1])
        trimmed.append(row)
    rows = _snap_row_starts(_rows_from_pulses(binary, trimmed, calibration), calibration)
    name = settings.layout if settings.layout != "auto" else _decide_name(binary, rows, calibration)
    if name != "single":
        n_needed = {"12x1": 12, "6x2": 6, "3x4": 3, "3x4+1": 4, "3x4+3": 6}.get(name, 3)
        if len(rows) < n_needed:
            warnings.append(
                f"layout {name} needs {n_needed} rows but {len(rows)} were found; "
                "reading them as a single-lead strip"
            )
            name = "single"
    if name == "single":
        boxes = [
            LeadBox("ECG", r.x0, r.x1, r.y0, r.y1, r.baseline_y, k, 0) for k, r in enumerate(rows)
        ]
        return LayoutDetection(
            Layout("single", tuple(boxes), rhythm_lead="ECG"),
            tuple(float(r.x0) for r in rows),
            tuple(r.pulse_base_y for r in rows),
            tuple(warnings),
        )
    boxes, origins = _boxes_12_lead(binary, name, rows, calibration, settings)
    span_s = (_span(rows)[1] - _span(rows)[0]) / calibration.px_per_s
    expected_s = 250.0 / calibration.paper_speed_mm_s
    if not 0.6 * expected_s <= span_s <= 1.4 * expected_s:
        warnings.append(
            f"the rows span {span_s:.1f} s, not the usual {expected_s:.0f} s of a 12-lead page: "
            "check the paper speed and scale"
        )
    rhythm = _longest(boxes, settings.rhythm_lead)
    return LayoutDetection(
        Layout(name, tuple(boxes), rhythm_lead=rhythm),
        tuple(origins),
        tuple(rows[b.row].pulse_base_y for b in boxes),
        tuple(warnings),
    )


def _longest(boxes: list[LeadBox], preferred: str) -> str | None:
    """The preferred rhythm lead if present, else the lead of the widest box."""
    names = {b.name for b in boxes}
    if preferred in names:
        return preferred
    if "II" in names:
        return "II"
    return max(boxes, key=lambda b: b.x1 - b.x0).name if boxes else None
