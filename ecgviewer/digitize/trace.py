"""Extract one lead's trace from a binary image: a globally optimal path through ink runs.

Per-column means fail on real pages (text, neighbouring rows, grid remnants, steep QRS
strokes), so each lead is traced as a shortest path over the vertical ink runs of its columns
(dynamic programming): following ink that touches the previous column is free, vertical jumps
cost per trace thickness, skipped columns cost a constant each, and runs far from the row's
baseline cost a little (keeps the path off neighbouring rows). The letters of a lead label
beside the line at the segment's start and the thin ink of straight bars joining two rows'
lines are left out first (:mod:`ecgviewer.digitize.separators`). Runs joined
to another row's wave or to a separator bar are then cut back
(:mod:`ecgviewer.digitize.overlap`), and gaps where the binary image lost a faint stroke are
bridged from the grey map (:func:`~ecgviewer.digitize.centreline.faint_bridges`). Along the
chosen runs the line's centre is read to a fraction of a pixel from the grey darkness map
(:mod:`ecgviewer.digitize.centreline`), and :func:`path_to_lead` samples it in mV, rebuilding
pages drawn from sparse points (:mod:`ecgviewer.digitize.resample`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.centreline import close_vertical_gaps, faint_bridges, stroke_points
from ecgviewer.digitize.overlap import clip_foreign_strokes
from ecgviewer.digitize.resample import PagePoints, resample_on_points
from ecgviewer.digitize.separators import bar_mask, floating_marks
from ecgviewer.digitize.types import Lead
from ecgviewer.paper.types import Calibration

# Costs of the path (units: "one skipped column").
_W_JUMP = 1.0  # per trace thickness of vertical gap between runs of consecutive columns
_W_GAP = 1.0  # per skipped column
_W_RESTART = 6.0  # jump to any earlier column (no continuity), beyond the look-back window
_W_BASE = 0.25  # a run at distance `scale` from the baseline costs this much per column
_MAX_NODE_COST = 0.8  # < _W_GAP: following ink anywhere in the band beats skipping it
_LOOKBACK = 3  # earlier non-empty columns a run may connect to directly


MIN_BRIDGED = 0.8  # a blank gap in a row this inked further off its baseline: a wandering trace


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


def columns_holding(ptr: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Per column of a :func:`column_runs` result: whether any of its runs is ``selected``
    (a bool per run)."""
    n_cols = ptr.size - 1
    col = np.repeat(np.arange(n_cols), np.diff(ptr))
    return np.bincount(col[selected], minlength=n_cols) > 0


def inked_extent(
    present: np.ndarray,
    merge_px: int,
    min_seg_px: int,
    far_px: float = np.inf,
    around: np.ndarray | None = None,
) -> tuple[int, int, float]:
    """First and last+1 column of the inked part of a row of trace (``present``: its columns
    holding ink near the baseline), and the inked fraction between.

    Pieces (gaps under ``merge_px`` closed) are split into groups at blank gaps over
    ``far_px``; the group with the most ink is the row, and another group joins it when it is
    at least as wide as the gap between them (a dropout in a faint trace) or when the gap is
    mostly inked in ``around`` (the row's columns with ink further off its baseline: a trace
    wandering off it), not when it is a small thing far off (a stamp beside a short row)."""
    closed = ndimage.binary_closing(present, structure=np.ones(max(1, merge_px), bool))
    labels, n = ndimage.label(closed)
    if n == 0:
        return 0, 0, 0.0
    spans = [(sl[0].start, sl[0].stop) for sl in ndimage.find_objects(labels)]
    spans = [s for s in spans if s[1] - s[0] >= min_seg_px]
    if not spans:
        return 0, 0, 0.0
    groups = [list(spans[0])]
    for a, b in spans[1:]:
        if a - groups[-1][1] > far_px:
            groups.append([a, b])
        else:
            groups[-1][1] = b

    def joins(g: list[int], a: int, b: int) -> bool:  # group g, across the gap [a, b)
        bridged = around is not None and around[a:b].mean() >= MIN_BRIDGED
        return g[1] - g[0] >= b - a or bridged

    k = max(range(len(groups)), key=lambda i: present[groups[i][0] : groups[i][1]].sum())
    x0, x1 = groups[k]
    for g in groups[k - 1 :: -1] if k > 0 else []:  # join groups leftwards, then rightwards
        if not joins(g, g[1], x0):
            break
        x0 = g[0]
    for g in groups[k + 1 :]:
        if not joins(g, x1, g[0]):
            break
        x1 = g[1]
    return int(x0), int(x1), float(present[x0:x1].mean())


def ink_beyond(
    ink: np.ndarray,
    rows: tuple[int, int],
    baseline_y: float,
    edge: int,
    step: int,
    reach_px: int,
    px_per_mm: float,
) -> int:
    """Columns of ``ink`` beyond column ``edge`` of a row of trace (``step`` -1: before its
    start, +1: from its end on) in the inner 60 % of its band ``rows`` (image rows; the band
    reaches 85 % of the way to the neighbouring rows), joined to the trace in the millimetre
    inside the edge within 2.5 mm of ``baseline_y`` (where the row was found), when that ink
    ends within ``reach_px`` and crosses most of its columns once or twice (ink that runs on,
    or is crossed many times, is a grid or the next thing on the page); 0 if none."""
    k = max(2, round(1.0 * px_per_mm))
    ya = max(rows[0], round(baseline_y - 0.6 * (baseline_y - rows[0])))
    yb = min(rows[1], round(baseline_y + 0.6 * (rows[1] - baseline_y)) + 1)
    if step > 0:
        xa, xb = max(0, edge - k), min(ink.shape[1], edge + reach_px)
        sub, inside = ink[ya:yb, xa:xb], edge - xa
    else:
        xa, xb = max(0, edge - reach_px), min(ink.shape[1], edge + k)
        sub, inside = ink[ya:yb, xa:xb][:, ::-1], xb - edge
    if sub.shape[1] <= inside or yb <= ya:
        return 0
    labels, _ = ndimage.label(sub, structure=np.ones((3, 3), bool))
    half = round(2.5 * px_per_mm)
    base = round(baseline_y) - ya
    seeds = np.unique(labels[max(0, base - half) : max(0, base + half + 1), :inside])
    seeds = seeds[seeds > 0]
    if seeds.size == 0:
        return 0
    joined = np.isin(labels, seeds)[:, inside:]
    cols = joined.any(axis=0)
    if cols.all():
        return 0
    n = int(np.argmin(cols))
    # a trace crosses a column once (a steep stroke a few times); a grid's lines many times
    runs = (np.diff(joined[:, :n].astype(np.int8), axis=0) == 1).sum(axis=0) + joined[0, :n]
    return n if n == 0 or np.median(runs) <= 2 else 0


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
    inked = _bridge_dashes(_without_labels(binary[y0:y1, x0:x1], bridge_px), bridge_px)
    band = _without_bars(inked, binary, darkness, (x0, x1, y0, y1), bridge_px)
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
    keep = clip_foreign_strokes(binary, x0, y0, y1, cols, c_top, c_bot, thick)
    cut = np.zeros(n_cols, bool)  # columns left out on purpose: never bridged from faint ink
    cut[cols[~keep]] = True
    traced[cols[~keep]] = False
    cols, c_top, c_bot = cols[keep], c_top[keep], c_bot[keep]
    edge = int(np.ceil(thick)) + 1
    beyond = _neighbour_ink(binary, x0, x1, y0, y1, edge)
    line = _vertical_line_columns(c_top, c_bot, band.shape[0]) | _edge_junctions(
        cols, c_top, c_bot, n_cols, edge, thick, beyond
    )
    if line.any():  # a separator, grid line or junction crossing the trace: bridge it, untraced
        traced[cols[line]] = False
        cut[cols[line]] = True
        cols, c_top, c_bot = cols[~line], c_top[~line], c_bot[~line]
    if darkness is not None:
        dark = np.asarray(darkness[y0:y1, x0:x1], np.float32)
        band, cols, c_top, c_bot = _with_faint_bridges(
            band, inked, dark, (cols, c_top, c_bot), thick, bridge_px, cut
        )
        traced[cols] = True
    else:
        dark = band.astype(np.float32)
    xs, ys = stroke_points(band, dark, cols, c_top, c_bot, thick)
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


def _with_faint_bridges(band, inked, dark, path, thick: float, bridge_px: int, cut=None):
    """The path's gaps bridged by faint ink (:func:`~ecgviewer.digitize.centreline.faint_bridges`
    on ``inked``, the band's ink before bars were left out; gaps up to 6 mm, the scale is the
    one ``bridge_px`` was set from, 1.5 mm): ``band`` with that ink added, and the path's
    columns and runs (``path``: cols, top, bot) with the bridging ones merged in; no gap over
    a ``cut`` column (a separator line or neighbour's stroke left out) is bridged."""
    cols, top, bot = path
    fc, ft, fb = faint_bridges(inked, dark, cols, top, bot, thick, 4 * max(1, bridge_px), cut)
    if fc.size == 0:
        return band, cols, top, bot
    band = band.copy()
    for c, t, b in zip(fc, ft, fb):
        band[t : b + 1, c] = True
    order = np.argsort(np.r_[cols, fc], kind="stable")
    return (band,) + tuple(np.r_[a, f][order] for a, f in ((cols, fc), (top, ft), (bot, fb)))


def _thickness(band: np.ndarray) -> float:
    """The line's thickness in ``band`` (not empty): its columns' median ink run (>= 1 px)."""
    top, bot, _ = column_runs(band)
    return float(max(1.0, np.median(bot - top + 1)))


def _without_labels(band: np.ndarray, bridge_px: int) -> np.ndarray:
    """``band`` without the letters of a lead label floating beside the line at the segment's
    start (:func:`~ecgviewer.digitize.separators.floating_marks`); the scale is the one
    ``bridge_px`` was set from (1.5 mm), none looked for without it."""
    if bridge_px <= 2 or not band.any():
        return band
    marks = floating_marks(band, _thickness(band), bridge_px / 1.5)
    return band & ~marks if marks.any() else band


def _without_bars(band, binary, darkness, box, bridge_px: int) -> np.ndarray:
    """``band`` without the thin ink of bars joining two rows' lines
    (:mod:`ecgviewer.digitize.separators`); the scale is the one ``bridge_px`` was set from
    (1.5 mm), none looked for without it."""
    x0, x1, y0, y1 = box
    if bridge_px <= 2 or not band.any():
        return band
    bars = bar_mask(binary, darkness, x0, x1, _thickness(band), bridge_px / 1.5, (y0, y1))[y0:y1]
    return band & ~bars if bars.any() else band


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


def _neighbour_ink(binary: np.ndarray, x0: int, x1: int, y0: int, y1: int, edge: int):
    """Per band row, ink within ``edge`` columns before and after the box, where a trace goes
    on beyond it (ink in every one of the next ``3 * edge`` columns: the neighbouring lead,
    not the last pixels of a row's stroke); all False where none does."""
    out = []
    for win, near in (
        (binary[y0:y1, max(0, x0 - 3 * edge) : x0], slice(-edge, None)),
        (binary[y0:y1, x1 : x1 + 3 * edge], slice(0, edge)),
    ):
        goes_on = win.shape[1] == 3 * edge and bool(win.any(axis=0).all())
        out.append(win[:, near].any(axis=1) if goes_on else np.zeros(y1 - y0, bool))
    return tuple(out)


def _edge_junctions(cols, top, bot, n_cols: int, edge: int, thick: float, beyond) -> np.ndarray:
    """Steep runs in the box's first and last ``edge`` columns (up to the first flat one) when
    ink lies just beyond the box beside them (``beyond``: per band row, before and after it):
    where adjoining columns of a page meet, that ink joins this lead to its neighbour's."""
    steep = (bot - top + 1) > 2.0 * thick
    out = np.zeros(cols.size, bool)
    r = int(np.ceil(thick))
    ends = (
        (np.arange(cols.size), cols < edge),
        (np.arange(cols.size)[::-1], cols >= n_cols - edge),
    )
    for (order, near), ink in zip(ends, beyond):
        run = order[: np.argmin(near[order] & steep[order])] if cols.size else order
        if run.size and ink[max(0, int(top[run].min()) - r) : int(bot[run].max()) + r + 1].any():
            out[run] = True
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


def _empty_path(x0: int, n_cols: int) -> TracePath:
    return TracePath(np.zeros(0), np.zeros(0), np.zeros(n_cols, bool), x0, 1.0, 0.0)


def path_to_lead(
    path: TracePath,
    name: str,
    baseline_y: float,
    calibration: Calibration,
    fs_hz: float,
    x_origin: float,
    x_end: float | None = None,
    offset_xy: tuple[int, int] = (0, 0),
    points: PagePoints | None = None,
) -> Lead:
    """Resample a path to ``fs_hz`` samples in mV relative to ``baseline_y``.

    The lead covers columns from the path's box start to ``x_end`` (default: box end); its
    ``start_s`` is the time of its first sample after ``x_origin`` (the row's 0 s column).
    Columns without a chosen run are bridged by interpolation and marked invalid. With the
    ``points`` the page was drawn from, the samples fall on them and are rebuilt band-limited.
    """
    x_start = float(path.x0)
    x_stop = float(x_end) if x_end is not None else x_start + path.traced_cols.size
    px_per_s = calibration.px_per_s
    n = max(1, round((x_stop - x_start) / px_per_s * fs_hz))
    sample_x = x_start + np.arange(n) * (px_per_s / fs_hz)
    rebuilt = None
    if points is not None:
        rebuilt = resample_on_points(
            path.x_px,
            path.y_px,
            points,
            px_per_s,
            calibration.px_per_mm_y,
            (x_start, x_stop),
            n,
            fs_hz,
        )
    if path.x_px.size:
        sample_x, y = (
            rebuilt
            if rebuilt is not None
            else (sample_x, np.interp(sample_x, path.x_px, path.y_px))
        )
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
        start_s=max(0.0, (float(sample_x[0]) - x_origin) / px_per_s),
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
