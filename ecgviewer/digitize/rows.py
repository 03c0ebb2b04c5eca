"""Find the rows of trace on a binary page: baselines, bands, inked extent, calibration pulses.

Rows come from the horizontal projection of the ink (the isoelectric line of every row makes a
sharp peak); candidate rows must look like trace (QRS strokes or one long line), not text or
rules. A row reaches as far as its trace, followed where it leaves the baseline band at the
row's ends, but not across wide blank gaps to small things beside it (stamps); the short last
row of a long strip is looked for one pitch below the others. A calibration pulse at a row's
start (before, touching, or after a flat lead-in) or end is excluded from the row and can
reveal rows the projection missed; where all the ink also holds a grid (greyscale scans)
pulses are looked for in the segmenter's marks (:func:`marks_ink`). Separator bars that
cross the baseline, meet it from both sides or are dotted mark lead changes
(:func:`marker_span`). Which lead each row holds is decided in :mod:`ecgviewer.digitize.layout`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage, signal

from ecgviewer.digitize.calibration import PulseMeasurement, find_calibration_pulse
from ecgviewer.digitize.trace import (
    close_vertical_gaps,
    column_runs,
    columns_holding,
    ink_beyond,
    inked_extent,
)
from ecgviewer.errors import NoTraceFoundError
from ecgviewer.paper.types import Calibration

_MIN_ROW_SEP_MM = 7.0

_MIN_ROW_WIDTH_MM = 40.0

_MIN_LONG_COVER = 0.6

_MIN_TALL_EVENTS = 3

_MAX_BAND_INK = 0.35  # a trace row's ±2.5 mm band is mostly paper

_MAX_STRAIGHT_FILL = 0.9  # ink on one straight line over this fraction of the row: a rule

_MIN_OFF_LINE = 0.03  # ... unless ink leaves that line (waves) in this fraction of columns

_MIN_REL_ROW_WIDTH = 0.6  # rows narrower than this fraction of the widest are text blocks...

_MIN_PARTIAL_WIDTH_MM = 10.0  # ... except the last row of a long strip, one pitch below the rest

_MAX_START_OFF_MM = 12.0  # which starts where the full rows start

_MIN_MARKS_PROB = 0.05  # the segmenter's marks channel is faint on pulses: any hint of one

_FAR_GAP_MM = 20.0  # ink beyond a blank gap this long is part of the row only if as wide

_FOLLOW_MM = 25.0  # a trace that leaves its baseline band at a row's start or end: followed


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
    cands = []
    for p in sorted(strong, key=lambda q: -smooth[q]):
        if any(abs(int(p) - c[0]) < sep for c in cands):
            continue
        found = _candidate(binary, int(p), px_per_mm, min(_MIN_ROW_WIDTH_MM * px_per_mm, 0.3 * w))
        if found is not None:
            cands.append(found)
    if not cands:
        raise NoTraceFoundError("no row of trace long enough to be an ECG")
    cands.sort()
    widest = max(c[2] - c[1] for c in cands)
    wide = [c for c in cands if c[2] - c[1] >= _MIN_REL_ROW_WIDTH * widest]
    wide += _partial_last_row(binary, peaks, cands, wide, px_per_mm)
    return _with_bands(
        [TraceRow(float(p), 0, 0, x0, x1) for p, x0, x1, _fill in wide], h, px_per_mm
    )


def _to_trace_ends(ink: np.ndarray, rows: list[TraceRow], px_per_mm: float) -> list[TraceRow]:
    """Rows beginning and ending where their traces do, not where a trace leaves the ±2.5 mm
    band its extent was measured in: a transient at a strip's start (CinC A08495 falls from
    1.5 mV), a step in its last moment (PTB-XL 00038 steps 3 mm up 0.1 s before its end).
    A row moves by 0.5-4 mm, or on to where another row starts or ends (not along a pen
    stroke); ``ink``: all the ink (the segmenter leaves such a step's top out of the trace)."""
    reach, free = round(_FOLLOW_MM * px_per_mm), round(4.0 * px_per_mm)
    least = 0.5 * px_per_mm  # less is a blurred or jagged end, not trace
    out = []
    for row in rows:
        others = [r for r in rows if r is not row]
        first = min([row.x0 - free] + [r.x0 for r in others]) if others else 0
        last = max([row.x1 + free] + [r.x1 for r in others]) if others else ink.shape[1]
        n0, n1 = (
            ink_beyond(ink, (row.y0, row.y1), row.baseline_y, e, d, reach, px_per_mm)
            for e, d in ((row.x0, -1), (row.x1, 1))
        )
        x0 = max(first, row.x0 - n0) if n0 > least else row.x0
        x1 = min(last, row.x1 + n1) if n1 > least else row.x1
        out.append(replace(row, x0=x0, x1=x1) if (x0, x1) != (row.x0, row.x1) else row)
    return out


def _row_extent(present: np.ndarray, around: np.ndarray, px_per_mm: float):
    """:func:`inked_extent` of a row with this module's rule: gaps under 6 mm closed, pieces of
    3 mm or more, groups split at blank gaps over :data:`_FAR_GAP_MM`."""
    px = px_per_mm
    return inked_extent(present, int(6 * px), int(3 * px), _FAR_GAP_MM * px, around)


def _candidate(
    binary: np.ndarray, p: int, px_per_mm: float, min_width: float
) -> tuple[int, int, int, float] | None:
    """``(baseline row, first column, end column, inked fraction)`` of a row of trace whose
    baseline is image row ``p``, if the ink there is a trace at least ``min_width`` px wide."""
    half_band = max(2, int(2.5 * px_per_mm))
    band = binary[max(0, p - half_band) : p + half_band + 1]
    reach = round(15 * px_per_mm)
    around = binary[max(0, p - reach) : p + reach + 1].any(axis=0)
    x0, x1, fill = _row_extent(band.any(axis=0), around, px_per_mm)
    if x1 - x0 < min_width or fill < 0.5:
        return None
    if not _looks_like_trace(binary, p, x0, x1, band[:, x0:x1], px_per_mm):
        return None
    return p, x0, x1, fill


def _partial_last_row(
    binary: np.ndarray,
    peaks: np.ndarray,
    cands: list[tuple[int, int, int, float]],
    wide: list[tuple[int, int, int, float]],
    px_per_mm: float,
) -> list[tuple[int, int, int, float]]:
    """The end of a long strip: a narrower trace row one row pitch below the last full row,
    starting where one of the full rows starts (a 13 s strip printed in 10 s rows ends in a
    3 s row; a trace that starts off its baseline starts up to 12 mm late in its band). It
    may be as short as 10 mm and as faint as the profile shows any peak. Narrow rows
    anywhere else are text blocks or labels."""
    if not wide:
        return []
    ys = sorted(c[0] for c in wide)
    # one full row gives no pitch: any distance (the renderer and printers spread two rows)
    lo, hi = (0.6, 1.4) if len(ys) > 1 else (0.0, np.inf)
    pitch = float(np.median(np.diff(ys))) if len(ys) > 1 else 1.0
    starts = np.array([c[1] for c in wide], float)

    def fits(c: tuple[int, int, int, float]) -> bool:
        near = lo * pitch <= c[0] - ys[-1] <= hi * pitch
        aligned = np.abs(starts - c[1]).min() <= _MAX_START_OFF_MM * px_per_mm
        return c not in wide and near and bool(aligned)

    below = [c for c in cands if fits(c)]
    if below:
        return below[:1]
    for p in sorted(peaks, key=lambda q: abs(q - ys[-1] - pitch)):
        if lo * pitch <= p - ys[-1] <= hi * pitch:
            c = _candidate(binary, int(p), px_per_mm, _MIN_PARTIAL_WIDTH_MM * px_per_mm)
            if c is not None and fits(c):
                return [c]
    return []


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
    binary: np.ndarray, ink: np.ndarray, rows: list[TraceRow], calibration: Calibration
) -> list[TraceRow]:
    """Add rows the projection missed (a wandering or very noisy trace, or the short last row
    of a long strip, has no strong baseline line) where a calibration pulse sits in ``ink``
    one row pitch above, below or between found rows; the row ends where its trace in
    ``binary`` ends (``ink`` may hold a grid that runs on across the page)."""
    pulsed = [r for r in rows if r.pulse_x1 is not None]
    if len(pulsed) < 2:
        return rows
    h = ink.shape[0]
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
            ink[ya:yb, xa:xb], calibration.px_per_mm_y, pxx, search_fraction=1.0
        )
        if pulse is None:
            continue
        foot = float(ya + pulse.y_bottom)
        end = xa + pulse.x1
        # the row ends where its ink ends (the last row of a long strip may be partial)
        reach = int(0.3 * pitch)
        present = binary[max(0, int(foot) - reach) : int(foot) + reach + 1, end + 1 : x1].any(0)
        wide_band = slice(max(0, int(foot) - int(0.45 * pitch)), int(foot) + int(0.45 * pitch) + 1)
        near = binary[wide_band]
        _, stop, _ = _row_extent(present, near[:, end + 1 : x1].any(axis=0), px_per_mm)
        if stop > 0:
            added.append(TraceRow(foot, 0, 0, end + 1, end + 1 + stop, end, foot))
    if not added:
        return rows
    return _with_bands(rows + added, h, px_per_mm)


def _pulse_in(
    inks: tuple[np.ndarray, ...], row: TraceRow, calibration: Calibration, windows, accept
) -> PulseMeasurement | None:
    """The first calibration pulse found in one of ``inks`` (tried in order), within one of
    ``windows`` (column ranges, tried in order), that ``accept(pulse, ink)`` (the pulse in
    absolute coordinates) allows, in absolute coordinates; None if none. A pulse stands on the
    row's 0 mV line: only rows from 25 mm above the baseline to 5 mm below it are searched (a
    trace wandering far off its baseline makes no pulse)."""
    pyy = calibration.px_per_mm_y
    ya = max(row.y0, int(row.baseline_y - 25 * pyy))
    yb = min(row.y1, int(row.baseline_y + 5 * pyy) + 1)
    for ink in inks:
        for xa, xb in windows:
            xa, xb = max(0, int(xa)), min(ink.shape[1], int(xb))
            sub = ink[ya:yb, xa:xb]
            if sub.shape[1] < 4 or sub.shape[0] < 4:
                continue
            pulse = find_calibration_pulse(sub, pyy, calibration.px_per_mm_x, search_fraction=1.0)
            if pulse is None:
                continue
            pulse = replace(
                pulse, x0=xa + pulse.x0, x1=xa + pulse.x1,
                y_top=ya + pulse.y_top, y_bottom=ya + pulse.y_bottom,
            )  # fmt: skip
            if accept(pulse, ink):
                return pulse
    return None


def _flat_lead_in(binary: np.ndarray, row: TraceRow, xa: int, xb: int, px_per_mm: float) -> bool:
    """Whether columns ``[xa, xb)`` of the row hold no stroke of a beat (the flat lead-in some
    printers draw before the pulse): no vertical run of ink 2.5 mm long (grid dots the trace
    map let in are short; a QRS complex is not)."""
    band = binary[row.y0 : row.y1, max(0, xa) : max(0, xb)]
    top, bot, _ptr = column_runs(band)
    return bool(top.size == 0 or (bot - top + 1).max() < 2.5 * px_per_mm)


def _top_bar(ink: np.ndarray, p: PulseMeasurement, px_per_mm: float) -> bool:
    """Ink joins the pulse's strokes along its top over at least 80 % of its width."""
    tol = max(2, round(0.4 * px_per_mm))
    top = ink[max(0, p.y_top - tol) : p.y_top + tol + 1, p.x0 : p.x1].any(axis=0)
    return bool(top.size and top.mean() >= 0.8)


def _find_pulse(
    binary: np.ndarray, inks: tuple[np.ndarray, ...], row: TraceRow, calibration: Calibration
) -> tuple[int, float] | None:
    """``(end column, row below the foot)`` of a calibration pulse at the start of ``row``,
    looked for in each of ``inks`` in turn: a clear one standing wholly before the row's ink
    (a trace map without the pulse starts the row at the trace, or at the first point it
    crosses its baseline), one that starts at most 4 mm into the row (or straddles its start),
    or one up to 0.6 s into the row after a flat lead-in that is clear or has a top bar and the
    page's gain (a greyscale grid runs on past its strokes' ends)."""
    pxx = calibration.px_per_mm_x
    reach = 14 * pxx + 2.0 * calibration.px_per_s
    late = 0.6 * calibration.px_per_s
    windows = (
        (row.x0 - 1 - reach, row.x0),
        (row.x0 - 1 - 14 * pxx, row.x0 + 14 * pxx + late),
    )

    pyy = calibration.px_per_mm_y

    def accept(p: PulseMeasurement, ink: np.ndarray) -> bool:
        if p.x0 <= row.x0 + 4 * pxx:
            return p.clear or p.x1 > row.x0
        shaped = p.clear or (
            abs(p.height_mm / calibration.gain_mm_mv - 1.0) <= 0.1 and _top_bar(ink, p, pyy)
        )
        lead_in = _flat_lead_in(binary, row, row.x0, p.x0 - max(1, round(0.3 * pxx)), pyy)
        return shaped and p.x0 <= row.x0 + late and lead_in

    pulse = _pulse_in(inks, row, calibration, windows, accept)
    return None if pulse is None else (pulse.x1, float(pulse.y_bottom))


def _bar_columns(
    binary: np.ndarray, row: TraceRow, xa: int, xb: int, px_per_mm: float
) -> np.ndarray | None:
    """Per column of ``[xa, xb)``: whether a separator bar stands there. A bar crosses the
    baseline (ink over the whole baseline ± 1 mm) or meets it from both sides (at least 1.5 mm
    of ink above that ends within 3 mm of the baseline, and such ink below: printers that leave
    the trace a gap); dotted bars count (vertical gaps under 0.6 mm closed). None if the
    window leaves the page."""
    base = round(row.baseline_y)
    reach = max(2, round(1.0 * px_per_mm))
    far = round(8.0 * px_per_mm)
    ya, yb = max(0, base - far), min(binary.shape[0], base + far + 1)
    if xb <= xa or base - reach < 0 or base + reach + 1 > binary.shape[0]:
        return None
    sub = close_vertical_gaps(binary[ya:yb, xa:xb], max(1, round(0.6 * px_per_mm)))
    full = sub[base - reach - ya : base + reach + 1 - ya].all(axis=0)
    top, bot, ptr = column_runs(sub)
    top, bot, b = top + ya, bot + ya, base
    long = (bot - top + 1) >= 1.5 * px_per_mm
    near = 3.0 * px_per_mm
    above = long & (bot >= b - near) & (bot <= b + reach)
    below = long & (top <= b + near) & (top >= b - reach)
    return full | (columns_holding(ptr, above) & columns_holding(ptr, below))


def marker_span(
    binary: np.ndarray, row: TraceRow, x: float, half_win: int, px_per_mm: float
) -> tuple[int, int] | None:
    """Columns ``[xa, xb)`` of a lead-change mark near column ``x``: a vertical bar at most
    1.2 mm wide that crosses the baseline or meets it from above and below (see
    :func:`_bar_columns`)."""
    xa = max(0, int(x - half_win))
    xb = min(binary.shape[1], int(x + half_win) + 1)
    bars = _bar_columns(binary, row, xa, xb, px_per_mm)
    if bars is None:
        return None
    cols = np.flatnonzero(bars)
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


def _find_end_pulse(
    inks: tuple[np.ndarray, ...], row: TraceRow, calibration: Calibration
) -> tuple[int, float] | None:
    """``(first column, row below the foot)`` of a calibration pulse at the END of ``row``
    (printers that put it after the trace), looked for in each of ``inks`` in turn: standing
    wholly after the row's ink (up to 0.8 s apart), else ending at most 4 mm before the row's
    end; only a clear pulse (top bar)."""
    pxx = calibration.px_per_mm_x
    reach = 14 * pxx + 0.8 * calibration.px_per_s
    windows = ((row.x1, row.x1 + 1 + reach), (max(row.x0, row.x1 - 14 * pxx), row.x1 + 1))
    pulse = _pulse_in(
        inks, row, calibration, windows, lambda p, _ink: p.x1 >= row.x1 - 4 * pxx and p.clear
    )
    return None if pulse is None else (pulse.x0, float(pulse.y_bottom))


def trace_end_before_pulse(
    binary: np.ndarray, row: TraceRow, pulse_start: int, calibration: Calibration
) -> int:
    """End (exclusive) of a row's trace before a calibration pulse starting at column
    ``pulse_start``: at a blank gap (at least 1 mm) within 0.8 s before the pulse and its
    lead-in, else at the pulse."""
    xb = pulse_start
    xa = max(row.x0, xb - int(0.8 * calibration.px_per_s))
    if xb - xa < 2:
        return xb
    present = binary[row.y0 : row.y1, xa:xb].any(axis=0)[::-1]
    edges = np.diff(np.concatenate([[1], present.astype(np.int8), [1]]))
    gap_starts, gap_ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    min_gap = max(2.0, 1.0 * calibration.px_per_mm_x)
    for a, b in zip(gap_starts, gap_ends):
        if b - a >= min_gap and b < present.size:
            return xb - int(b)
    return xb


def trace_start_after_pulse(
    binary: np.ndarray, row: TraceRow, pulse_end: int, calibration: Calibration
) -> int:
    """First column of a row's trace after a calibration pulse ending at column ``pulse_end``:
    past a blank gap (at least 1 mm) that follows the pulse and its flat lead-out within 0.8 s
    (a pulse printed apart from the trace), else the column just after the pulse and what is
    left of its falling stroke (a trace that carries on from the pulse's foot)."""
    xa = pulse_end + 1
    xb = min(row.x1, xa + int(0.8 * calibration.px_per_s))
    if xb - xa < 2:
        return xa
    present = binary[row.y0 : row.y1, xa:xb].any(axis=0)
    edges = np.diff(np.concatenate([[1], present.astype(np.int8), [1]]))
    gap_starts, gap_ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    min_gap = max(2.0, 1.0 * calibration.px_per_mm_x)
    for a, b in zip(gap_starts, gap_ends):
        if b - a >= min_gap and b < present.size:
            return xa + int(b)
    return xa + _stroke_left(binary, row, xa, calibration)


def _stroke_left(binary: np.ndarray, row: TraceRow, xa: int, calibration: Calibration) -> int:
    """Columns from ``xa`` (at most 1 mm) still holding the pulse's falling stroke (a vertical
    run of ink over 2.5 mm): a stroke drawn thicker than measured, or merged with a grid line."""
    n = max(1, round(1.0 * calibration.px_per_mm_x))
    top, bot, ptr = column_runs(binary[row.y0 : row.y1, xa : xa + n])
    has = columns_holding(ptr, (bot - top + 1) >= 2.5 * calibration.px_per_mm_y)
    return int(np.argmin(has)) if not has.all() else int(has.size)


def marks_ink(
    binary: np.ndarray, pulse_ink: np.ndarray, marks_prob: np.ndarray | None
) -> np.ndarray | None:
    """The trace and the ink the segmenter calls a mark (pulse, tick, label), without the rest
    (grid): where pulses are looked for when all the ink also holds a grid that touches them
    (a greyscale scan's pulse stroke drawn on a grid line has no ends). None without a map."""
    if marks_prob is None:
        return None
    return binary | (pulse_ink & (marks_prob > _MIN_MARKS_PROB))


def find_page_pulse(
    inks: tuple[np.ndarray | None, ...], px_per_mm_y: float
) -> PulseMeasurement | None:
    """The page's calibration pulse: the first clear one found in ``inks`` (tried in order),
    else the first found at all."""
    first = None
    for ink in inks:
        pulse = None if ink is None else find_calibration_pulse(ink, px_per_mm_y)
        if pulse is not None and pulse.clear:
            return pulse
        if first is None:
            first = pulse
    return first


def locate_rows(
    binary: np.ndarray,
    calibration: Calibration,
    pulse_ink: np.ndarray | None = None,
    marks: np.ndarray | None = None,
) -> list[TraceRow]:
    """Rows of trace with calibration pulses at their starts excluded (each row starts where
    its trace starts, after any gap that follows the pulse) and at their ends (a row ends where
    its trace ends, before any gap), rows the projection missed added
    where a pulse marks them, and starts moved past a pulse's flat lead-in.

    ``pulse_ink`` (default ``binary``) is where pulses are looked for: the learned segmenter's
    trace map leaves out most of a pulse, so the caller adds the classical ink for them;
    ``marks`` (:func:`marks_ink`) is tried next for a row where no pulse was found there."""
    ink = binary if pulse_ink is None else pulse_ink
    inks = (ink,) if marks is None else (ink, marks)
    px_per_mm = 0.5 * (calibration.px_per_mm_x + calibration.px_per_mm_y)
    trimmed = []
    for row in _to_trace_ends(ink, find_rows(binary, px_per_mm), px_per_mm):
        found = _find_pulse(binary, inks, row, calibration)
        if found is not None and found[0] < row.x1 - 10 * calibration.px_per_mm_x:
            x0 = trace_start_after_pulse(binary, row, found[0], calibration)
            row = replace(row, x0=x0, pulse_x1=found[0], pulse_base_y=found[1])
        end = _find_end_pulse(inks, row, calibration)
        if end is not None and end[0] > row.x0 + 10 * calibration.px_per_mm_x:
            x1 = trace_end_before_pulse(binary, row, end[0], calibration)
            base = row.pulse_base_y if row.pulse_base_y is not None else end[1]
            row = replace(row, x1=x1, pulse_base_y=base)
        trimmed.append(row)
    rows = _rows_from_pulses(binary, ink, trimmed, calibration)
    rows = [
        replace(r, x0=trace_start_after_pulse(binary, r, r.pulse_x1, calibration))
        if r.pulse_x1 is not None and r.x0 == r.pulse_x1 + 1
        else r
        for r in rows
    ]
    return _snap_row_starts(rows, calibration)
