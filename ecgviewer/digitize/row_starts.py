"""Where the rows of one long strip start and end: on paper they share one start column (the
short last row too) and every row but the last ends at one column.

A row's own ends are where its ink is found, which a faint or flat start, a transient leaving
the baseline band, or a beat taken for a calibration pulse moves by up to a second; each such
second is lost from the record (CinC A00180: three of six rows found 0.2-0.3 s late,
28.6 s read of 30 s). The strip's start is taken from rows whose calibration pulse stands apart
from their trace (the trace starts after a blank gap: unmistakable), else from the earliest
start that several rows share; rows starting up to 1 s later are moved to it. A pulse found
inside the strip's span is a beat, not a pulse.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ecgviewer.digitize.row_find import TraceRow
from ecgviewer.paper.types import Calibration

_SHARED_MM = 1.0  # starts (or ends) this close are the same column

_MAX_LATE_S = 1.0  # a row found to start (end) up to this much later (earlier) is moved


def shared_column(xs: list[int], tol: float, least: int) -> int | None:
    """The smallest of ``xs`` that at least ``least`` of them lie within ``tol`` of (above
    it), None if there is none."""
    xs = sorted(xs)
    for x in xs:
        if sum(1 for y in xs if x <= y <= x + tol) >= least:
            return int(x)
    return None


def shared_median(xs: list[int], tol: float, least: int) -> float | None:
    """The median of the ``xs`` within ``tol`` above :func:`shared_column` (the column they
    share, measured on all of them), None if they share none."""
    x = shared_column(xs, tol, least)
    return None if x is None else float(np.median([y for y in xs if x <= y <= x + tol]))


def strip_start(rows: list[TraceRow], calibration: Calibration) -> int | None:
    """The column where the rows of a strip start: the earliest start that two rows (a third
    of them, for many) share within 1 mm, or the earliest start of a row whose pulse stands
    apart from its trace (a blank gap of 1 mm or more) if that is earlier or no start is
    shared after that pulse (a row whose pulse was missed starts at it: not the strip's start;
    CinC A06874: the one row found with its pulse apart starts at a faint falling stroke
    0.14 s late, three rows share the start); None if neither."""
    tol = _SHARED_MM * calibration.px_per_mm_x
    apart = _pulse_apart(rows, tol)
    least = max(2, -(-len(rows) // 3))
    if not apart:
        return shared_column([r.x0 for r in rows], tol, least)
    first = shared_column([r.x0 for r in apart], tol, max(1, len(apart) // 2))
    after = max(r.pulse_x1 for r in apart)
    shared = shared_column([r.x0 for r in rows if r.x0 > after], tol, least)
    return first if shared is None or first is None else min(first, shared)


def align_strip_rows(rows: list[TraceRow], calibration: Calibration) -> list[TraceRow]:
    """Rows of one strip moved to the strip's common start (:func:`strip_start`) when found
    1 mm to 1 s after it, dropping a "pulse" that stands after that start (a beat), and every
    row but the last (which may be partial) moved to the common end when found 1 mm to 1 s
    before it (the latest end two rows share within 1 mm); where two rows share an end, the
    last row ends no later than the others (CinC A06928: handwriting beside its last row read
    1.3 times the record), and where most rows but the last share an end, no other row ends
    more than 1 mm after it (CinC A07136: a stamp touching the first row's end, read 1.03
    times; A05960: pen strokes 1.7 s past a row's end, 1.3 times);
    a row without a pulse that starts where other rows' pulses stand apart from their traces
    starts at the strip's start (CinC A00744: pen strokes over two rows' pulses, both read
    from the pulse, 1.05 times the record).
    Only rows shorter than the longest (by 1 mm) are moved, and none where all are as long
    (a sheared page). Two rows or more."""
    if len(rows) < 2:
        return rows
    late = _MAX_LATE_S * calibration.px_per_s
    tol = _SHARED_MM * calibration.px_per_mm_x
    start = strip_start(rows, calibration)
    if start is not None:
        rows = _past_missed_pulses(rows, start, tol, late)
    ends = [-r.x1 for r in rows[:-1]]
    end = shared_column(ends, tol, 2) if len(ends) >= 2 else None
    if end is not None and 2 * sum(-end - tol <= -e <= -end for e in ends) >= len(ends):
        rows = _cut_to_end(rows, -end, tol)
    right = max(r.x1 for r in rows[:-1])
    if end is not None and rows[-1].x1 > right + tol:  # ink beyond the strip (pen, stamp)
        rows = [*rows[:-1], replace(rows[-1], x1=right)]
    full = max(r.x1 - r.x0 for r in rows)
    if all(r.x1 - r.x0 >= full - tol for r in rows[:-1]):  # whole rows (a sheared page's
        return rows  # rows start and end further right each: CinC A00688)
    out = []
    for k, row in enumerate(rows):
        short = k == len(rows) - 1 or row.x1 - row.x0 < full - tol
        if short and start is not None and start + tol < row.x0 <= start + late:
            beat = row.pulse_x1 is not None and row.pulse_x1 >= start
            row = replace(
                row, x0=start, **({"pulse_x1": None, "pulse_base_y": None} if beat else {})
            )
        if short and end is not None and k < len(rows) - 1 and -end - late <= row.x1 < -end - tol:
            row = replace(row, x1=-end)
        out.append(row)
    return out


def _cut_to_end(rows: list[TraceRow], end: int, tol: float) -> list[TraceRow]:
    """Rows but the last that run on more than ``tol`` past the strip's common ``end`` (a
    stamp or a pen stroke touching the trace's end) ended there."""
    return [
        replace(r, x1=end) if k < len(rows) - 1 and r.x0 < end < r.x1 - tol else r
        for k, r in enumerate(rows)
    ]


def _past_missed_pulses(
    rows: list[TraceRow], start: int, tol: float, late: float
) -> list[TraceRow]:
    """Rows without a pulse that start up to ``late`` before the strip's ``start`` and before
    the end of the pulses other rows show apart from their traces (their own pulse was not
    found, and would be read as signal) moved to ``start``."""
    apart = _pulse_apart(rows, tol)
    if not apart:
        return rows
    pulses_end = max(r.pulse_x1 for r in apart)
    return [
        replace(r, x0=start)
        if r.pulse_x1 is None and start - late <= r.x0 < pulses_end and start < r.x1
        else r
        for r in rows
    ]


def _pulse_apart(rows: list[TraceRow], tol: float) -> list[TraceRow]:
    """The rows whose calibration pulse stands apart from their trace (a blank gap of
    ``tol`` or more between them)."""
    return [r for r in rows if r.pulse_x1 is not None and r.x0 - r.pulse_x1 >= tol]
