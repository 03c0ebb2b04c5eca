"""Candidate rows of trace on a binary page, from its horizontal ink profile.

Rows come from the horizontal projection of the ink (the isoelectric line of every row makes a
sharp peak); candidate rows must look like trace (QRS strokes or one long line), not text or
rules, and be mostly inked along their extent: by the trace that holds the row's baseline band,
followed wherever it wanders off the band, with small dropouts of a faint trace closed. The
short last row of a long strip is looked for one pitch below the others.
:mod:`ecgviewer.digitize.rows` refines them (trace ends, calibration pulses).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage, signal

from ecgviewer.digitize.centreline import close_vertical_gaps
from ecgviewer.digitize.trace import column_runs, inked_extent
from ecgviewer.errors import NoTraceFoundError

_MIN_ROW_SEP_MM = 7.0

_MIN_ROW_WIDTH_MM = 40.0

_MIN_LONG_COVER = 0.6

_MIN_TALL_EVENTS = 3

_MAX_BAND_INK = 0.35  # a trace row's ±2.5 mm band is mostly paper

_MAX_STRAIGHT_FILL = 0.9  # ink on one straight line over this fraction of the row: a rule

_MAX_SOLID = 0.5  # ... unless less than this fraction of its ink is in solid patches

_MIN_OFF_LINE = 0.03  # ... unless ink leaves that line (waves) in this fraction of columns

_MIN_REL_ROW_WIDTH = 0.6  # rows narrower than this fraction of the widest are text blocks...

_MIN_PARTIAL_WIDTH_MM = 10.0  # ... except the last row of a long strip, one pitch below the rest

_MAX_START_OFF_MM = 12.0  # which starts where the full rows start

_MIN_FILL = 0.5  # a row's trace inks at least this fraction of the columns of its extent...

_DROPOUT_MM = 1.5  # ... once a faint trace's dropouts shorter than this are closed

_MIN_PARTIAL_BELOW_MM = 12.0  # ... at least this far below the last full row

_REACH_MM = 15.0  # the row's trace: ink this far off its baseline joined to ink on it

_SAME_ROW_MM = 25.0  # profile peaks this close whose band ink is mostly one trace: one row

_FAR_GAP_MM = 20.0  # ink beyond a blank gap this long is part of the row only if as wide


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
    binary: np.ndarray,
    p: int,
    x0: int,
    x1: int,
    band: np.ndarray,
    px_per_mm: float,
    relaxed: bool = False,
) -> bool:
    """A row of trace has QRS complexes (tall vertical strokes) or, for a flat trace, one long
    unbroken line; a line of text has neither. A band mostly inked is a dark area (shadow,
    photo), not a thin trace, when its ink is solid; a dense trace (a noisy record drawn with
    a thick pen: CinC A02479) inks its band as much in strokes, which cross it every few mm:
    their cover is measured over the ±12 mm the strokes reach."""
    dense = band.size > 0 and band.mean() > _MAX_BAND_INK
    if band.size == 0 or (dense and _solid_fraction(band, px_per_mm) > _MAX_SOLID):
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
    if dense and cover < _MIN_LONG_COVER:
        reach = round(12 * px_per_mm)
        cover = _long_stroke_cover(binary[max(0, p - reach) : p + reach + 1, x0:x1], px_per_mm)
    if relaxed:  # a row at the pitch of the others: one sign of trace is enough
        return tall >= 1 or cover >= 0.5 * _MIN_LONG_COVER
    return cover >= _MIN_LONG_COVER or (tall >= 1 and cover >= 0.5 * _MIN_LONG_COVER)


def _solid_fraction(band: np.ndarray, px_per_mm: float) -> float:
    """Fraction of the band's ink inside solid patches 1 mm across (a shadow or photo; a pen
    stroke is thinner)."""
    k = max(2, round(1.0 * px_per_mm))
    solid = ndimage.binary_erosion(band, structure=np.ones((k, k), bool))
    return float(solid.sum()) / max(1, int(band.sum()))


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
    labels, _ = ndimage.label(binary, structure=np.ones((3, 3), bool))
    min_width = min(_MIN_ROW_WIDTH_MM * px_per_mm, 0.3 * w)
    cands: list[tuple[int, int, int, float]] = []
    for p in sorted(strong, key=lambda q: -smooth[q]):
        if any(abs(int(p) - c[0]) < sep for c in cands):
            continue
        found = _candidate(binary, labels, int(p), px_per_mm, min_width)
        if found is not None and not any(_same_trace(binary, found, c, px_per_mm) for c in cands):
            cands.append(found)
    if not cands:
        raise NoTraceFoundError("no row of trace long enough to be an ECG")
    cands.sort()
    widest = max(c[2] - c[1] for c in cands)
    wide = [c for c in cands if c[2] - c[1] >= _MIN_REL_ROW_WIDTH * widest]
    wide += _rows_at_pitch(binary, labels, strong, wide, px_per_mm)
    wide += _partial_last_row(binary, labels, peaks, cands, wide, px_per_mm)
    return with_bands(
        [TraceRow(float(p), 0, 0, x0, x1) for p, x0, x1, _fill in wide], h, px_per_mm
    )


def row_extent(present: np.ndarray, around: np.ndarray, px_per_mm: float):
    """:func:`inked_extent` of a row with this module's rule: gaps under 6 mm closed, pieces of
    3 mm or more, groups split at blank gaps over :data:`_FAR_GAP_MM`."""
    px = px_per_mm
    return inked_extent(present, int(6 * px), int(3 * px), _FAR_GAP_MM * px, around)


def _candidate(
    binary: np.ndarray,
    labels: np.ndarray,
    p: int,
    px_per_mm: float,
    min_width: float,
    relaxed: bool = False,
) -> tuple[int, int, int, float] | None:
    """``(baseline row, first column, end column, trace fill)`` of a row of trace whose
    baseline is image row ``p``, if the ink there is a trace at least ``min_width`` px wide
    that inks at least half its columns (:func:`_trace_fill`); ``labels``: the ink's
    8-connected pieces."""
    half_band = max(2, int(2.5 * px_per_mm))
    band = binary[max(0, p - half_band) : p + half_band + 1]
    reach = round(_REACH_MM * px_per_mm)
    around = binary[max(0, p - reach) : p + reach + 1].any(axis=0)
    x0, x1, fill = row_extent(band.any(axis=0), around, px_per_mm)
    if x1 - x0 < min_width:
        return None
    if fill < _MIN_FILL:
        fill = _trace_fill(labels, p, x0, x1, px_per_mm)
        if fill < _MIN_FILL:
            return None
    if not _looks_like_trace(binary, p, x0, x1, band[:, x0:x1], px_per_mm, relaxed):
        return None
    return p, x0, x1, fill


def _trace_fill(labels: np.ndarray, p: int, x0: int, x1: int, px_per_mm: float) -> float:
    """Fraction of columns ``[x0, x1)`` that hold the row's trace: ink within 15 mm of the
    baseline row ``p`` connected to ink in its ±2.5 mm band (a noisy trace wanders off its
    baseline for seconds: CinC A01246, A04170), dropouts under 1.5 mm closed (a faint trace
    read in dashes on a dark grid: A07498). Scattered marks and text have no such trace."""
    half = max(2, int(2.5 * px_per_mm))
    reach = round(_REACH_MM * px_per_mm)
    ids = np.unique(labels[max(0, p - half) : p + half + 1, x0:x1])
    ids = ids[ids > 0]
    if x1 <= x0 or ids.size == 0:
        return 0.0
    cols = np.isin(labels[max(0, p - reach) : p + reach + 1, x0:x1], ids).any(axis=0)
    k = max(1, round(_DROPOUT_MM * px_per_mm))
    cols |= ndimage.binary_closing(cols, structure=np.ones(k + 1, bool))
    return float(cols.mean())


def _same_trace(
    binary: np.ndarray, a: tuple[int, int, int, float], b: tuple[int, int, int, float], px_per_mm
) -> bool:
    """Whether candidate ``a`` is row ``b`` again: a profile peak under 25 mm from ``b``'s
    where the columns both span mostly hold one stroke of ink between the two baselines
    (± 2.5 mm), not two apart (one wandering trace makes several peaks; two rows' traces
    run one above the other)."""
    if abs(a[0] - b[0]) >= _SAME_ROW_MM * px_per_mm:
        return False
    half = max(2, int(2.5 * px_per_mm))
    xa, xb = max(a[1], b[1]), min(a[2], b[2])
    ya, yb = max(0, min(a[0], b[0]) - half), max(a[0], b[0]) + half + 1
    if xb <= xa:
        return False
    sub = close_vertical_gaps(binary[ya:yb, xa:xb], max(1, round(1.0 * px_per_mm)))
    _top, _bot, ptr = column_runs(sub)
    runs = np.diff(ptr)
    inked = runs > 0
    return bool(inked.any()) and float((runs[inked] >= 2).mean()) < 0.3


def _rows_at_pitch(
    binary: np.ndarray,
    labels: np.ndarray,
    strong: np.ndarray,
    wide: list[tuple[int, int, int, float]],
    px_per_mm: float,
) -> list[tuple[int, int, int, float]]:
    """Rows whose trace shows few signs of one (low QRS complexes broken by dropouts: CinC
    A05392, A06894) standing where the strip's other rows put the next row: a strong profile
    peak a whole number of row pitches (within 15 %) from the found rows, between them or one
    pitch beyond, as wide as they are (60 %) and starting where they start (12 mm). Two found
    rows or more give the pitch (their median spacing, 25 mm or more)."""
    if len(wide) < 2:
        return []
    ys = np.array(sorted(c[0] for c in wide), float)
    pitch = float(np.median(np.diff(ys)))
    if pitch < _SAME_ROW_MM * px_per_mm:  # rows this close are not a strip's rows
        return []
    widest = max(c[2] - c[1] for c in wide)
    starts = np.array([c[1] for c in wide], float)
    added: list[tuple[int, int, int, float]] = []
    for p in strong:
        off = (p - ys) / pitch
        beyond = p < ys[0] - 1.15 * pitch or p > ys[-1] + 1.15 * pitch
        if beyond or np.abs(off).min() < 0.5 or np.abs(off - np.round(off)).min() > 0.15:
            continue
        if any(abs(int(p) - c[0]) < 0.5 * pitch for c in added):
            continue
        c = _candidate(binary, labels, int(p), px_per_mm, _MIN_REL_ROW_WIDTH * widest, True)
        if c is not None and np.abs(starts - c[1]).min() <= _MAX_START_OFF_MM * px_per_mm:
            added.append(c)
    return added


def _partial_last_row(
    binary: np.ndarray,
    labels: np.ndarray,
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
    # past its own trace (a second profile peak of a wandering trace: CinC A04513)
    lo, hi = (0.6, 1.4) if len(ys) > 1 else (0.0, np.inf)
    pitch = float(np.median(np.diff(ys))) if len(ys) > 1 else 1.0
    lo = max(lo, _MIN_PARTIAL_BELOW_MM * px_per_mm / pitch)
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
            c = _candidate(binary, labels, int(p), px_per_mm, _MIN_PARTIAL_WIDTH_MM * px_per_mm)
            if c is not None and fits(c):
                return [c]
    return []


def with_bands(rows: list[TraceRow], h: int, px_per_mm: float) -> list[TraceRow]:
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
