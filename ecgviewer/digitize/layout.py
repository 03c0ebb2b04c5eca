"""Decide the lead layout of a page (which lead is where) from its rows of trace.

The rows come from :mod:`ecgviewer.digitize.rows`. The layout follows from the number of rows
and, where that is ambiguous (3 or 6 rows), from lead-change marks or gaps at the
quarter/half points of the rows and from whether the beats of the rows line up. The leads of
each layout are the table :data:`ecgviewer.paper.LAYOUT_SPECS`. Columns of a 12-lead page are
equal fractions of the common time span of the rows (2.5 s each for 3x4 at 25 mm/s).
Printed lead labels (:mod:`ecgviewer.digitize.labels`), where they read clearly, confirm the
layout or correct it (a page of one lead per row, "6x1"), and a label printed on the trace is
kept out of its lead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.labels import LabelRead, LabelReader, names_a_lead
from ecgviewer.digitize.row_starts import align_strip_rows
from ecgviewer.digitize.rows import TraceRow, locate_rows, marker_span, marks_ink
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.paper.layouts import LAYOUT_SPECS, LayoutSpec, with_strips
from ecgviewer.paper.types import Calibration, Layout, LeadBox

_MIN_SEGMENT_SPREAD = 0.4

_MIN_COLUMN_VARIATION = 0.6

_AMBIGUOUS_BEAT_SYNC = 0.2
# 4 rows whose last is under this share of the others' width: a strip's partial last row, not
# a 3x4+1's full-width rhythm strip (a 36 s strip on a dark blue grid was read as 3x4+1)
_MAX_SHORT_STRIP = 0.75

_MIN_QUARTER_OVER_HALF = -0.25  # 6 rows: quarter marks on top minus half marks below

_EVENT_BAND = 0.5  # beats are looked for up to this fraction of the way to a neighbour row

_MIN_BEAT_SYNC = 0.47  # fraction of beats lining up across rows: rows recorded simultaneously

_LABEL_MARKS_PROB = 0.2  # ink the segmenter gives at least this marks probability: labels

_LABEL_MARGIN = 3.0  # votes by which the printed labels must prefer another layout


@dataclass(frozen=True)
class LayoutDetection:
    """What :func:`detect_layout` found: the layout, per box the column of 0 s on its row's time
    axis and the foot of its row's calibration pulse (None if none), and warnings."""

    layout: Layout
    origins_px: tuple[float, ...]
    pulse_base_y: tuple[float | None, ...]
    warnings: tuple[str, ...] = ()


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
    if n == 4:  # its rhythm strip is as wide as the rows above; a strip's last row may end early
        top = float(np.median([r.x1 - r.x0 for r in rows[:3]]))
        return "single" if rows[3].x1 - rows[3].x0 < _MAX_SHORT_STRIP * top else "3x4+1"
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


def _spec(name: str) -> LayoutSpec:
    """The table's spec of a layout; an unknown name reads as ``3x4``."""
    return LAYOUT_SPECS.get(name, LAYOUT_SPECS["3x4"])


def _strip_leads(spec: LayoutSpec, n_strips: int, rhythm_lead: str) -> tuple[str, ...]:
    """Leads of ``n_strips`` rhythm strips below ``spec``'s grid (as the table's layout with
    that many strips has them), the rhythm strip named ``rhythm_lead``; () if none has."""
    strips = with_strips(spec, max(0, n_strips))
    if strips is None:
        return ()
    return tuple(rhythm_lead if n == strips.rhythm_lead else n for n in strips.rhythm_leads)


def _boxes_12_lead(
    binary: np.ndarray,
    name: str,
    rows: list[TraceRow],
    calibration: Calibration,
    settings: DigitizeSettings,
    marks: np.ndarray | None = None,
) -> tuple[list[LeadBox], list[float]]:
    """Lead boxes of a 12-lead layout and the 0 s column of every box's row; lead-change
    marks are looked for in ``marks`` (default ``binary``)."""
    spec = _spec(name)
    n_cols, n_grid_rows = spec.n_cols, spec.n_grid_rows
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
            span = marker_span(
                binary if marks is None else marks, row, edges[c], half_win, calibration.px_per_mm_x
            )
            if span is None:
                continue
            if c < n_cols and ends[c] - span[1] >= min_w:
                starts[c] = max(starts[c], span[1])
            if span[0] - starts[c - 1] >= min_w:
                ends[c - 1] = min(ends[c - 1], span[0])
        for c in range(n_cols):
            lead = spec.grid_rows[r][c]
            xb = max(ends[c], starts[c] + 1)  # a row that starts late may leave a lead empty
            boxes.append(LeadBox(lead, starts[c], xb, row.y0, row.y1, row.baseline_y, r, c))
            origins.append(x_start)
    strips = _strip_leads(spec, len(rows) - n_grid_rows, settings.rhythm_lead)
    for k, (row, lead) in enumerate(zip(rows[n_grid_rows:], strips, strict=False)):
        boxes.append(
            LeadBox(lead, row.x0, row.x1, row.y0, row.y1, row.baseline_y, n_grid_rows + k, 0)
        )
        origins.append(float(row.x0))
    return boxes, origins


def detect_layout(
    binary: np.ndarray,
    calibration: Calibration,
    settings: DigitizeSettings,
    pulse_ink: np.ndarray | None = None,
    marks_prob: np.ndarray | None = None,
) -> LayoutDetection:
    """Rows, layout name and one box per lead segment (see :class:`LayoutDetection`).

    The origins let leads be placed on a common timeline; the pulse foot gives each row's
    0 mV line exactly where a calibration pulse is printed. ``pulse_ink``: where to look for
    the pulses; ``marks_prob``: the segmenter's marks channel (pulses, ticks, labels), if any
    (see :func:`~ecgviewer.digitize.rows.locate_rows`).
    """
    warnings: list[str] = []
    marks = marks_ink(binary, binary if pulse_ink is None else pulse_ink, marks_prob)
    rows = locate_rows(binary, calibration, pulse_ink, marks)
    name = settings.layout if settings.layout != "auto" else _decide_name(binary, rows, calibration)
    if name != "single":
        n_needed = _spec(name).n_rows
        if len(rows) < n_needed:
            warnings.append(
                f"layout {name} needs {n_needed} rows but {len(rows)} were found; "
                "reading them as a single-lead strip"
            )
            name = "single"
    row_names = None
    reader = LabelReader(_label_ink(binary, pulse_ink, marks_prob), calibration.px_per_mm_x)
    if settings.layout == "auto":  # printed labels may confirm or correct the guess
        name, row_names = _layout_from_labels(reader, name, rows, calibration, settings)
    if name == "single":  # one strip: its rows start at one column on paper
        rows = align_strip_rows(rows, calibration)
        boxes = [
            LeadBox("ECG", r.x0, r.x1, r.y0, r.y1, r.baseline_y, k, 0) for k, r in enumerate(rows)
        ]
        return LayoutDetection(
            Layout("single", tuple(boxes), rhythm_lead="ECG"),
            tuple(float(r.x0) for r in rows),
            tuple(r.pulse_base_y for r in rows),
            tuple(warnings),
        )
    if row_names is not None:  # one lead per row, named by its printed label
        x_start = _span(rows)[0]
        boxes = [
            LeadBox(n, r.x0, r.x1, r.y0, r.y1, r.baseline_y, k, 0)
            for k, (r, n) in enumerate(zip(rows, row_names))
        ]
        origins = [x_start] * len(boxes)
    else:
        boxes, origins = _boxes_12_lead(binary, name, rows, calibration, settings, pulse_ink)
    boxes = [_past_label(reader, b, calibration) for b in boxes]
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


def _label_ink(
    binary: np.ndarray, pulse_ink: np.ndarray | None, marks_prob: np.ndarray | None
) -> np.ndarray:
    """Where printed labels are looked for: the ink the segmenter calls a mark, else all ink."""
    ink = binary if pulse_ink is None else pulse_ink
    return ink if marks_prob is None else ink & (marks_prob > _LABEL_MARKS_PROB)


def _label_starts(
    name: str, rows: list[TraceRow], settings: DigitizeSettings
) -> list[tuple[int, float, str]]:
    """``(row, column, lead)`` of every segment start of layout ``name`` on these rows."""
    spec = _spec(name)
    x_start, x_end = _span(rows[: spec.n_grid_rows])
    col_w = (x_end - x_start) / spec.n_cols
    out = []
    for r, row in enumerate(rows[: spec.n_grid_rows]):
        for c, lead in enumerate(spec.grid_rows[r]):
            out.append((r, float(row.x0) if c == 0 else x_start + c * col_w, lead))
    strips = _strip_leads(spec, len(rows) - spec.n_grid_rows, settings.rhythm_lead)
    for k, lead in enumerate(strips):
        r = spec.n_grid_rows + k
        out.append((r, float(rows[r].x0), lead))
    return out


def _layout_from_labels(
    reader: LabelReader,
    name: str,
    rows: list[TraceRow],
    calibration: Calibration,
    settings: DigitizeSettings,
) -> tuple[str, list[str] | None]:
    """The layout the printed lead labels vote for, when they clearly do, else ``name``; with
    one name per row when it is one lead per row ("6x1": a page of six limb leads).

    A layout gets +1 for each segment start whose label may be the lead it puts there, -1
    for a label that is clearly another lead, and (on a page with labels at its row starts)
    -1 for a segment start without a label. One lead per row is a candidate when every row
    start reads as a distinct lead on its own; it loses 1 for each label inside a row."""

    def read(r: int, x: float) -> LabelRead | None:
        return reader(x, rows[r].baseline_y)

    starts = [read(r, row.x0) for r, row in enumerate(rows)]
    labelled = sum(s is not None for s in starts) >= 0.8 * len(rows)
    if not labelled or len(rows) < 3:
        return name, None
    votes: dict[str, float] = {}
    for cand, spec in LAYOUT_SPECS.items():
        if spec.single or spec.n_rows != len(rows):
            continue
        v = 0.0
        for r, x, lead in _label_starts(cand, rows, settings):
            got = read(r, x)
            v += -1.0 if got is None else (got.supports(lead) - got.contradicts(lead))
        votes[cand] = v
    own = [names_a_lead(s) for s in starts]
    per_row = None
    if all(own) and len(set(own)) == len(own):
        x0, x1 = _span(rows)
        inner = [read(r, x0 + f * (x1 - x0)) for r in range(len(rows)) for f in (0.25, 0.5, 0.75)]
        per_row = f"{len(rows)}x1"
        votes[per_row] = len(rows) - sum(g is not None for g in inner)
    if not votes:
        return name, None
    best = max(votes, key=votes.__getitem__)
    if best == name or votes[best] < votes.get(name, 0.0) + _LABEL_MARGIN or votes[best] < 4:
        return name, None
    return best, ([str(n) for n in own] if best == per_row else None)


def _past_label(reader: LabelReader, box: LeadBox, calibration: Calibration) -> LeadBox:
    """The box starting after a lead label printed ON its baseline at its start (the trace
    runs into the letters there), else as it is."""
    got = reader(box.x0, box.baseline_y)
    near = 1.5 * calibration.px_per_mm_y
    if got is None or got.y0 > box.baseline_y + near or got.y1 < box.baseline_y - near:
        return box
    x0 = got.x1 + round(0.5 * calibration.px_per_mm_x)
    return replace(box, x0=x0) if x0 < box.x0 + 0.5 * (box.x1 - box.x0) else box


def _longest(boxes: list[LeadBox], preferred: str) -> str | None:
    """The preferred rhythm lead if present, else the lead of the widest box."""
    names = {b.name for b in boxes}
    if preferred in names:
        return preferred
    if "II" in names:
        return "II"
    return max(boxes, key=lambda b: b.x1 - b.x0).name if boxes else None
