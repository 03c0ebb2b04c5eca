"""Extract one lead's trace from a binary image: a globally optimal path through ink runs.

Per-column means fail on real pages (text, neighbouring rows, grid remnants, steep QRS
strokes), so each lead is traced as a shortest path over the vertical ink runs of its columns
(dynamic programming): following ink that touches the previous column is free, vertical jumps
cost per trace thickness, skipped columns cost a constant each, and runs far from the row's
baseline cost a little (keeps the path off neighbouring rows). Along the chosen runs the line's
centre is then read to a fraction of a pixel from the grey darkness map: column by column where
the line is flat, row by row where it is steep (see :func:`_stroke_points`), so peaks keep their
full height and a thick line does not widen them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.digitize.types import Lead
from ecgviewer.paper.types import Calibration

# Costs of the path (units: "one skipped column").
_W_JUMP = 1.0  # per trace thickness of vertical gap between runs of consecutive columns
_W_GAP = 1.0  # per skipped column
_W_RESTART = 6.0  # jump to any earlier column (no continuity), beyond the look-back window
_W_BASE = 0.25  # a run at distance `scale` from the baseline costs this much per column
_MAX_NODE_COST = 0.8  # < _W_GAP: following ink anywhere in the band beats skipping it
_LOOKBACK = 3  # earlier non-empty columns a run may connect to directly
# A steep stroke's row segment wider than this many line widths holds two strokes (the up-
# and downstroke of a spike merged by the line width, or a stroke slanted enough to look wide)
_SPLIT_WIDTHS = 1.0


@dataclass(frozen=True)
class TracePath:
    """A traced path in binary-image coordinates (float x sorted ascending)."""

    x_px: np.ndarray
    y_px: np.ndarray
    traced_cols: np.ndarray  # bool per column of the box: a run was chosen there
    x0: int  # first column of the box
    thickness_px: float
    ambiguity: float  # fraction of traced columns that had more than one run

    @property
    def frac_traced(self) -> float:
        return float(self.traced_cols.mean()) if self.traced_cols.size else 0.0


def column_runs(band: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertical ink runs of every column of ``band`` (bool, rows × cols).

    Returns ``(top, bottom, ptr)``: runs of column ``c`` are ``top[ptr[c]:ptr[c+1]]`` (first
    ink row) and ``bottom`` (last ink row, inclusive), sorted top to bottom.
    """
    h, w = band.shape
    t = np.zeros((w, h + 2), np.int8)
    t[:, 1:-1] = band.T
    d = np.diff(t, axis=1)
    sc, sr = np.nonzero(d == 1)
    _, er = np.nonzero(d == -1)
    ptr = np.searchsorted(sc, np.arange(w + 1))
    return sr, er - 1, ptr


def trace_path(
    binary: np.ndarray,
    x0: int,
    x1: int,
    y0: int,
    y1: int,
    baseline_y: float,
    scale_px: float,
    bridge_px: int = 0,
    darkness: np.ndarray | None = None,
) -> TracePath:
    """Trace the lead in columns ``[x0, x1)`` using only rows ``[y0, y1)`` of ``binary``.

    ``baseline_y`` (image row) and ``scale_px`` (typical distance to a neighbouring row) set the
    weak pull towards this row's baseline. Vertical gaps up to ``bridge_px`` inside a column are
    closed first: thin steep strokes are often broken into dashes by scanning and thresholding.
    With ``darkness`` (the grey map ``binary`` was thresholded from), a run's centre is its
    darkness-weighted centroid, which does not move with the threshold.
    """
    h, w = binary.shape
    x0, x1 = max(0, int(x0)), min(w, int(x1))
    y0, y1 = max(0, int(y0)), min(h, int(y1))
    n_cols = max(0, x1 - x0)
    if n_cols == 0 or y1 <= y0:
        return _empty_path(x0, n_cols)
    band = _bridge_dashes(binary[y0:y1, x0:x1], bridge_px)
    top, bot, ptr = column_runs(band)
    if top.size == 0:
        return _empty_path(x0, n_cols)
    top = top + y0
    bot = bot + y0
    lengths = bot - top + 1
    thick = float(max(1.0, np.median(lengths)))
    node_cost = _node_costs(top, bot, baseline_y, scale_px)
    chosen, cols = _cheapest_path(top, bot, ptr, node_cost, thick)
    traced = np.zeros(n_cols, bool)
    traced[cols] = True
    multi = np.diff(ptr)[cols] > 1
    u_top, u_bot = _union_touching_runs(cols, chosen, top, bot, ptr)
    c_top, c_bot = _extend_tips(band, cols, u_top - y0, u_bot - y0, thick, bridge_px)
    line = _vertical_line_columns(c_top, c_bot, band.shape[0])
    if line.any():  # a separator or grid line crossing the trace: bridge it, mark it untraced
        traced[cols[line]] = False
        cols, c_top, c_bot = cols[~line], c_top[~line], c_bot[~line]
    if darkness is not None:
        dark = np.asarray(darkness[y0:y1, x0:x1], np.float32)
    else:
        dark = band.astype(np.float32)
    xs, ys = _stroke_points(band, dark, cols, c_top, c_bot, thick)
    return TracePath(
        xs + x0, ys + y0, traced, x0, thick, float(multi.mean()) if multi.size else 0.0
    )


def _bridge_dashes(band: np.ndarray, bridge_px: int) -> np.ndarray:
    """``band`` with the dashes of broken steep strokes joined: 1 px horizontal dilation, then
    vertical gaps of up to ``bridge_px`` rows closed (none when ``bridge_px`` is 0)."""
    if bridge_px <= 0:
        return band
    wide = band.copy()
    wide[:, 1:] |= band[:, :-1]
    wide[:, :-1] |= band[:, 1:]
    return band | (close_vertical_gaps(wide, bridge_px) & ~wide)


def _node_costs(top: np.ndarray, bot: np.ndarray, baseline_y: float, scale_px: float) -> np.ndarray:
    """Cost of following each run ``[top, bot]``: its distance from the baseline relative to
    ``scale_px``, squared, capped at ``_MAX_NODE_COST``."""
    # distance of the run (not its centre) from the baseline: spikes that start there are fine
    dist = np.maximum(0.0, np.maximum(top - baseline_y, baseline_y - bot))
    node_cost = _W_BASE * (dist / max(scale_px, 1.0)) ** 2
    np.minimum(node_cost, _MAX_NODE_COST, out=node_cost)
    return node_cost


def _cheapest_path(
    top: np.ndarray, bot: np.ndarray, ptr: np.ndarray, node_cost: np.ndarray, thick: float
) -> tuple[np.ndarray, np.ndarray]:
    """The globally cheapest path through the runs (dynamic programming over the columns; the
    costs are in the module docstring): ``(indices of the chosen runs, their columns)``, left
    to right, at most one run per column."""
    n_cols = ptr.size - 1
    n_nodes = top.size
    col_of = np.repeat(np.arange(n_cols), np.diff(ptr))
    # restart state: best (cost - W_GAP * col) over finished nodes; virtual start at col -1
    best_restart, best_restart_node = _W_GAP * 1.0 - _W_RESTART, -1
    recent: list[int] = []  # recent non-empty columns (most recent last)
    top_l, bot_l, nc_l = top.tolist(), bot.tolist(), node_cost.tolist()
    cost_l = [0.0] * n_nodes
    back_l = [-1] * n_nodes
    ptr_l = ptr.tolist()
    for c in range(n_cols):
        a, b = ptr_l[c], ptr_l[c + 1]
        if a == b:
            continue
        # promote columns that dropped out of the look-back window into the restart state
        while recent and (c - recent[0] > 12 or len(recent) > _LOOKBACK):
            old = recent.pop(0)
            for j in range(ptr_l[old], ptr_l[old + 1]):
                v = cost_l[j] - _W_GAP * old
                if v < best_restart:
                    best_restart, best_restart_node = v, j
        restart = best_restart + _W_GAP * (c - 1) + _W_RESTART
        for i in range(a, b):
            ti, bi = top_l[i], bot_l[i]
            best, arg = restart, best_restart_node
            for pc in recent:
                gap_cost = _W_GAP * (c - pc - 1)
                for j in range(ptr_l[pc], ptr_l[pc + 1]):
                    dv = ti - bot_l[j] - 1
                    if dv < 0:
                        dv = top_l[j] - bi - 1
                    v = (
                        cost_l[j]
                        + gap_cost
                        + (min(_W_RESTART, _W_JUMP * dv / thick) if dv > 0 else 0.0)
                    )
                    if v < best:
                        best, arg = v, j
            cost_l[i] = best + nc_l[i]
            back_l[i] = arg
        recent.append(c)
    # end: any node, paying for the columns skipped after it
    end_cost = [cost_l[j] + _W_GAP * (n_cols - 1 - col_of[j]) for j in range(n_nodes)]
    j = int(np.argmin(end_cost))
    chosen = []
    while j >= 0:
        chosen.append(j)
        j = back_l[j]
    chosen.reverse()
    chosen_arr = np.asarray(chosen, np.int64)
    return chosen_arr, col_of[chosen_arr]


def _vertical_line_columns(top: np.ndarray, bot: np.ndarray, band_h: int) -> np.ndarray:
    """Path columns whose ink run spans over 40 % of the band while the runs two columns away
    on both sides are under a quarter of it: a straight vertical line (lead separator, grid
    line, crease) crossing the trace, not a QRS stroke (whose neighbours are long too)."""
    length = (bot - top + 1).astype(float)
    out = np.zeros(length.size, bool)
    if length.size < 5:
        return out
    mid = length[2:-2]
    side = np.maximum(length[:-4], length[4:])
    out[2:-2] = (mid > 0.4 * band_h) & (side < 0.25 * mid)
    return out


def _union_touching_runs(
    cols: np.ndarray, chosen: np.ndarray, top: np.ndarray, bot: np.ndarray, ptr: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per path column, the extent of the chosen run joined with the other runs of that column
    that touch the chosen runs of the neighbouring columns (both strokes of a narrow QRS)."""
    u_top = top[chosen].copy()
    u_bot = bot[chosen].copy()
    n = len(chosen)
    col_to_k = {int(c): k for k, c in enumerate(cols)}
    for k in range(n):
        c = int(cols[k])
        a, b = int(ptr[c]), int(ptr[c + 1])
        if b - a < 2:
            continue
        refs = [(int(top[chosen[k]]), int(bot[chosen[k]]))]
        for dc in (-1, 1):
            kk = col_to_k.get(c + dc)
            if kk is not None:
                refs.append((int(top[chosen[kk]]), int(bot[chosen[kk]])))
        for j in range(a, b):
            tj, bj = int(top[j]), int(bot[j])
            if any(tj <= rb + 1 and bj >= rt - 1 for rt, rb in refs):
                u_top[k] = min(u_top[k], tj)
                u_bot[k] = max(u_bot[k], bj)
    return u_top, u_bot


def _extend_tips(
    band: np.ndarray, cols: np.ndarray, top: np.ndarray, bot: np.ndarray, thick: float, gap_px: int
) -> tuple[np.ndarray, np.ndarray]:
    """Extend sharp peaks and troughs of the path to ink beyond them (within one column either
    side, across gaps of up to ``gap_px`` rows): thin QRS tips are often detached dashes."""
    top, bot = top.copy(), bot.copy()
    n = len(cols)
    if n < 5 or gap_px <= 0:
        return top, bot
    h, w = band.shape
    sharp = 2.0 * thick
    t_nb = np.minimum(top[:-4], top[4:])  # tops two columns before and after
    b_nb = np.maximum(bot[:-4], bot[4:])
    t_mid, b_mid = top[2:-2], bot[2:-2]
    peak = (t_nb - t_mid >= sharp) & (t_mid <= np.minimum(top[1:-3], top[3:-1]))
    trough = (b_mid - b_nb >= sharp) & (b_mid >= np.maximum(bot[1:-3], bot[3:-1]))
    for k in np.flatnonzero(peak | trough) + 2:
        c = int(cols[k])
        window = band[:, max(0, c - 1) : min(w, c + 2)].any(axis=1)
        if peak[k - 2]:
            last = y = int(top[k])
            while y > 0 and last - y <= gap_px:
                y -= 1
                if window[y]:
                    last = y
            top[k] = last
        if trough[k - 2]:
            last = y = int(bot[k])
            while y < h - 1 and y - last <= gap_px:
                y += 1
                if window[y]:
                    last = y
            bot[k] = last
    return top, bot


def close_vertical_gaps(band: np.ndarray, gap_px: int) -> np.ndarray:
    """Fill vertical gaps of up to ``gap_px`` rows between ink pixels of the same column."""
    h = band.shape[0]
    reach = max(1, gap_px)  # ink within `reach` above and below fills the pixel
    above = np.zeros_like(band)
    below = np.zeros_like(band)
    for k in range(1, min(reach, h - 1) + 1):
        above[k:] |= band[:-k]
        below[:-k] |= band[k:]
    return band | (above & below)


def _empty_path(x0: int, n_cols: int) -> TracePath:
    return TracePath(np.zeros(0), np.zeros(0), np.zeros(n_cols, bool), x0, 1.0, 0.0)


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


def _stroke_points(
    band: np.ndarray,
    dark: np.ndarray,
    cols: np.ndarray,
    top: np.ndarray,
    bot: np.ndarray,
    thick: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Points (band coordinates) of the line's centre along the path, sorted by x.

    A near-horizontal run gives one point, its darkness-weighted centre (sub-pixel, independent
    of the threshold). A steep run (a QRS stroke, where one value per column is far too coarse:
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
    of column ``c`` (see :func:`_stroke_points`); None when no row of the run is centred in this
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


def path_to_lead(
    path: TracePath,
    name: str,
    baseline_y: float,
    calibration: Calibration,
    fs_hz: float,
    x_origin: float,
    x_end: float | None = None,
    offset_xy: tuple[int, int] = (0, 0),
) -> Lead:
    """Resample a path to ``fs_hz`` samples in mV relative to ``baseline_y``.

    The lead covers columns from the path's box start to ``x_end`` (default: box end); its
    ``start_s`` is the time of the box start after ``x_origin`` (the row's 0 s column).
    Columns without a chosen run are bridged by interpolation and marked invalid.
    """
    x_start = float(path.x0)
    x_stop = float(x_end) if x_end is not None else x_start + path.traced_cols.size
    px_per_s = calibration.px_per_s
    n = max(1, round((x_stop - x_start) / px_per_s * fs_hz))
    sample_x = x_start + np.arange(n) * (px_per_s / fs_hz)
    if path.x_px.size:
        y = np.interp(sample_x, path.x_px, path.y_px)
        col = np.clip(np.round(sample_x - x_start).astype(int), 0, path.traced_cols.size - 1)
        valid = path.traced_cols[col] if path.traced_cols.size else np.zeros(n, bool)
    else:
        y = np.full(n, baseline_y)
        valid = np.zeros(n, bool)
    signal_mv = ((baseline_y - y) / calibration.px_per_mv).astype(np.float64)
    frac = float(valid.mean())
    quality = float(np.clip(frac * (1.0 - 0.5 * path.ambiguity), 0.0, 1.0))
    dx, dy = offset_xy
    return Lead(
        name=name,
        signal_mv=signal_mv,
        fs_hz=float(fs_hz),
        start_s=max(0.0, (x_start - x_origin) / px_per_s),
        valid_mask=np.asarray(valid, bool),
        quality=quality,
        trace_x_px=path.x_px + dx,
        trace_y_px=path.y_px + dy,
    )


def path_baseline(path: TracePath, bin_px: float = 1.0) -> float | None:
    """The most frequent row of the path (the isoelectric line), or None if the path is empty."""
    if path.y_px.size < 8:
        return None
    ys = path.y_px
    lo = float(ys.min())
    idx = np.round((ys - lo) / bin_px).astype(int)
    counts = np.bincount(idx).astype(float)
    if counts.size >= 3:
        counts = np.convolve(counts, [0.25, 0.5, 0.25], mode="same")
    k = int(np.argmax(counts))
    sel = np.abs(idx - k) <= 1
    return float(np.median(ys[sel]))
