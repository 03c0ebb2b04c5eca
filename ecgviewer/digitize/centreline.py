"""The centre of a printed line along a traced path, to a fraction of a pixel.

Along the runs :mod:`ecgviewer.digitize.trace` chose, the line's centre is read from the grey
darkness map: column by column where the line is flat (the run's darkness-weighted centre, or
half a line width inside the ink's edge at a sharp peak, where the round pen's cap is), row by
row where it is steep (see :func:`stroke_points`), so peaks keep their full height and a thick
line does not widen them.
"""

from __future__ import annotations

import numpy as np

# A steep stroke's row segment wider than this many line widths holds two strokes (the up-
# and downstroke of a spike merged by the line width, or a stroke slanted enough to look wide)
_SPLIT_WIDTHS = 1.0


def _weighted_centres(
    dark: np.ndarray, cols: np.ndarray, top: np.ndarray, bot: np.ndarray
) -> np.ndarray:
    """Darkness-weighted centroid row of each run ``[top, bot]`` of column ``cols``."""
    d = dark[:, cols].astype(np.float64)
    rows = np.arange(d.shape[0], dtype=np.float64)[:, None]
    cd = np.vstack([np.zeros((1, d.shape[1])), np.cumsum(d, axis=0)])
    cyd = np.vstack([np.zeros((1, d.shape[1])), np.cumsum(d * rows, axis=0)])
    k = np.arange(cols.size)
    top_i = np.clip(top.astype(int), 0, d.shape[0] - 1)
    bot_i = np.clip(bot.astype(int), top_i, d.shape[0] - 1)
    w = cd[bot_i + 1, k] - cd[top_i, k]
    wy = cyd[bot_i + 1, k] - cyd[top_i, k]
    geometric = 0.5 * (top_i + bot_i)
    return np.where(w > 1e-6, wy / np.maximum(w, 1e-12), geometric)


def _ink_level(dark: np.ndarray, cols: np.ndarray, top: np.ndarray, bot: np.ndarray) -> float:
    """Darkness of fully inked pixels: a high percentile of the darkness at the middle of the
    path's runs (at least 0.2, so a faint trace still gives sensible coverages)."""
    if cols.size == 0:
        return 1.0
    mid = dark[((top + bot) // 2).astype(int), cols]
    return float(max(0.2, np.percentile(mid, 90)))


def _line_width(
    dark: np.ndarray, cols: np.ndarray, top: np.ndarray, bot: np.ndarray, ink: float, thick: float
) -> float:
    """Width of the printed line (px): the median ink mass (darkness / ink level, summed over
    the run and one pixel either side) of the path's short, i.e. near-horizontal, runs. Unlike
    binary run lengths it does not grow or shrink with the threshold."""
    flat = (bot - top + 1) <= thick
    if flat.sum() < 8:
        return thick
    c, t, b = cols[flat], top[flat], bot[flat]
    h = dark.shape[0]
    cd = np.vstack([np.zeros((1, dark.shape[1]), np.float64), np.cumsum(dark, axis=0)])
    lo = np.clip(t - 1, 0, h)
    hi = np.clip(b + 2, 0, h)
    mass = (cd[hi, c] - cd[lo, c]) / ink
    return float(np.clip(np.median(mass), 0.5, 2.0 * thick))


def stroke_points(
    band: np.ndarray,
    dark: np.ndarray,
    cols: np.ndarray,
    top: np.ndarray,
    bot: np.ndarray,
    thick: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Points (band coordinates) of the line's centre along the path, sorted by x.

    A near-horizontal run gives one point, its darkness-weighted centre (sub-pixel, independent
    of the threshold; at a sharp corner of the line, half a line width inside the ink's edge:
    :func:`_cap_centres`). A steep run (a QRS stroke, where one value per column is far too coarse:
    a stroke crosses tens of rows per column) is read row by row: each row's ink segment gives
    the stroke's centre column to a fraction of a pixel; a row is used by the column its centre
    falls in. Rows within half a line width of a run's end whose centre falls in the column are
    the round cap of a peak or trough: they give one point, the tip, half a line width inside
    the ink's edge. So thick lines neither widen peaks nor clip them.
    """
    n = cols.size
    if n == 0:
        return np.zeros(0), np.zeros(0)
    ink = _ink_level(dark, cols, top, bot)
    width = _line_width(dark, cols, top, bot, ink, thick)
    centres = _weighted_centres(dark, cols, top, bot)
    steep = (bot - top + 1) > 2.0 * thick
    centres = _cap_centres(dark, cols, top, bot, centres, width, ink, steep)
    xs: list[np.ndarray] = [cols[~steep].astype(np.float64)]
    ys: list[np.ndarray] = [centres[~steep]]
    keys: list[np.ndarray] = [np.zeros(int((~steep).sum()))]
    reach = int(np.ceil(2.0 * width)) + 2  # widest row segment of a steep stroke, each side
    for k in np.flatnonzero(steep):
        c, t, b = int(cols[k]), int(top[k]), int(bot[k])
        pts = _steep_column_points(band, dark, c, t, b, reach, width, ink)
        if pts is None:
            xs.append(np.asarray([float(c)]))
            ys.append(np.asarray([centres[k]]))
            keys.append(np.zeros(1))
        else:
            xs.append(pts[0])
            ys.append(pts[1])
            keys.append(pts[2])
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    order = np.lexsort((np.concatenate(keys), x))
    return x[order], y[order]


def _steep_column_points(
    band: np.ndarray,
    dark: np.ndarray,
    c: int,
    t: int,
    b: int,
    reach: int,
    width: float,
    ink: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The row-wise centre points (x, y, tie-break key for sorting) of the steep run ``[t, b]``
    of column ``c`` (see :func:`stroke_points`); None when no row of the run is centred in this
    column.

    A row's ink segment at most one line wide is one stroke (its darkness-weighted centre);
    a wider one gives a point half a line width inside each of its ends: the up- and
    downstroke of a narrow spike merged by the line width, or (where both coincide) one
    slanted stroke."""
    w = band.shape[1]
    half = 0.5 * width
    xa, xb = max(0, c - reach - 1), min(w, c + reach + 2)
    cands_x = _row_centres(
        band[t : b + 1, xa:xb], dark[t : b + 1, xa:xb], c - xa, reach, width, ink
    )
    rows = np.arange(t, b + 1, dtype=np.float64)
    top_edge, bot_edge = _run_edges(dark, c, t, b, ink)
    cap_t = rows - top_edge < half
    cap_b = bot_edge - rows < half
    px_l: list[np.ndarray] = []
    py_l: list[np.ndarray] = []
    tip_t: list[float] = []
    tip_b: list[float] = []
    pk_l: list[np.ndarray] = []
    for x in cands_x:
        mine = np.isfinite(x) & (x >= -0.5) & (x < 0.5)
        body = mine & ~cap_t & ~cap_b
        bx, by = x[body], rows[body]
        px_l.append(c + bx)
        py_l.append(by)
        # rows at the same column go in the stroke's direction (up or down) when sorted
        slope = float(np.sum((bx - bx.mean()) * (by - by.mean()))) if bx.size > 1 else 0.0
        pk_l.append(by * np.sign(slope))
        tip_t.extend(x[mine & cap_t].tolist())
        tip_b.extend(x[mine & cap_b & ~cap_t].tolist())
    if tip_t:
        px_l.append(np.asarray([c + float(np.mean(tip_t))]))
        py_l.append(np.asarray([min(top_edge + half, float(b))]))
        pk_l.append(np.zeros(1))
    if tip_b:
        px_l.append(np.asarray([c + float(np.mean(tip_b))]))
        py_l.append(np.asarray([max(bot_edge - half, float(t))]))
        pk_l.append(np.zeros(1))
    px = np.concatenate(px_l)
    if px.size == 0:
        return None
    return px, np.concatenate(py_l), np.concatenate(pk_l)


def _row_centres(
    win: np.ndarray, dark_win: np.ndarray, ci: int, reach: int, width: float, ink: float
) -> list[np.ndarray]:
    """Per row of a steep run's window (``win`` binary, ``dark_win`` darkness; the run is in
    column ``ci``), stroke centres as column offsets from the run: the darkness-weighted centre
    of a one-stroke segment, then half a line width inside the left and inside the right end
    of a two-stroke one (three arrays, NaN where a row has no such point)."""
    half = 0.5 * width
    dwin = dark_win.astype(np.float64)
    cov = np.clip(dwin / ink, 0.0, 1.0)
    n_rows, n_win = win.shape
    lo, hi, ok = _row_segments(win, ci, reach)
    r_idx = np.arange(n_rows)
    cov_pad = np.pad(cov, ((0, 0), (1, 1)))  # coverage 0 beyond the window
    l_edge = lo - 0.5 + (1.0 - cov[r_idx, lo]) - cov_pad[r_idx, lo] - ci
    r_edge = hi + 0.5 - (1.0 - cov[r_idx, hi]) + cov_pad[r_idx, hi + 2] - ci
    seg_w = r_edge - l_edge
    single = ok & (seg_w <= _SPLIT_WIDTHS * width)
    double = ok & ~single
    # one stroke: darkness-weighted centre of the segment and its partly covered neighbours
    xcol = np.arange(n_win)[None, :] - ci
    inside = (xcol >= (lo - 1 - ci)[:, None]) & (xcol <= (hi + 1 - ci)[:, None])
    wgt = np.where(inside, dwin, 0.0)
    mass = wgt.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = (wgt * xcol).sum(axis=1) / mass
    return [
        np.where(single & (mass > 1e-6), xc, np.nan),
        np.where(double, l_edge + half, np.nan),
        np.where(double, r_edge - half, np.nan),
    ]


def _row_segments(
    win: np.ndarray, ci: int, reach: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``win``, the first and last column (``lo``, ``hi``) of the ink segment through
    column ``ci``, and whether it is usable: inked at ``ci`` and ending within ``reach``
    columns either side (a segment still going at ``reach`` is a horizontal part)."""
    n_win = win.shape[1]
    alive = win[:, ci].copy()
    lo = np.full(win.shape[0], ci)
    hi = np.full(win.shape[0], ci)
    run_l = alive.copy()
    for d in range(1, reach + 1):
        if ci - d < 0:
            run_l[:] = False
            break
        run_l &= win[:, ci - d]
        lo -= run_l
    run_r = alive.copy()
    for d in range(1, reach + 1):
        if ci + d >= n_win:
            run_r[:] = False
            break
        run_r &= win[:, ci + d]
        hi += run_r
    return lo, hi, alive & ~run_l & ~run_r


def _run_edges(dark: np.ndarray, c: int, t: int, b: int, ink: float) -> tuple[float, float]:
    """Sub-pixel top and bottom edges of the ink of run ``[t, b]`` of column ``c``, from the
    coverage (darkness / ink level) of its end pixels and of the pixels beyond them."""
    h = dark.shape[0]
    dcov = np.clip(dark[:, c] / ink, 0.0, 1.0)
    top_edge = t - 0.5 + (1.0 - dcov[t]) - (dcov[t - 1] if t > 0 else 0.0)
    bot_edge = b + 0.5 - (1.0 - dcov[b]) + (dcov[b + 1] if b + 1 < h else 0.0)
    return top_edge, bot_edge


def _cap_centres(
    dark: np.ndarray,
    cols: np.ndarray,
    top: np.ndarray,
    bot: np.ndarray,
    centres: np.ndarray,
    width: float,
    ink: float,
    steep: np.ndarray,
) -> np.ndarray:
    """Centres of flat runs at a sharp local peak (trough) of the line: half a line width
    inside the ink's top (bottom) edge, where the round pen's cap puts it; the run's centre
    there is pulled towards the line's arms."""
    out = centres.copy()
    n = cols.size
    if n < 3:
        return out
    c = centres
    prev_c, next_c = np.r_[c[0], c[:-1]], np.r_[c[1:], c[-1]]
    # a flat run between two adjacent columns, strictly above (below) both: a corner
    inner = np.r_[False, np.diff(cols) == 1] & np.r_[np.diff(cols) == 1, False] & ~steep
    peak = inner & (c < prev_c) & (c < next_c)
    trough = inner & (c > prev_c) & (c > next_c)
    for k in np.flatnonzero(peak | trough):
        te, be = _run_edges(dark, int(cols[k]), int(top[k]), int(bot[k]), ink)
        if peak[k]:
            out[k] = min(c[k], te + 0.5 * width)
        else:
            out[k] = max(c[k], be - 0.5 * width)
    return out


FAINT_INK = 0.02  # darkness of a faint stroke the binary image lost (background is ~0)
MIN_FAINT_COLS = 0.5  # fraction of a gap's columns that must hold faint ink to bridge it


def close_vertical_gaps(band: np.ndarray, gap_px: int) -> np.ndarray:
    """``band`` (bool, rows × cols) with vertical gaps of up to ``gap_px`` rows (at least 1)
    between ink pixels of the same column filled: a pixel is filled when ink lies within
    ``gap_px`` rows above it and within ``gap_px`` rows below it."""
    h = band.shape[0]
    reach = max(1, gap_px)
    idx = np.arange(h)[:, None]
    above = np.maximum.accumulate(np.where(band, idx, -h - reach), axis=0)
    below = np.minimum.accumulate(np.where(band, idx, 2 * h + reach)[::-1], axis=0)[::-1]
    return band | ((idx - above <= reach) & (below - idx <= reach))


def faint_bridges(
    inked: np.ndarray,
    dark: np.ndarray,
    cols: np.ndarray,
    top: np.ndarray,
    bot: np.ndarray,
    thick: float,
    max_gap: int,
    cut: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs ``(cols, top, bot)`` of faint ink bridging the path's gaps of up to ``max_gap``
    columns: a thin stroke (a T wave's slope) the binary image ``inked`` lost but the grey
    ``dark`` map still holds, often in pieces. A gap is bridged only where ``inked`` has no
    ink between its ends' rows and none of its columns is in ``cut`` (bool per column: ink
    left out on purpose there: a bar, a separator line, another row's wave), most of its
    columns hold faint ink, and their centres run on smoothly (at most two line widths from
    column to column): one stroke, not specks."""
    out: list[tuple[int, int, int]] = []
    h = dark.shape[0]
    m = int(np.ceil(2.0 * thick)) + 1
    for k in np.flatnonzero((np.diff(cols) > 1) & (np.diff(cols) <= max_gap)):
        ca, cb = int(cols[k]), int(cols[k + 1])
        if cut is not None and cut[ca + 1 : cb].any():
            continue
        ylo = max(0, int(min(top[k], top[k + 1])) - m)
        yhi = min(h, int(max(bot[k], bot[k + 1])) + m + 1)
        if inked[ylo:yhi, ca + 1 : cb].any():
            continue
        for c, t, b in _faint_runs(dark[ylo:yhi, ca + 1 : cb], ca + 1, ylo, m):
            faint = (dark[:, c] >= FAINT_INK) & ~inked[:, c]
            out.append((c, _faint_end(faint, t, -1, max_gap), _faint_end(faint, b, 1, max_gap)))
    if not out:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    c, t, b = (np.asarray(v, int) for v in zip(*out))
    return c, t, b


def _faint_end(faint: np.ndarray, y: int, step: int, reach: int, gap: int = 2) -> int:
    """The last row of ``faint`` (one column) from row ``y`` on in direction ``step``,
    across gaps of up to ``gap`` rows, at most ``reach`` rows on: a faint stroke's end
    beyond the window it was found in (the tip of a QRS drawn too faint)."""
    end, y_i = y, y
    while 0 <= y_i + step < faint.size and abs(y_i + step - y) <= reach:
        y_i += step
        if faint[y_i]:
            end = y_i
        elif abs(y_i - end) > gap:
            break
    return end


def _faint_runs(win: np.ndarray, c0: int, y0: int, step: int) -> list[tuple[int, int, int]]:
    """Per column of ``win`` (a gap's columns from ``c0``, rows from ``y0``) holding faint
    ink, the rows it spans ``(column, top, bottom)``; empty unless most columns hold some
    and the darkness-weighted centres move at most ``step`` rows from column to column."""
    faint = win >= FAINT_INK
    has = faint.any(axis=0)
    if has.mean() < MIN_FAINT_COLS:
        return []
    rows = np.arange(win.shape[0], dtype=np.float64)[:, None]
    wgt = np.where(faint, win, 0.0)
    centre = (wgt * rows).sum(axis=0)[has] / wgt.sum(axis=0)[has]
    if centre.size > 1 and np.abs(np.diff(centre)).max() > step:
        return []
    out = []
    for c, yc in zip(np.flatnonzero(has), centre):
        ys = np.flatnonzero(faint[:, c])
        ys = ys[np.abs(ys - yc) <= step]  # the stroke's piece, not a speck further off
        if ys.size:
            out.append((c0 + int(c), y0 + int(ys[0]), y0 + int(ys[-1])))
    return out
