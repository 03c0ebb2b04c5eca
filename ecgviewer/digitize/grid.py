"""Measure the ECG paper grid: pixels per millimetre in x and y from its periodicity.

Why this way: the grid is the only ruler on a scanned or photographed ECG (file dpi is often a
nominal 72). Projection profiles of the "non-paper" image over a few strips are autocorrelated;
a comb score says how strongly a period ``p`` repeats (peaks at multiples of ``p`` versus the
half-way points). The 1 mm pitch ``P`` is the period whose 5 mm multiple (the heavy lines) and
itself (the fine lines) score best, with a weak prior that an ECG page is about 260 mm wide,
which settles the 1 mm / 5 mm ambiguity when fine lines are blurred away (72 dpi exports).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.binarize import binarize
from ecgviewer.digitize.preprocess import as_rgb_uint8, channel_min, trace_darkness


@dataclass(frozen=True)
class GridMeasurement:
    """Grid scale found on a page. ``small_box_px`` is the 1 mm pitch (mean of x and y);
    ``confidence`` is the comb contrast of the 5 mm period (0 none, ~0.1 faint, >0.5 crisp)."""

    px_per_mm_x: float
    px_per_mm_y: float
    found: bool
    confidence: float
    small_box_px: float
    notes: str = ""
    fine_lines: bool = True  # the 1 mm lines were resolved (not only a 5 mm period)
    both_axes: bool = True  # seen along x and y (False: one axis only, a square grid assumed)


MIN_PX_PER_MM = 1.8  # 46 dpi: below this the 1 mm lines cannot be resolved anyway
MAX_PX_PER_MM = 48.0  # 1200 dpi
_MAX_LAG_PX = 320
_MIN_CONFIDENCE = 0.06
_MIN_FINE_CONTRAST = 0.03  # comb contrast of the 1 mm lines between the 5 mm ones
_PAGE_WIDTH_MM = 260.0  # typical printed ECG width, for the 1 mm / 5 mm decision only
_PAGE_HEIGHT_MM = 180.0
_PRIOR_SIGMA_LOG = 0.45
_PRIOR_WEIGHT = 0.01
_LOG_STEP = 0.002
_INK_MASK_MIN = 0.45  # only clear ink is masked: grid remnants in the darkness map stay


def grid_evidence(image_rgb: np.ndarray, darkness: np.ndarray | None = None) -> np.ndarray:
    """Darkness of each pixel's darkest channel (grid lines of any colour), capped at a high
    quantile, with the clear trace ink masked out (set to the median): on a page without a grid the
    trace's own rhythm must not pass for one. ``darkness`` is :func:`trace_darkness` of the
    image (computed when not given) and says where the ink is."""
    img = as_rgb_uint8(image_rgb)
    ev = 255.0 - channel_min(img).astype(np.float32)
    cap = float(np.quantile(ev[::3, ::3], 0.97))
    if cap > 0:
        np.minimum(ev, cap, out=ev)
    if darkness is None:
        darkness = trace_darkness(img)
    if darkness.shape == ev.shape:
        t = max(binarize(darkness, "modified_otsu").threshold, _INK_MASK_MIN)
        ev[ndimage.binary_dilation(darkness > t)] = float(np.median(ev[::3, ::3]))
    return ev


def _mean_autocorr(ev: np.ndarray, axis: int, n_strips: int, max_lag: int) -> np.ndarray:
    """Mean normalised autocorrelation of projection profiles over tiles of the image.

    ``axis=0``: strips of rows, profiles along x (vertical grid lines); ``axis=1``: along y.
    Each strip is cut into overlapping segments of about ``2.2 * max_lag`` so that the local
    pitch of a photographed (perspective, curved) sheet stays coherent within a segment.
    """
    length = ev.shape[1 - axis]
    seg = int(min(length, max(2.2 * max_lag, length / 3)))
    starts = np.unique(np.linspace(0, length - seg, max(1, int(np.ceil(2 * length / seg)) - 1)))
    nfft = 1 << int(np.ceil(np.log2(seg + max_lag + 1)))
    sigma = float(np.clip(0.03 * seg, 12.0, 60.0))
    window = np.hanning(seg)
    edges = np.linspace(0, ev.shape[axis], n_strips + 1).astype(int)
    acc = np.zeros(max_lag + 1)
    used = 0
    for a, b in itertools.pairwise(edges):
        if b - a < 2:
            continue
        strip = ev[a:b:2] if axis == 0 else ev[:, a:b:2]
        full = strip.mean(axis=axis, dtype=np.float64)
        full = full - ndimage.gaussian_filter1d(full, sigma, mode="nearest")
        for s in starts.astype(int):
            prof = full[s : s + seg] * window
            spec = np.fft.rfft(prof, nfft)
            ac = np.fft.irfft(spec * np.conj(spec), nfft)[: max_lag + 1]
            if ac[0] > 0:
                acc += ac / ac[0]
                used += 1
    return acc / max(1, used)


_FINE_OFFSETS = (1 / 2, 1 / 3, 2 / 3, 1 / 4, 3 / 4, 1 / 5, 2 / 5, 3 / 5, 4 / 5)
_HEAVY_OFFSETS = (1 / 2, 1 / 3, 2 / 3, 1 / 4, 3 / 4)


def _comb(ac: np.ndarray, periods: np.ndarray, offsets: tuple[float, ...]) -> np.ndarray:
    """Mean autocorrelation at multiples of each period minus that at the fractional offsets
    between them (NaN where fewer than two multiples fit).

    Offsets at thirds and quarters make a multiple of the true period (3 mm instead of 1 mm)
    score low, because its off-points land on real grid lines."""
    max_lag = len(ac) - 1
    lags = np.arange(len(ac), dtype=np.float64)
    out = np.full(len(periods), np.nan)
    k_max = np.floor(max_lag / periods).astype(int)
    fr = np.asarray(offsets)[:, None]
    for i in np.flatnonzero(k_max >= 2):
        k = np.arange(1, k_max[i] + 1, dtype=np.float64)
        p = periods[i]
        on = np.interp(k * p, lags, ac).mean()
        off = np.interp(((k[None, :] - fr) * p).ravel(), lags, ac).mean()
        out[i] = on - off
    return out


def _emphasis(ac: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Mean autocorrelation at multiples of 5·p1 minus that at the other multiples of p1:
    positive when every fifth line is heavier, as on ECG paper (NaN where 5·p1 does not fit)."""
    max_lag = len(ac) - 1
    lags = np.arange(len(ac), dtype=np.float64)
    out = np.full(len(p1), np.nan)
    j_max = np.floor(max_lag / p1).astype(int)
    for i in np.flatnonzero(j_max >= 5):
        j = np.arange(1, j_max[i] + 1)
        vals = np.interp(j * p1[i], lags, ac)
        heavy = (j % 5) == 0
        out[i] = vals[heavy].mean() - vals[~heavy].mean()
    return out


def _max_lag(length_px: int) -> int:
    return int(min(length_px // 2, max(_MAX_LAG_PX, length_px // 6)))


def _log_prior(length_px: float, p1: np.ndarray, typical_mm: float) -> np.ndarray:
    """Weak log-normal prior on the page extent implied by a 1 mm pitch ``p1``."""
    z = np.log(length_px / p1 / typical_mm) / _PRIOR_SIGMA_LOG
    return -_PRIOR_WEIGHT * np.minimum(z * z, 16.0)


def _bumps(lags: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Periodic unit peaks (Gaussian, width ~12 % of the period, at least 0.7 px) at the
    multiples of each period: shape (len(period), len(lags))."""
    ph = lags[None, :] / period[:, None]
    dist = (ph - np.round(ph)) * period[:, None]  # px to the nearest multiple
    sigma = np.maximum(0.7, 0.12 * period)[:, None]
    return np.exp(-0.5 * (dist / sigma) ** 2)


def _grid_fit(ac: np.ndarray, p1: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Fraction of the autocorrelation's variance (over lags ≥ 3 px) explained by an ECG grid
    model with 1 mm pitch ``p1``: offset + a·peaks every p1 + b·peaks every 5·p1, a, b ≥ 0.

    A wrong pitch leaves peaks unexplained (a multiple of the pitch misses the lines between,
    a fraction predicts lines that are not there); a pitch five times too large ties with the
    truth only when the fine lines are invisible, which the page-size prior then settles."""
    lags = np.arange(3, len(ac), dtype=np.float64)
    y = ac[3:] - ac[3:].mean()
    syy = float(y @ y)
    out = np.zeros(len(p1))
    if syy <= 0:
        return out
    for s in range(0, len(p1), chunk):
        p = p1[s : s + chunk]
        g1 = _bumps(lags, p)
        g5 = _bumps(lags, 5.0 * p)
        g1 -= g1.mean(axis=1, keepdims=True)
        g5 -= g5.mean(axis=1, keepdims=True)
        a11 = np.einsum("ij,ij->i", g1, g1)
        a55 = np.einsum("ij,ij->i", g5, g5)
        a15 = np.einsum("ij,ij->i", g1, g5)
        b1, b5 = g1 @ y, g5 @ y
        det = a11 * a55 - a15 * a15
        with np.errstate(divide="ignore", invalid="ignore"):
            ca = (a55 * b1 - a15 * b5) / det
            cb = (a11 * b5 - a15 * b1) / det
            both = ca * b1 + cb * b5  # explained sum of squares of the 2-regressor fit
            only1 = np.where(b1 > 0, b1 * b1 / a11, 0.0)
            only5 = np.where(b5 > 0, b5 * b5 / a55, 0.0)
        ok = (ca >= 0) & (cb >= 0) & np.isfinite(both)
        ess = np.where(ok, both, np.maximum(only1, only5))
        out[s : s + chunk] = np.nan_to_num(ess) / syy
    return out


def _axis_fit(ev: np.ndarray, axis: int, p1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(autocorrelation, grid-model fit per candidate 1 mm pitch) along one axis."""
    ac = _mean_autocorr(ev, axis, n_strips=8, max_lag=_max_lag(ev.shape[1 - axis]))
    return ac, _grid_fit(ac, p1)


def _local_best(score: np.ndarray, i: int, win: int) -> int:
    lo, hi = max(0, i - win), min(len(score), i + win + 1)
    return lo + int(np.argmax(np.nan_to_num(score[lo:hi], nan=-9.0)))


def _refine(ac: np.ndarray, p1: float) -> float:
    """Sub-pixel 1 mm pitch near ``p1``: maximise the summed comb of p1 and 5·p1."""
    cand = p1 * np.exp(np.linspace(-0.02, 0.02, 81))
    s = np.nan_to_num(_comb(ac, cand, (0.5,)), nan=-1.0)
    s += np.nan_to_num(_comb(ac, 5 * cand, (0.5,)), nan=-1.0)
    return float(cand[int(np.argmax(s))])


def _scalar(fn, ac: np.ndarray, p: float, *args) -> float:
    return float(np.nan_to_num(fn(ac, np.array([p]), *args)[0], nan=0.0))


def _resolves_1mm_lines(ac: np.ndarray, p: float) -> bool:
    """Whether the autocorrelation shows the 1 mm lines of pitch ``p``, not only 5 mm ones."""
    return _scalar(_comb, ac, p, _FINE_OFFSETS) >= _MIN_FINE_CONTRAST


def measure_grid(image_rgb: np.ndarray, darkness: np.ndarray | None = None) -> GridMeasurement:
    """Detect the periodic ECG grid in x and y and return its 1 mm pitch in pixels.

    ``darkness``: :func:`trace_darkness` of the same image if the caller has it (saves its
    computation). ``found`` is False (scales 0) when no periodicity stands out; the caller then
    falls back to the file's dpi (see :func:`ecgviewer.digitize.calibration.calibrate`).
    """
    ev = grid_evidence(image_rgb, darkness)
    h, w = ev.shape
    hi = min(5 * MAX_PX_PER_MM, min(_max_lag(h), _max_lag(w)) / 2.0)
    if hi <= 5 * MIN_PX_PER_MM:
        return GridMeasurement(0.0, 0.0, False, 0.0, 0.0, "image too small for a grid")
    p1 = np.exp(np.arange(np.log(MIN_PX_PER_MM), np.log(hi / 5.0), _LOG_STEP))
    ac_x, fit_x = _axis_fit(ev, 0, p1)
    ac_y, fit_y = _axis_fit(ev, 1, p1)
    prior_x = _log_prior(w, p1, _PAGE_WIDTH_MM)
    prior_y = _log_prior(h, p1, _PAGE_HEIGHT_MM)
    # x and y share the pitch up to ±8 % (non-square pixels, perspective)
    win = round(0.08 / _LOG_STEP)
    joint = fit_x + prior_x + ndimage.maximum_filter1d(fit_y + prior_y, 2 * win + 1)
    i = int(np.argmax(joint))
    j = _local_best(fit_y + prior_y, i, win)
    tx, ty = float(p1[i]), float(p1[j])
    notes = []
    fine_lines = _resolves_1mm_lines(ac_x, tx)
    if not fine_lines:
        notes.append("1 mm lines not resolved; scale from the 5 mm lines")
    px, py = _refine(ac_x, tx), _refine(ac_y, ty)
    both_axes = True
    conf_x = _scalar(_comb, ac_x, 5 * px, (0.5,))
    conf_y = _scalar(_comb, ac_y, 5 * py, (0.5,))
    if min(conf_x, conf_y) < _MIN_CONFIDENCE and max(conf_x, conf_y) >= 2 * _MIN_CONFIDENCE:
        # one axis is clear, the other drowned (trace, shading): ECG grids are square
        if conf_x >= conf_y:
            ac, alone, axis = ac_x, fit_x + prior_x, "x"
        else:
            ac, alone, axis = ac_y, fit_y + prior_y, "y"
        px = py = _refine(ac, float(p1[int(np.argmax(alone))]))
        conf_x = conf_y = _scalar(_comb, ac, 5 * px, (0.5,))
        notes.append(f"pitch from the {axis} axis only (square grid assumed)")
        both_axes = False
        if not _resolves_1mm_lines(ac, px):
            # one axis and no 1 mm lines on it: evenly spaced trace rows of a grid-less page
            # repeat along y just like 5 mm lines; that is not enough to call it a grid
            conf_x = conf_y = 0.0
    conf = max(0.0, min(conf_x, conf_y))
    if conf < _MIN_CONFIDENCE:
        note = f"no periodic grid (contrast x {conf_x:.2f}, y {conf_y:.2f})"
        return GridMeasurement(0.0, 0.0, False, conf, 0.0, note)
    note = "; ".join(notes)
    return GridMeasurement(px, py, True, conf, 0.5 * (px + py), note, fine_lines, both_axes)
