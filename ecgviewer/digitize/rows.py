"""Rows of trace on a binary page: candidates (:mod:`ecgviewer.digitize.row_find`) refined to
their traces' ends, calibration pulses, and separator marks.

A row reaches as far as its trace, followed where it leaves the baseline band at the row's
ends, but not across wide blank gaps to small things beside it (stamps). A calibration pulse at
a row's start (before, touching, or after a flat lead-in) or end is excluded from the row and
can reveal rows the projection missed; where all the ink also holds a grid (greyscale scans)
pulses are looked for in the segmenter's marks (:func:`marks_ink`). Separator bars that
cross the baseline, meet it from both sides or are dotted mark lead changes
(:func:`marker_span`). Which lead each row holds is decided in :mod:`ecgviewer.digitize.layout`.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from ecgviewer.digitize.calibration import PulseMeasurement, find_calibration_pulse
from ecgviewer.digitize.centreline import close_vertical_gaps
from ecgviewer.digitize.row_find import TraceRow, find_rows, row_extent, with_bands
from ecgviewer.digitize.row_starts import shared_median
from ecgviewer.digitize.trace import column_runs, columns_holding, ink_beyond
from ecgviewer.paper.types import Calibration

__all__ = ["TraceRow", "find_rows", "locate_rows", "marker_span", "marks_ink", "find_page_pulse"]

_MIN_MARKS_PROB = 0.05  # the segmenter's marks channel is faint on pulses: any hint of one

_FOLLOW_MM = 40.0  # a trace that leaves its baseline band at a row's start or end: followed
_PAST_TRACE_MM = 20.0  # a blank gap this long after a pulse's row: what follows is not its trace
_BEYOND_INNER = 0.6  # the share of a row's band (about its baseline) ink_beyond follows ink in


def _to_trace_ends(
    inks: tuple[np.ndarray, ...], rows: list[TraceRow], px_per_mm: float
) -> list[TraceRow]:
    """Rows beginning and ending where their traces do, not where a trace leaves the ±2.5 mm
    band its extent was measured in: a transient at a strip's start (CinC A08495 falls from
    1.5 mV; A02197 wanders 18 mm off for 1.2 s), a step in its last moment (PTB-XL 00038 steps
    3 mm up 0.1 s before its end). A row moves by 0.5-4 mm, or on to where another row starts
    or ends (not along a pen stroke); ``inks``: all the ink (the segmenter leaves such a
    step's top out of the trace), then the trace alone (all the ink of a black grid page holds
    the grid), the farthest reach in either is taken."""
    reach, free = round(_FOLLOW_MM * px_per_mm), round(4.0 * px_per_mm)
    least = 0.5 * px_per_mm  # less is a blurred or jagged end, not trace
    if not rows:
        return rows
    out = []
    top, bottom = min(r.baseline_y for r in rows), max(r.baseline_y for r in rows)
    for row in rows:
        others = [r for r in rows if r is not row]
        first = min([row.x0 - free] + [r.x0 for r in others]) if others else 0
        last = max([row.x1 + free] + [r.x1 for r in others]) if others else inks[0].shape[1]
        band = _outer_band(row, row.baseline_y <= top, row.baseline_y >= bottom)
        n0, n1 = (
            max(ink_beyond(ink, band, row.baseline_y, e, d, reach, px_per_mm) for ink in inks)
            for e, d in ((row.x0, -1), (row.x1, 1))
        )
        x0 = max(first, row.x0 - n0) if n0 > least else row.x0
        x1 = min(last, row.x1 + n1) if n1 > least else row.x1
        out.append(replace(row, x0=x0, x1=x1) if (x0, x1) != (row.x0, row.x1) else row)
    return out


def _outer_band(row: TraceRow, first: bool, last: bool) -> tuple[int, int]:
    """The rows of the image :func:`~ecgviewer.digitize.trace.ink_beyond` is given for ``row``:
    its band, stretched on a side without a neighbouring row (above the first row, below the
    last) so that the inner 60 % it follows ink in is the whole band there (no neighbour's
    trace to pick up; CinC A07198's last row ends in a 20 mm swing below its baseline and was
    read 0.7 s short)."""
    base = row.baseline_y
    stretch = 1.0 / _BEYOND_INNER
    y0 = round(base - stretch * (base - row.y0)) if first else row.y0
    y1 = round(base + stretch * (row.y1 - base)) if last else row.y1
    return y0, y1


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
        present = _before_far_gap(present, _PAST_TRACE_MM * px_per_mm)
        wide_band = slice(max(0, int(foot) - int(0.45 * pitch)), int(foot) + int(0.45 * pitch) + 1)
        near = binary[wide_band]
        _, stop, _ = row_extent(present, near[:, end + 1 : x1].any(axis=0), px_per_mm)
        if stop > 0:
            added.append(TraceRow(foot, 0, 0, end + 1, end + 1 + stop, end, foot))
    if not added:
        return rows
    return with_bands(rows + added, h, px_per_mm)


def _before_far_gap(present: np.ndarray, far_px: float) -> np.ndarray:
    """``present`` (a row's inked columns from its pulse on) up to the first blank gap longer
    than ``far_px`` after its first ink: the trace follows its pulse, and ink beyond such a gap
    is something else (CinC A01561: a stamp 5 s past the end of a faint 3 s last row was the
    widest ink there and the row was read to it, 1.1 times the record)."""
    inked = np.flatnonzero(present)
    if inked.size < 2:
        return present
    far = np.flatnonzero(np.diff(inked) > far_px)
    if far.size == 0:
        return present
    out = present.copy()
    out[inked[far[0]] + 1 :] = False
    return out


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

    Printed strips show a whole number of half seconds, ending at the common right edge (the
    median of the latest ends two rows share within 1 mm, else the median end of all rows but
    the last: a short last row or a cut end is not it; CinC A01750, 10 s and 4.5 s rows, lost
    0.25 s of each row to the mean of the two ends), so when a pulse was found the common
    start is the end minus the span rounded down to 0.5 s (only when the excess is small: a
    lead-in, not signal); no row moves by more than 0.3 s (CinC A02804: rows whose starts
    disagree, 127 and 217, do not drag each other) unless it starts where the other rows'
    pulses stand (its own pulse was not found and would be read as signal: a creased CinC
    A08528 page, 0.57 s).
    """
    if not any(r.pulse_x1 is not None for r in rows):
        return rows
    shared = shared_median([-r.x1 for r in rows], 1.0 * calibration.px_per_mm_x, 2)
    whole = sorted(rows, key=lambda r: r.baseline_y)[:-1] or rows  # the last may be partial
    end = float(-shared if shared is not None else np.median([r.x1 for r in whole]))
    start = float(np.median([r.x0 for r in rows]))
    span_s = (end - start) / calibration.px_per_s
    grain = 0.5
    snapped = np.floor(span_s / grain + 1e-6) * grain
    if snapped <= 0 or span_s - snapped > 0.3:
        return rows
    new_start = round(end - snapped * calibration.px_per_s)
    lead_in = 0.3 * calibration.px_per_s  # no row moves further (a row found late stays)...
    pulses_end = min(r.pulse_x1 for r in rows if r.pulse_x1 is not None)

    def moves(r: TraceRow) -> bool:  # ...unless it starts where the other rows' pulses stand
        in_pulse = r.pulse_x1 is None and r.x0 < pulses_end  # (its own pulse not found: kit)
        return r.x0 < new_start < r.x1 and (new_start < r.x0 + lead_in or in_pulse)

    return [replace(r, x0=new_start) if moves(r) else r for r in rows]


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
    ends_in = (ink,) if ink is binary else (ink, binary)
    for row in _to_trace_ends(ends_in, find_rows(binary, px_per_mm), px_per_mm):
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
