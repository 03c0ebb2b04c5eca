"""Band-limited rebuilding of a signal from points drawn at a regular spacing.

An ECG cart (or a PDF writer) that draws a trace as a polyline through its samples leaves the
samples on the page; joining them with straight lines would add the corners of the polyline as
high-frequency error. :func:`bandlimited_at` instead evaluates the band-limited interpolant of
the points (windowed sinc, Kaiser window) at any times, low-pass filtered at the output's
Nyquist frequency when the output rate is lower than the points' rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, solveh_banded

HALF_TAPS = 16  # the sinc is evaluated over +-16 input samples
KAISER_BETA = 7.0


def bandlimited_at(
    values: np.ndarray, fs_in_hz: float, t0_s: float, t_out_s: np.ndarray, fs_out_hz: float
) -> np.ndarray:
    """Values of the band-limited signal through ``values`` (sample k at ``t0_s + k/fs_in_hz``)
    at the times ``t_out_s``. Beyond both ends the points are extended by odd reflection (no
    jump, no ringing at the edges); times outside the points' span are not asked for."""
    y = np.asarray(values, dtype=np.float64)
    t_out_s = np.asarray(t_out_s, dtype=np.float64)
    if y.size < 2:
        return np.full(t_out_s.shape, y[0] if y.size else np.nan)
    half = HALF_TAPS
    pad = half + 2
    padded = np.pad(y, pad, mode="reflect", reflect_type="odd")
    cutoff = min(1.0, fs_out_hz / fs_in_hz)  # fraction of the input Nyquist kept
    scale = 1.0 / cutoff  # a lower cutoff needs a proportionally wider kernel
    reach = int(np.ceil(half * scale))
    if reach + 2 > pad:
        padded = np.pad(y, reach + 2, mode="reflect", reflect_type="odd")
        pad = reach + 2
    u = (t_out_s - t0_s) * fs_in_hz
    out = np.empty(u.size)
    offsets = np.arange(-reach + 1, reach + 1)
    chunk = max(1, 2_000_000 // offsets.size)
    norm = np.i0(KAISER_BETA)
    for a in range(0, u.size, chunk):
        uu = u[a : a + chunk]
        idx = np.floor(uu).astype(np.int64)[:, None] + offsets[None, :]
        d = uu[:, None] - idx
        r = np.clip(d / (reach), -1.0, 1.0)
        window = np.i0(KAISER_BETA * np.sqrt(1.0 - r * r)) / norm
        w = cutoff * np.sinc(cutoff * d) * window
        w /= w.sum(axis=1, keepdims=True)
        idx = np.clip(idx + pad, 0, padded.size - 1)
        out[a : a + chunk] = np.sum(w * padded[idx], axis=1)
    return out


def regular_spacing(x: np.ndarray, tolerance: float = 0.05) -> tuple[float, float] | None:
    """``(x0, step)`` of the least-squares line ``x_k = x0 + k*step`` when the points advance
    by a constant step (every step within ``tolerance`` of it), else None."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 4:
        return None
    dx = np.diff(x)
    step = float(np.median(dx))
    if step <= 0 or np.max(np.abs(dx - step)) > tolerance * step:
        return None
    k = np.arange(x.size)
    slope, intercept = np.polyfit(k, x, 1)
    return float(intercept), float(slope)


# --- the same rebuilding for a polyline read from pixels (the raster route) -----------------
# A page drawn from samples at a low rate (ECGtizer-style PDFs: 125 Hz, 1.6 px apart at 200 dpi)
# shows straight segments between the samples; reading the pixels faithfully returns those
# segments, whose corners cut every QRS peak (about -3 dB against the record). The tips of sharp
# spikes are vertices, so their x positions reveal the rate and phase of the points; reading the
# line at the vertices and rebuilding band-limited recovers what the vector route gets.
POINT_RATES_HZ = (
    100.0,
    120.0,
    125.0,
    128.0,
    150.0,
    200.0,
    250.0,
    256.0,
    300.0,
    360.0,
    400.0,
    500.0,
    1000.0,
)
MIN_SPACING_PX = 1.0  # closer points: straight segments cost nothing worth rebuilding
_TIP_HALF_S = 0.005  # a tip is the extreme point within this much time either side ...
_TIP_FAR_S = 0.025  # ... and the line is _TIP_DEPTH_MM further away on both sides within this
_TIP_DEPTH_MM = 0.5
_MIN_TIPS, _MIN_PAIRS, _MIN_RHO, _MAX_TIPS = 8, 30, 0.35, 500
_TIP_WEIGHT = 4.0  # in the vertex fit a tip counts as much as this many columns
_SMOOTH = 1e-4  # weight of the first differences of the vertices (only fills empty stretches)


def polyline_tips(
    x_px: np.ndarray, y_px: np.ndarray, px_per_s: float, px_per_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of the sharp peaks and troughs of a traced line (points sorted by x): the
    extreme point within ``_TIP_HALF_S`` either side with the line at least ``_TIP_DEPTH_MM``
    further away on both sides within ``_TIP_FAR_S`` (QRS spikes: where a drawn polyline has
    a vertex, found to about 0.05 px on ECGtizer pages at 200 dpi)."""
    order = np.argsort(x_px, kind="stable")  # already sorted along a traced path
    x, y = np.asarray(x_px, np.float64)[order], np.asarray(y_px, np.float64)[order]
    if x.size < 5:
        return np.zeros(0), np.zeros(0)
    half, far, depth = _TIP_HALF_S * px_per_s, _TIP_FAR_S * px_per_s, _TIP_DEPTH_MM * px_per_mm
    ext = np.zeros(x.size, bool)  # local extremes of the point sequence: the candidates
    ext[1:-1] = ((y[1:-1] <= y[:-2]) & (y[1:-1] <= y[2:])) | (
        (y[1:-1] >= y[:-2]) & (y[1:-1] >= y[2:])
    )
    lo = np.searchsorted(x, x - far)
    a, b = np.searchsorted(x, x - half), np.searchsorted(x, x + half, side="right")
    hi = np.searchsorted(x, x + far, side="right")
    keep = []
    for i in np.flatnonzero(ext):
        if lo[i] == a[i] or b[i] == hi[i]:
            continue
        near, left, right = y[a[i] : b[i]], y[lo[i] : a[i]], y[b[i] : hi[i]]
        for s in (1.0, -1.0):  # peak (smallest y), then trough
            yi = s * y[i]
            if (
                yi <= (s * near).min() + 1e-9
                and min((s * left).min(), (s * right).min()) - yi > depth
            ):
                keep.append(i)
    idx = np.unique(np.asarray(keep, int))
    return x[idx], y[idx]


def point_spacing(tips_x_px: np.ndarray, px_per_s: float) -> float | None:
    """Spacing (px) of the points a page was drawn from, or None when the tips do not sit on a
    regular grid of a common sample rate at least ``MIN_SPACING_PX`` apart.

    Score of a rate: the mean cosine of ``2*pi*dx/spacing`` over pairs of tips at least 4
    spacings apart (tips of one beat in several leads, at the same x, say nothing about the
    rate; far pairs tell close rates apart). The best rate above ``max(_MIN_RHO, 7/n_tips)``
    wins: random tips (beats of a smooth or finely sampled line) stay below it (99.9 % of
    simulated pages with 12-40 tips)."""
    x = np.sort(np.asarray(tips_x_px, np.float64))
    if x.size < _MIN_TIPS:
        return None
    if x.size > _MAX_TIPS:  # a noisy page: an even subset keeps the pairs affordable
        x = x[np.linspace(0, x.size - 1, _MAX_TIPS).astype(int)]
    dx = (x[None, :] - x[:, None])[np.triu_indices(x.size, 1)]
    best, best_rho = None, max(_MIN_RHO, 7.0 / x.size)  # chance stays below with fewer tips
    for rate in POINT_RATES_HZ:
        spacing = px_per_s / rate
        if spacing < MIN_SPACING_PX:
            continue
        pairs = dx[dx >= 4.0 * spacing]
        if pairs.size < _MIN_PAIRS:
            continue
        rho = float(np.mean(np.cos(2.0 * np.pi * pairs / spacing)))
        if rho > best_rho:
            best, best_rho = spacing, rho
    return best


def vertex_grid(tips_x_px: np.ndarray, spacing_px: float) -> tuple[float, float]:
    """``(x0, step)`` of the vertices through the tips: the phase from their circular mean,
    then ``x = x0 + n*step`` fitted to the tips by least squares (follows a slight scale error
    along a wide row); ``step`` stays ``spacing_px`` with fewer than 4 tips."""
    x = np.sort(np.asarray(tips_x_px, np.float64))
    z = np.exp(2j * np.pi * x / spacing_px)
    x0 = float(np.angle(z[: max(1, min(x.size, 8))].mean())) / (2 * np.pi) * spacing_px
    step = spacing_px
    if x.size >= 4:
        for _ in range(2):
            n = np.round((x - x0) / step)
            if np.ptp(n) < 1:
                break
            fit_step, fit_x0 = (float(v) for v in np.polyfit(n, x, 1))
            if abs(fit_step / spacing_px - 1.0) > 0.01:  # a bad unwrapping, not a scale error
                break
            step, x0 = fit_step, fit_x0
    return x0, step


def rebuild_polyline(
    x_px: np.ndarray,
    y_px: np.ndarray,
    grid: tuple[float, float],
    tips: tuple[np.ndarray, np.ndarray],
    sample_x_px: np.ndarray,
) -> np.ndarray:
    """y of a traced line at ``sample_x_px`` rebuilt from its values at the vertices ``grid``
    (``(x0, step)``): the vertex values of the polyline that fits the traced points best
    (:func:`fit_vertices`; a tip's own y where a tip is within a third of a step), then the
    band-limited interpolant of those values; the traced line outside the vertices' span."""
    x0, step = grid
    n0 = np.ceil((x_px[0] - x0) / step)
    n1 = np.floor((x_px[-1] - x0) / step)
    out = np.interp(sample_x_px, x_px, y_px)
    if n1 - n0 < 4:
        return out
    vx = x0 + np.arange(n0, n1 + 1) * step
    vy = fit_vertices(x_px, y_px, vx, tips)
    tx, ty = tips
    if tx.size:
        k = np.clip(np.round((tx - vx[0]) / step).astype(int), 0, vx.size - 1)
        near = np.abs(vx[k] - tx) < step / 3.0
        vy[k[near]] = ty[near]
    inside = (sample_x_px >= vx[0]) & (sample_x_px <= vx[-1])
    out_step = float(np.median(np.diff(sample_x_px))) if sample_x_px.size > 1 else step
    out[inside] = bandlimited_at(vy, 1.0 / step, vx[0], sample_x_px[inside], 1.0 / out_step)
    return out


@dataclass(frozen=True)
class PagePoints:
    """The regular points a page's traces were drawn from: their spacing and the sharp tips
    (x, image pixels) that show where they lie (see :func:`page_points`)."""

    spacing_px: float
    tips_x_px: np.ndarray


def page_points(
    lines: list[tuple[np.ndarray, np.ndarray]], px_per_s: float, px_per_mm: float
) -> PagePoints | None:
    """The points the traced ``lines`` (``(x, y)`` pixels, sorted by x) were drawn from, when
    their tips sit on a regular grid at least ``MIN_SPACING_PX`` apart; else None."""
    tips = [polyline_tips(x, y, px_per_s, px_per_mm)[0] for x, y in lines]
    all_x = np.concatenate(tips) if tips else np.zeros(0)
    spacing = point_spacing(all_x, px_per_s)
    return None if spacing is None else PagePoints(spacing, np.sort(all_x))


def resample_on_points(
    x_px: np.ndarray,
    y_px: np.ndarray,
    points: PagePoints,
    px_per_s: float,
    px_per_mm: float,
    span_px: tuple[float, float],
    n: int,
    fs_hz: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(sample x, y)``: ``n`` samples at ``fs_hz`` of a traced line of the box ``span_px``,
    rebuilt from the page's points (:func:`rebuild_polyline`), the samples falling on the
    points' grid (the record's own sample instants) from the box start on. None when no tip
    of the page says where its points are."""
    if x_px.size < 2:
        return None
    x0, x1 = span_px
    tips = polyline_tips(x_px, y_px, px_per_s, px_per_mm)
    page_tips = points.tips_x_px[(points.tips_x_px >= x0) & (points.tips_x_px <= x1)]
    grid = None
    # tips of the rows sharing the box's columns, else its own, else the page's (one grid)
    for tips_x in (page_tips, tips[0], points.tips_x_px):
        if tips_x.size:
            grid = vertex_grid(tips_x, points.spacing_px)
            if _concentration(tips_x, grid) >= 0.7:
                break
            grid = None
    if grid is None:
        return None
    out_step = px_per_s / fs_hz * grid[1] / points.spacing_px  # follows the fitted scale
    first = grid[0] + np.ceil((x0 - grid[0]) / out_step) * out_step
    sample_x = first + np.arange(n) * out_step
    return sample_x, rebuild_polyline(x_px, y_px, grid, tips, sample_x)


def _concentration(x: np.ndarray, grid: tuple[float, float]) -> float:
    """How closely the positions ``x`` sit on the vertices ``grid``: 1 exactly, ~0 at random."""
    x0, step = grid
    return float(np.abs(np.mean(np.exp(2j * np.pi * (x - x0) / step))))


def fit_vertices(
    x_px: np.ndarray, y_px: np.ndarray, vx: np.ndarray, tips: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Values at the vertices ``vx`` (regular) of the polyline through the traced points that
    fits them best (weighted least squares; a column's points weigh one in all, a tip
    ``_TIP_WEIGHT``): unlike interpolating between column centres, it keeps the corners
    that fall between two columns."""
    x = np.concatenate([np.asarray(x_px, np.float64), tips[0]])
    y = np.concatenate([np.asarray(y_px, np.float64), tips[1]])
    col = np.round(x_px).astype(np.int64)
    _, inv, counts = np.unique(col, return_inverse=True, return_counts=True)
    w = np.concatenate([1.0 / counts[inv], np.full(tips[0].size, _TIP_WEIGHT)])
    n, step = vx.size, vx[1] - vx[0]
    u = (x - vx[0]) / step
    keep = (u >= 0) & (u <= n - 1)
    u, y, w = u[keep], y[keep], w[keep]
    i = np.minimum(np.floor(u).astype(np.int64), n - 2)
    f = u - i
    diag = np.bincount(i, w * (1 - f) ** 2, n) + np.bincount(i + 1, w * f * f, n)
    off = np.bincount(i, w * f * (1 - f), n)[: n - 1]
    rhs = np.bincount(i, w * (1 - f) * y, n) + np.bincount(i + 1, w * f * y, n)
    lam = _SMOOTH
    diag = diag + lam * np.r_[1.0, np.full(n - 2, 2.0), 1.0]
    off = off - lam
    try:
        return solveh_banded(np.vstack([np.r_[0.0, off], diag]), rhs)
    except LinAlgError:  # no traced point near the vertices at all
        return np.interp(vx, x_px, y_px)
