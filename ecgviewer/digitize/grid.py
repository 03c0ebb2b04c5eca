"""Measure the ECG paper grid: pixels per millimetre in x and y from its periodicity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.digitize.preprocess import as_rgb_uint8, paper_background


@dataclass(frozen=True)
class GridMeasurement:
    """Grid scale found on a page. ``small_box_px`` is the 1 mm pitch (mean of x and y)."""

    px_per_mm_x: float
    px_per_mm_y: float
    found: bool
    confidence: float
    small_box_px: float
    notes: str = ""


_MIN_PX_PER_MM = 1.8
_MAX_PX_PER_MM = 40.0


def grid_evidence(image_rgb: np.ndarray) -> np.ndarray:
    """How much each pixel looks like a grid line: darker than the paper in its darkest
    channel but not ink-dark (float32, [0,1])."""
    img = as_rgb_uint8(image_rgb)
    mn = img.min(axis=2).astype(np.float32) / 255.0
    bg = paper_background(mn)
    ev = np.clip(1.0 - mn / np.maximum(bg, 0.05), 0, 1)
    return ev


def _strip_autocorr(ev: np.ndarray, axis: int, n_strips: int, max_lag: int) -> np.ndarray:
    """Mean normalised autocorrelation of projection profiles taken over ``n_strips`` strips."""
    length = ev.shape[1 - axis]
    acc = np.zeros(max_lag + 1)
    edges = np.linspace(0, ev.shape[axis], n_strips + 1).astype(int)
    nfft = 1 << int(np.ceil(np.log2(2 * length)))
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a < 4:
            continue
        strip = ev[a:b] if axis == 0 else ev[:, a:b]
        prof = strip.mean(axis=axis).astype(np.float64)
        # remove slow trends (shading, trace bands) with a moving average
        k = max(3, min(length // 4, 61))
        trend = np.convolve(prof, np.ones(k) / k, mode="same")
        prof = prof - trend
        spec = np.fft.rfft(prof, nfft)
        ac = np.fft.irfft(spec * np.conj(spec), nfft)[: max_lag + 1]
        if ac[0] > 0:
            acc += ac / ac[0]
    return acc / max(1, n_strips)


def _period_from_autocorr(ac: np.ndarray) -> tuple[float, float, str]:
    """Return (px per mm, confidence, note) from an autocorrelation with grid peaks."""
    lo = int(np.floor(_MIN_PX_PER_MM * 0.9))
    best_p, best_score = 0.0, 0.0
    n = len(ac)
    for p in range(max(2, lo), n // 2):
        if ac[p] < ac[p - 1] or ac[p] < ac[p + 1]:
            continue
        # refine with a parabola
        denom = ac[p - 1] - 2 * ac[p] + ac[p + 1]
        off = 0.5 * (ac[p - 1] - ac[p + 1]) / denom if denom < 0 else 0.0
        period = p + off
        if ac[p] > best_score:
            best_p, best_score = period, ac[p]
    if best_p == 0.0:
        return 0.0, 0.0, "no periodic grid"
    return best_p, float(best_score), ""


def measure_grid(image_rgb: np.ndarray) -> GridMeasurement:
    """Detect the periodic grid in x and y and return its 1 mm pitch in pixels."""
    ev = grid_evidence(image_rgb)
    h, w = ev.shape
    max_lag_x = min(w // 3, int(_MAX_PX_PER_MM * 6))
    max_lag_y = min(h // 3, int(_MAX_PX_PER_MM * 6))
    ac_x = _strip_autocorr(ev, axis=0, n_strips=8, max_lag=max_lag_x)
    ac_y = _strip_autocorr(ev, axis=1, n_strips=8, max_lag=max_lag_y)
    px, cx, nx = _period_from_autocorr(ac_x)
    py, cy, ny = _period_from_autocorr(ac_y)
    found = px > 0 and py > 0 and min(cx, cy) > 0.1
    conf = float(min(cx, cy)) if found else 0.0
    small = 0.5 * (px + py) if found else 0.0
    return GridMeasurement(px, py, found, conf, small, "; ".join(s for s in (nx, ny) if s))
