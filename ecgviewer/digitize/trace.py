"""Extract one lead's trace from a binary image: a globally optimal path through ink runs.

Per-column means fail on real pages (text, neighbouring rows, grid remnants, steep QRS
strokes), so each lead is traced as a shortest path over the vertical ink runs of its columns
(dynamic programming): following ink that touches the previous column is free, vertical jumps
cost per trace thickness, skipped columns cost a constant each, and runs far from the row's
baseline cost a little (keeps the path off neighbouring rows). Within a column with a long run
(a QRS stroke) the path visits both ends, so peaks keep their full height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.digitize.types import Calibration, Lead

# Costs of the path (units: "one skipped column").
_W_JUMP = 1.0  # per trace thickness of vertical gap between runs of consecutive columns
_W_GAP = 1.0  # per skipped column
_W_RESTART = 6.0  # jump to any earlier column (no continuity), beyond the look-back window
_W_BASE = 0.6  # run centre at distance `scale` from the baseline costs this much
_W_INK = 0.15  # reward per trace thickness of run length beyond two (draws the path up spikes)
_MAX_INK_REWARD = 3.0
_LOOKBACK = 3  # earlier non-empty columns a run may connect to directly


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
) -> TracePath:
    """Trace the lead in columns ``[x0, x1)`` using only rows ``[y0, y1)`` of ``binary``.

    ``baseline_y`` (image row) and ``scale_px`` (typical distance to a neighbouring row) set the
    weak pull towards this row's baseline. Vertical gaps up to ``bridge_px`` inside a column are
    closed first: thin steep strokes are often broken into dashes by scanning and thresholding.
    """
    h, w = binary.shape
    x0, x1 = max(0, int(x0)), min(w, int(x1))
    y0, y1 = max(0, int(y0)), min(h, int(y1))
    n_cols = max(0, x1 - x0)
    if n_cols == 0 or y1 <= y0:
        return _empty_path(x0, n_cols)
    band = binary[y0:y1, x0:x1]
    if bridge_px > 0:
        # join dashes of broken steep strokes: 1 px horizontal dilation, then vertical closing
        wide = band.copy()
        wide[:, 1:] |= band[:, :-1]
        wide[:, :-1] |= band[:, 1:]
        band = band | (_close_vertical(wide, bridge_px) & ~wide)
    top, bot, ptr = column_runs(band)
    if top.size == 0:
        return _empty_path(x0, n_cols)
    top = top + y0
    bot = bot + y0
    lengths = bot - top + 1
    thick = float(max(1.0, np.median(lengths)))
    # distance of the run (not its centre) from the baseline: spikes that start there are fine
    dist = np.maximum(0.0, np.maximum(top - baseline_y, baseline_y - bot))
    node_cost = _W_BASE * (dist / max(scale_px, 1.0)) ** 2
    # reward long runs (draws the path up thin, broken spikes) unless they look like a grid or
    # marker line: crossing the baseline by more than a few thicknesses both ways, or reaching
    # the band's edge
    one_sided = (top >= baseline_y - 3 * thick) | (bot <= baseline_y + 3 * thick)
    inside = (top > y0) & (bot < y1 - 1)
    reward = np.minimum(_MAX_INK_REWARD, _W_INK * np.maximum(0.0, lengths / thick - 2.0))
    node_cost -= np.where(one_sided & inside, reward, 0.0)

    n_nodes = top.size
    cost = np.full(n_nodes, np.inf)
    back = np.full(n_nodes, -1, np.int64)
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
                    v = cost_l[j] + gap_cost + (min(_W_RESTART, _W_JUMP * dv / thick) if dv > 0 else 0.0)
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
    cols = col_of[chosen_arr]
    traced = np.zeros(n_cols, bool)
    traced[cols] = True
    multi = np.diff(ptr)[cols] > 1
    xs, ys = _column_points(cols + x0, top[chosen_arr], bot[chosen_arr], thick)
    return TracePath(xs, ys, traced, x0, thick, float(multi.mean()) if multi.size else 0.0)


def _close_vertical(band: np.ndarray, gap_px: int) -> np.ndarray:
    """Fill vertical gaps of up to ``gap_px`` rows between ink pixels of the same column."""
    h = band.shape[0]
    reach = max(1, (gap_px + 1) // 2)  # ink within `reach` above and below fills the pixel
    above = np.zeros_like(band)
    below = np.zeros_like(band)
    for k in range(1, min(reach, h - 1) + 1):
        above[k:] |= band[:-k]
        below[:-k] |= band[k:]
    return band | (above & below)


def _empty_path(x0: int, n_cols: int) -> TracePath:
    return TracePath(np.zeros(0), np.zeros(0), np.zeros(n_cols, bool), x0, 1.0, 0.0)


def _column_points(
    cols: np.ndarray, top: np.ndarray, bot: np.ndarray, thick: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points of the path: the run centre for thin runs; for long runs (steep strokes) both ends,
    in the order that joins the previous point to the next column with the least travel."""
    half = 0.5 * thick
    lo = top + half  # upper end (smaller y) of the stroke's centre line
    hi = bot - half
    centre = 0.5 * (top + bot)
    long_run = (hi - lo) > thick
    xs: list[float] = []
    ys: list[float] = []
    prev = float(centre[0]) if centre.size else 0.0
    n = len(cols)
    for k in range(n):
        x = float(cols[k])
        if not long_run[k]:
            y = float(centre[k])
            xs.append(x)
            ys.append(y)
            prev = y
            continue
        nxt = float(centre[k + 1]) if k + 1 < n else prev
        a, b = float(lo[k]), float(hi[k])
        up_first = abs(prev - a) + (b - a) + abs(b - nxt)
        down_first = abs(prev - b) + (b - a) + abs(a - nxt)
        e1, e2 = (a, b) if up_first <= down_first else (b, a)
        xs.extend((x - 0.25, x + 0.25))
        ys.extend((e1, e2))
        prev = e2
    return np.asarray(xs), np.asarray(ys)


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
    n = max(1, int(round((x_stop - x_start) / px_per_s * fs_hz)))
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
