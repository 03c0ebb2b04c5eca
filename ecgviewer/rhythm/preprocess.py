"""Signal conditioning shared by training and inference (numpy/scipy only, no torch).

Any sampling rate in, ``MODEL_FS_HZ`` out: NaN gaps bridged for filtering and then zeroed and
masked, 0.5-40 Hz band-pass, robust amplitude normalisation (median beat-scale amplitude = 1).
The same function feeds training and inference, so a record seen by the app is conditioned
exactly as the training data was.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

MODEL_FS_HZ = 100.0
BAND_HZ = (0.5, 40.0)
MAX_GAP_BRIDGE_S = 0.2  # NaN runs shorter than this are interpolated and count as valid
CLIP = 10.0


def fill_gaps(signal_mv: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Linearly bridge NaN runs (edges: nearest value); return (filled, valid mask).

    Runs longer than ``MAX_GAP_BRIDGE_S`` are marked invalid so they can be zeroed later.
    An all-NaN signal becomes zeros with an all-False mask.
    """
    x = np.asarray(signal_mv, dtype=np.float64).ravel()
    bad = ~np.isfinite(x)
    if not bad.any():
        return x.copy(), np.ones(x.size, dtype=bool)
    if bad.all():
        return np.zeros_like(x), np.zeros(x.size, dtype=bool)
    idx = np.arange(x.size)
    filled = x.copy()
    filled[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    valid = ~bad
    # re-admit short runs
    edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    max_run = round(MAX_GAP_BRIDGE_S * fs_hz)
    for a, b in zip(starts, stops):
        if b - a <= max_run:
            valid[a:b] = True
    return filled, valid


def bandpass(
    signal: np.ndarray, fs_hz: float, band_hz: tuple[float, float] = BAND_HZ
) -> np.ndarray:
    """Zero-phase Butterworth band-pass (high-pass only when fs is too low for the top edge)."""
    lo, hi = band_hz
    nyq = fs_hz / 2.0
    if signal.size < 16:
        return signal - np.mean(signal) if signal.size else signal
    if hi < 0.9 * nyq:
        sos = butter(2, [lo / nyq, hi / nyq], btype="bandpass", output="sos")
    else:
        sos = butter(2, lo / nyq, btype="highpass", output="sos")
    padlen = min(signal.size - 1, int(3 * fs_hz))
    return sosfiltfilt(sos, signal, padlen=padlen)


def resample(signal: np.ndarray, fs_in_hz: float, fs_out_hz: float) -> np.ndarray:
    """Polyphase resampling by a rational approximation of fs_out/fs_in (keeps the duration)."""
    if abs(fs_in_hz - fs_out_hz) < 1e-9:
        return signal.copy()
    frac = Fraction(fs_out_hz / fs_in_hz).limit_denominator(1000)
    return resample_poly(signal, frac.numerator, frac.denominator)


def resample_mask(valid: np.ndarray, n_out: int) -> np.ndarray:
    """Nearest-sample resampling of a boolean mask to ``n_out`` samples."""
    if valid.size == 0 or n_out == 0:
        return np.zeros(n_out, dtype=bool)
    idx = np.minimum((np.arange(n_out) * valid.size / n_out).astype(np.int64), valid.size - 1)
    return valid[idx]


def amplitude_scale(x: np.ndarray, valid: np.ndarray, fs_hz: float) -> float:
    """Robust beat amplitude: median over 2-s windows of the half peak-to-peak range."""
    v = x[valid]
    if v.size < 2:
        return 0.0
    win = max(int(2 * fs_hz), 2)
    n = v.size // win
    if n >= 1:
        seg = v[: n * win].reshape(n, win)
        return float(np.median((seg.max(axis=1) - seg.min(axis=1)) / 2.0))
    return float((v.max() - v.min()) / 2.0)


def preprocess(
    signal_mv: np.ndarray, fs_hz: float, target_fs_hz: float = MODEL_FS_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Condition one lead for the network: returns (float32 samples at target fs, valid mask).

    Invalid (long-gap) samples are 0. A flat or all-invalid signal gives zeros.
    """
    filled, valid = fill_gaps(signal_mv, fs_hz)
    if filled.size == 0:
        return np.zeros(0, np.float32), np.zeros(0, bool)
    filt = bandpass(filled - np.median(filled), fs_hz)
    y = resample(filt, fs_hz, target_fs_hz)
    m = resample_mask(valid, y.size)
    y[~m] = 0.0
    scale = amplitude_scale(y, m, target_fs_hz)
    if scale > 1e-4:
        y = np.clip(y / scale, -CLIP, CLIP)
    else:
        y = np.zeros_like(y)
    return y.astype(np.float32), m
