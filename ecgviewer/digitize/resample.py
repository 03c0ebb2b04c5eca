"""Band-limited rebuilding of a signal from points drawn at a regular spacing.

An ECG cart (or a PDF writer) that draws a trace as a polyline through its samples leaves the
samples on the page; joining them with straight lines would add the corners of the polyline as
high-frequency error. :func:`bandlimited_at` instead evaluates the band-limited interpolant of
the points (windowed sinc, Kaiser window) at any times, low-pass filtered at the output's
Nyquist frequency when the output rate is lower than the points' rate.
"""

from __future__ import annotations

import numpy as np

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
