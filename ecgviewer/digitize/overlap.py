"""Ink in a row's band that belongs to something else: a neighbouring row's deep wave or a
separator bar joined to the row's own line.

On a printed page a deep S wave of one row can reach into the next row's band (on a 3x4+1
page V3's S waves often land on the rhythm strip's QRS: the leads are simultaneous), and a
printed separator bar can run through several rows. Traced per column, such ink is one long
run joined to the row's own line, and the path follows it. Ink that leaves the band is taken
for another row's only when (1) it goes on far beyond the band edge (another row's wave goes
on past that row's baseline; this row's own wave ends at its tip) and (2) it narrows from the
band edge towards this row's line (a wave is wide at its own baseline, narrow at its tip).
It is then cut in the middle of its narrowest stretch, where its tip meets this row's line or
this row's own wave (two simultaneous QRS complexes often meet tip to tip).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FAR_BEYOND = 0.4  # another row's wave: its ink goes on beyond the band this far (see below)


def clip_foreign_strokes(
    binary: np.ndarray,
    x0: int,
    y0: int,
    y1: int,
    cols: np.ndarray,
    top: np.ndarray,
    bot: np.ndarray,
    thick: float,
) -> np.ndarray:
    """Clip (in place) the path's runs (band rows ``top``/``bot`` of path columns ``cols``)
    that leave the band through its top or bottom row, directly or through ink joined to them
    nearby, where that ink is another row's wave or a bar (:func:`_waist`). The runs between
    the flat runs nearest on either side (this row's own line: continuity) are cut there; a
    column whose run lies wholly beyond the cut holds only the other ink. Returns the columns
    to keep (bool per path column)."""
    keep = np.ones(cols.size, bool)
    h, w = binary.shape
    band_h = y1 - y0
    if cols.size == 0:
        return keep
    xs = cols + x0

    def beyond(row: int) -> np.ndarray:  # ink in the image row at a path column or beside it
        return ndimage.maximum_filter1d(binary[row].astype(np.uint8), 3, mode="constant")[xs] > 0

    up = (top <= 0) & beyond(y0 - 1) if y0 > 0 else np.zeros(cols.size, bool)
    down = (bot >= band_h - 1) & beyond(y1) if y1 < h else np.zeros(cols.size, bool)
    steep = (bot - top + 1) > 2.0 * thick
    reach = int(np.ceil(12.0 * thick))
    _edge_linked(binary, x0, y0, y1, cols, top, steep & ~up & ~down, up, down, reach // 3)
    flat = ~steep & ~up & ~down
    for hit, sign in ((up, -1), (down, 1)):
        for k in np.flatnonzero(hit):
            c = cols[k]
            left = np.flatnonzero(flat[:k] & (cols[:k] >= c - reach))
            right = np.flatnonzero(flat[k + 1 :] & (cols[k + 1 :] <= c + reach)) + k + 1
            refs = [int(left[-1])] if left.size else []
            refs += [int(right[0])] if right.size else []
            a = refs[0] if left.size else k
            b = refs[-1] if right.size else k
            if not refs:
                continue
            lim = (min(top[refs]) - thick) if sign < 0 else (max(bot[refs]) + thick)
            if not _goes_far_beyond(binary, x0 + int(c), y0, y1, sign, lim, thick):
                continue
            cut = _waist(binary, x0 + int(c), y0, y1, sign, lim, thick)
            if cut is None:
                continue
            span = np.arange(a, b + 1)
            if sign < 0:
                span = span[top[span] < cut]
                keep[span[bot[span] < cut]] = False
                top[span] = np.maximum(top[span], np.minimum(cut, bot[span]))
            else:
                span = span[bot[span] > cut]
                keep[span[top[span] > cut]] = False
                bot[span] = np.minimum(bot[span], np.maximum(cut, top[span]))
    return keep


def _goes_far_beyond(
    binary: np.ndarray, x: int, y0: int, y1: int, sign: int, lim: float, thick: float
) -> bool:
    """Whether the ink leaving the band at column ``x`` goes on beyond the band edge for over
    :data:`FAR_BEYOND` of the distance from this row's line ``lim`` (band row) to that edge.
    This row's own wave ends at its tip, at worst on the next row's line; another row's wave
    comes from that row's baseline and its ink goes on past it (that row's other waves)."""
    h, w = binary.shape
    reach = int(np.ceil(6.0 * thick))
    xa, xb = max(0, x - reach), min(w, x + reach + 1)
    d = lim if sign < 0 else (y1 - y0 - 1 - lim)
    depth = int(np.ceil(d))
    if depth < 3:
        return False
    if sign < 0:
        slab = binary[max(0, y0 - depth) : y0, xa:xb][::-1]  # row 0: just beyond the edge
    else:
        slab = binary[y1 : min(h, y1 + depth), xa:xb]
    if slab.shape[0] == 0 or not slab[0].any():
        return False
    labels, _ = ndimage.label(slab, structure=np.ones((3, 3), int))
    mine = np.unique(labels[0][labels[0] > 0])
    rows = np.flatnonzero(np.isin(labels, mine).any(axis=1))
    return bool(rows.size) and rows[-1] + 1 > FAR_BEYOND * d


def _edge_linked(binary, x0, y0, y1, cols, top, cand, up, down, reach: int) -> None:
    """Mark (in ``up``/``down``) the ``cand`` runs joined through ink within ``reach`` columns
    to ink that leaves the band upwards/downwards: the dashes of a slanted stroke."""
    h, w = binary.shape
    for k in np.flatnonzero(cand):
        x = int(cols[k]) + x0
        xa, xb = max(0, x - reach), min(w, x + reach + 1)
        win = binary[y0:y1, xa:xb]
        labels, _ = ndimage.label(win, structure=np.ones((3, 3), int))
        lab = labels[int(top[k]), x - xa]
        if lab == 0:
            continue
        if y0 > 0:
            hit = labels[0] == lab
            up[k] = bool((hit & binary[y0 - 1, xa:xb]).any())
        if y1 < h and not up[k]:
            hit = labels[-1] == lab
            down[k] = bool((hit & binary[y1, xa:xb]).any())


def _waist(
    binary: np.ndarray, x: int, y0: int, y1: int, sign: int, lim: float, thick: float
) -> int | None:
    """Where to cut the stroke at column ``x`` that leaves the band (upwards for ``sign`` -1,
    else downwards) from this row's line at band row ``lim``; None when it is this row's own
    wave. A wave is wide near its baseline and narrow at its tip, so ink narrowing from the
    band's edge towards this row's line is another row's wave reaching in: it is cut in the
    middle of its narrowest stretch (where its tip meets this row's own wave or line). One
    straight line at every height (a separator bar) is cut at this row's line."""
    h, w = binary.shape
    reach = int(np.ceil(6.0 * thick))
    xa, xb = max(0, x - reach), min(w, x + reach + 1)
    edge = 0 if sign < 0 else y1 - y0 - 1
    rows = np.arange(edge, int(round(lim)) - sign, -sign)  # from the edge towards the line
    rows = rows[(rows >= 0) & (rows < y1 - y0)]
    if rows.size < 3:
        return None
    win = binary[y0 + rows, xa:xb]
    has = win.any(axis=1)
    if not has[0]:
        return None
    first = np.argmax(win, axis=1)
    last = win.shape[1] - 1 - np.argmax(win[:, ::-1], axis=1)
    width = np.where(has, last - first + 1, 0)
    if width.max() <= 1.5 * thick + 1:  # a straight line all the way: not a wave
        return int(rows[-1])
    # a row where one of a wave's two strokes has a gap (faint, thin ink) is not its waist
    width = ndimage.maximum_filter1d(width, 2 * int(np.ceil(thick)) + 1, mode="nearest")
    least = int(width[has].min())
    waist = np.flatnonzero(has & (width <= least + 1))  # the narrow stretch: tips meet in it
    if width[0] <= width[waist[0]] + max(1.0, 0.5 * thick):
        return None  # narrowest at the edge: this row's own wave going on beyond its band
    return int(rows[(waist[0] + waist[-1]) // 2])  # where the tips meet: not known better
