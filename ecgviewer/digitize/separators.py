"""Printed marks that are not the trace: straight vertical bars joining two rows' lines.

Some printers draw a thin straight vertical line from one row's trace to the next row's (a
separator or lead-change mark between lead columns, or a lead-off transient drawn as one
line): traced per column, the row's path follows it down as a spike several millivolts tall.

A bar is told from a QRS stroke by its shape and where it ends, not by its verticality alone:

* thin all along: every row of it is one ink segment at most a line width (plus 2 px) wide,
  where the up- and downstroke of a spike part towards its base;
* straight: it leans at most a few per cent over its length (a stroke bends into its wave);
* long: at least :data:`MIN_BAR_MM` millimetres of thin ink (gaps in faint ink bridged);
* alone: no other thin stroke beside it for most of its length (a deep wave's down- and
  upstroke are each thin and straight, but they run side by side to the wave's tip);
* both ends on a line: at each end the ink goes on sideways for :data:`END_SIDE_MM` on both
  sides (a trace line passing there). A spike ends in a free tip at one end and widens into
  its wave at the other; a deep wave that reaches the next row's line still widens at its
  own end.

Its thin ink is left out of the row's band; where it crosses or meets a line the line's ink
(wide there) stays, so the path runs on along the line and the bar's columns are bridged.

Printed lead labels ("aVR", "V1") stand just after a segment's start, above or below its
line, a few pixels from it or touching it: without the line's thin ink a label's letters
are small pieces, while the line goes on, flat, under (or over) them in their columns.
:func:`floating_marks` finds such pieces, so neither the gap closing that joins a steep
stroke's dashes nor the path can join a letter to the line. A QRS there is not one: its
columns hold steep strokes, not a flat line beside them. A letter standing on the line (its
foot merged with it, ecg00034's "V1", ecg00039's "V5") is no separate piece:
:func:`seated_marks` cuts the ink off a row's width above (or below) the flat line's level
and takes pieces of a label's size with the line's ink under nearly all their columns (a P
or T wave has ink at the line's level only at its ends) and no stroke going on across the
line in most of them (a QRS stroke does).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.centreline import close_vertical_gaps

MIN_BAR_MM = 8.0  # shortest bar (a real stroke this thin and straight is rarer than a bar)
END_SIDE_MM = 2.0  # a line at a bar's end goes on this far on both sides
MAX_BESIDE = 0.25  # fraction of a bar's rows with other thin ink beside it (a wave's strokes)
MIN_FILL = 0.7  # fraction of a bar's rows holding thin ink (the rest: faint ink, crossings)
_FAINT = 0.05  # darkness counted as ink when looking for bars (they are often faint)
LABEL_ZONE_MM = 12.0  # labels stand within this far of a segment's start
LABEL_MAX_MM = (3.0, 5.0)  # widest and tallest piece of a label (a letter or two touching)
LINE_COVER = 0.8  # fraction of a piece's columns the line runs under it (the rest: faint)
LINE_CHAIN_MM = 1.5  # the line's thin ink runs on this far at least (a letter's bars: less)
MAX_LINE_SLOPE = 1.5  # rows per column: a line under a label, not a QRS stroke
SEATED_LINE = 0.5  # fraction of the zone's columns with the line's thin ink at its level
SEATED_COVER = 0.8  # fraction of a letter's columns with ink at the line's level under it
SEATED_FOOT = 0.5  # most of a letter's width touching the line (a wave's crest: all of it)
SEATED_CROSS = 0.4  # most of a letter's columns where a stroke goes on across the line
_SLOPES = np.linspace(-0.03, 0.03, 7)  # leans looked for (columns per row): a photo's tilt


def row_run_lengths(mask: np.ndarray) -> np.ndarray:
    """Per pixel of ``mask`` (bool, rows × cols), the length of the horizontal ink run holding
    it (0 off ink)."""
    h, w = mask.shape
    idx = np.arange(w, dtype=np.int32)[None, :]
    # first column of the run holding each pixel, and one past its last column
    start = np.maximum.accumulate(np.where(mask, -1, idx), axis=1) + 1
    stop = np.minimum.accumulate(np.where(mask, w, idx)[:, ::-1], axis=1)[:, ::-1]
    return np.where(mask, stop - start, 0).astype(np.int32)


def bar_mask(
    binary: np.ndarray,
    darkness: np.ndarray | None,
    x0: int,
    x1: int,
    thick: float,
    px_per_mm: float,
    rows: tuple[int, int] | None = None,
) -> np.ndarray:
    """The thin ink of vertical bars (see the module docstring) in columns ``[x0, x1)`` of the
    page (bool, page rows × those columns). With ``rows`` (a row's band ``[y0, y1)``), only
    bars reaching into it are looked for, within one band height of it (where the
    neighbouring rows' lines are); else over the whole page height."""
    page_h, w = binary.shape
    pad = max(3, int(np.ceil(END_SIDE_MM * px_per_mm)) + 2)
    xa, xb = max(0, x0 - pad), min(w, x1 + pad)
    out = np.zeros((page_h, max(0, x1 - x0)), bool)
    ya, yb = 0, page_h
    if rows is not None:
        ya, yb = max(0, 2 * rows[0] - rows[1]), min(page_h, 2 * rows[1] - rows[0])
    if xb - xa < 3 or yb - ya < 3 or px_per_mm <= 0:
        return out
    h = yb - ya
    ink = binary[ya:yb, xa:xb].astype(bool)
    if darkness is not None:
        ink = ink | (darkness[ya:yb, xa:xb] >= _FAINT)
    wmax = thick + 2.0
    thin = ink & (row_run_lengths(ink) <= wmax)
    gap = max(2, int(np.ceil(2.0 * thick)) + 1)  # a line crossing the bar, a faint stretch
    min_len = int(np.ceil(MIN_BAR_MM * px_per_mm))
    side = int(np.ceil(END_SIDE_MM * px_per_mm))
    bars = np.zeros_like(thin)
    ys = np.arange(h)
    for slope in _SLOPES:
        shift = np.round(slope * (ys - 0.5 * h)).astype(int)
        sheared = _shear(thin, -shift)  # a line of this lean stands upright
        pair = sheared.copy()
        pair[:, :-1] |= sheared[:, 1:]  # two columns: a line between them, or 1 px wide
        cand = np.flatnonzero(pair.sum(axis=0) >= MIN_FILL * min_len)  # enough thin ink
        for i, a, b in _long_runs(close_vertical_gaps(pair[:, cand], gap), min_len):
            c = int(cand[i])
            if pair[a:b, c].mean() < MIN_FILL or _crowded(sheared[a:b], c, side):
                continue
            xs = c + shift[[a, b - 1]]
            if not all(_line_at(ink, y, x, thick, side) for y, x in zip((a, b - 1), xs)):
                continue
            line = np.zeros_like(thin)
            line[a:b, c : c + 2] = True
            bars |= _shear(line, shift) & thin
    if bars.any():
        bars = ndimage.binary_dilation(bars, np.ones((1, 3), bool)) & thin
        out[ya:yb] = bars[:, x0 - xa : x0 - xa + out.shape[1]]
    return out


def _shear(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``mask`` with each row moved ``shift[row]`` columns right (ink moved out is lost)."""
    out = np.zeros_like(mask)
    w = mask.shape[1]
    for s in np.unique(shift):
        rows = shift == s
        if s >= 0:
            out[rows, s:] = mask[rows, : w - s]
        else:
            out[rows, : w + s] = mask[rows, -s:]
    return out


def _long_runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int, int]]:
    """Vertical runs of ``mask`` at least ``min_len`` rows long: ``(column, first, stop)``."""
    h, w = mask.shape
    t = np.zeros((h + 2, w), np.int8)
    t[1:-1] = mask
    d = np.diff(t, axis=0)
    c0, r0 = np.nonzero(d.T == 1)
    _, r1 = np.nonzero(d.T == -1)
    long = (r1 - r0) >= min_len
    return list(zip(c0[long].tolist(), r0[long].tolist(), r1[long].tolist()))


def _crowded(thin: np.ndarray, c: int, side: int) -> bool:
    """Whether other thin ink runs beside the upright line in columns ``c, c + 1`` of
    ``thin`` (its rows only) within ``side`` columns in over :data:`MAX_BESIDE` of its rows:
    the other stroke of a wave (they converge to its tip), not a lone bar."""
    w = thin.shape[1]
    left = thin[:, max(0, c - side) : max(0, c - 2)]
    right = thin[:, min(w, c + 4) : min(w, c + side + 2)]
    beside = left.any(axis=1) | right.any(axis=1)
    return bool(beside.mean() > MAX_BESIDE)


def _line_at(ink: np.ndarray, y: int, x: int, thick: float, side: int) -> bool:
    """Whether a line passes the bar's end at row ``y``, column ``x``: within a few rows of it
    ink covers most columns on both sides for ``side`` columns."""
    h, w = ink.shape
    r = int(np.ceil(2.0 * thick)) + 2
    if x - side < 0 or x + side >= w:
        return False
    prof = ink[max(0, y - r) : min(h, y + r + 1), x - side : x + side + 1].any(axis=0)
    left, right = prof[:side], prof[side + 1 :]
    return bool(left.mean() >= 0.8 and right.mean() >= 0.8)


def floating_marks(band: np.ndarray, thick: float, px_per_mm: float) -> np.ndarray:
    """Pieces of ink of a row's ``band`` (bool, rows x columns from the segment's start) that
    stand beside its line near the start: the ink left when the line (thin runs of ink wider
    than a label, in a chain longer than :data:`LINE_CHAIN_MM`) is taken away, in pieces
    wholly within :data:`LABEL_ZONE_MM` of the start, two columns wide or more (not the end
    of a stroke cut by the start) and at most :data:`LABEL_MAX_MM` in size, with the line
    (:func:`_line_beside`) running under or over them. A letter touching the line is such a
    piece too; the line's pixels and those next to them stay. Returns the pieces' pixels
    (bool, like ``band``)."""
    out = np.zeros_like(band, dtype=bool)
    zone = int(round(LABEL_ZONE_MM * px_per_mm))
    if zone < 3 or not band[:, :zone].any():
        return out
    eight = np.ones((3, 3), bool)
    labels, _ = ndimage.label(band, structure=eight)
    max_w, max_h = (m * px_per_mm for m in LABEL_MAX_MM)
    wide = [
        i + 1
        for i, (_, xs) in enumerate(ndimage.find_objects(labels))
        if xs.stop - xs.start > max_w
    ]
    if not wide:
        return out
    line_len = _column_run_lengths(np.isin(labels, wide))  # the row's line, not a dash
    thin = (line_len > 0) & (line_len <= 2.0 * thick + 1.0)
    chains, _ = ndimage.label(thin, structure=eight)  # a letter's bars are thin but short
    long = [
        i + 1
        for i, (_, xs) in enumerate(ndimage.find_objects(chains))
        if xs.stop - xs.start > LINE_CHAIN_MM * px_per_mm
    ]
    thin = np.isin(chains, long)
    pieces, _ = ndimage.label(band & ~thin, structure=eight)
    for i, (ys, xs) in enumerate(ndimage.find_objects(pieces)):
        width = xs.stop - xs.start
        if xs.stop > zone or not 2 <= width <= max_w or ys.stop - ys.start > max_h:
            continue
        piece = pieces[:, xs] == i + 1
        if _line_beside(thin[:, xs], piece):
            out[:, xs] |= piece
    out &= ~ndimage.binary_dilation(thin, eight)
    return out | seated_marks(band, thin[:, :zone], thick, max_w, max_h)


def seated_marks(band, thin, thick: float, max_w: float, max_h: float) -> np.ndarray:
    """Letters standing on a flat line at a segment's start (their foot merges with it, so
    they are no separate piece): the line's level is the row holding most of its thin ink
    (``thin``, the zone's columns) and ink there covers at least half the zone's columns;
    the ink beyond ``thick + 1`` rows of it, in pieces of a label's size (``max_w`` x
    ``max_h``) under (or over) which ink lies at the line's level in nearly every column (a
    wave beside the line has its own ink there only at its ends), and no stroke going on
    across the line in over :data:`SEATED_CROSS` of them (a QRS stroke cut by the level); a
    letter meets the line at its foot or vertex, in at most :data:`SEATED_FOOT` of its
    width (a wave's crest or trough cut off by the level meets it all along), and it ends
    far from the line in two free tips (:func:`_two_tips`: only a "V" is looked for so)
    with no ink just past them (ecg00048: a QRS spike printed through "V6" goes on)."""
    out = np.zeros_like(band, dtype=bool)
    zone = thin.shape[1]
    counts = np.bincount(np.nonzero(thin)[0], minlength=band.shape[0])
    if counts.max(initial=0) == 0:
        return out
    level, r = int(np.argmax(counts)), int(np.ceil(thick)) + 1
    lo, hi = max(0, level - r), level + r + 1
    on_line = band[lo:hi, :zone].any(axis=0)
    if thin[lo:hi].any(axis=0).mean() < SEATED_LINE:
        return out
    eight, h = np.ones((3, 3), bool), band.shape[0]
    # rows kept (from, to) and rows labelled, on to the line's level: a V's arms meet there
    sides = ((0, lo, 0, level), (hi, h, level + 1, h))
    for (k0, k1, l0, l1), far in zip(
        sides, (band[hi : hi + r, :zone], band[max(0, lo - r) : lo, :zone])
    ):
        through = far.any(axis=0) & on_line  # a stroke crossing the line there
        pieces, _ = ndimage.label(band[l0:l1, :zone], structure=eight)
        pieces[: k0 - l0], pieces[k1 - l0 :] = 0, 0
        above = k0 == 0
        for i, sl in enumerate(ndimage.find_objects(pieces)):
            if sl is None:
                continue
            ys, xs = sl
            if xs.start < 2 or xs.stop >= zone or not 2 <= xs.stop - xs.start <= max_w:
                continue
            if ys.stop - ys.start > max_h or on_line[xs].mean() < SEATED_COVER:
                continue
            piece = pieces[:, xs] == i + 1
            foot = piece[k1 - l0 - 1 if above else 0]  # its row next to the line's
            if through[xs].mean() > SEATED_CROSS or not 0 < foot.sum() <= SEATED_FOOT * foot.size:
                continue
            tip = (
                slice(max(0, l0 + ys.start - r), l0 + ys.start)
                if above
                else slice(l0 + ys.stop, l0 + ys.stop + r)
            )
            if band[tip, xs].any():  # ink goes on past its tips: a stroke through a label
                continue
            if _two_tips(piece[ys][::-1] if above else piece[ys]):
                out[l0:l1, xs] |= piece
    return out


def _two_tips(piece: np.ndarray) -> bool:
    """Whether ``piece`` (rows from the line outwards) ends, in its farthest fifth, in two
    separate strokes: the free arms of a "V", where a wave's two strokes meet at one tip."""
    far = piece[-max(1, piece.shape[0] // 5) :].any(axis=0)
    return int(np.count_nonzero(np.diff(far.astype(np.int8)) == 1) + far[0]) >= 2


def _line_beside(thin: np.ndarray, piece: np.ndarray) -> bool:
    """Whether a flat line runs wholly under (or wholly over) ``piece`` in its columns: in
    at least :data:`LINE_COVER` of them ``thin`` (the line's thin ink) holds a pixel on that
    side, and the nearest such pixel moves at most :data:`MAX_LINE_SLOPE` rows per column
    (median): a line, not the other stroke of a wave whose broken stroke ``piece`` is."""
    rows = np.arange(piece.shape[0])[:, None]
    p_top = np.where(piece, rows, piece.shape[0]).min(axis=0)
    p_bot = np.where(piece, rows, -1).max(axis=0)
    for side in (thin & (rows > p_bot), thin & (rows < p_top)):
        held = side.any(axis=0)
        if held.mean() < LINE_COVER:
            continue
        near = np.where(side, np.abs(rows - 0.5 * (p_top + p_bot)), np.inf).argmin(axis=0)
        steps = np.abs(np.diff(near[held].astype(float)))
        if steps.size == 0 or np.median(steps) <= MAX_LINE_SLOPE:
            return True
    return False


def _column_run_lengths(mask: np.ndarray) -> np.ndarray:
    """Per pixel of ``mask``, the length of the vertical ink run holding it (0 off ink)."""
    return row_run_lengths(np.ascontiguousarray(mask.T)).T
