"""A simple QRS detector (band-passed energy + scipy find_peaks) for heart rate and RR spread."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

MIN_RR_S = 0.25  # 240 bpm
MAX_RR_S = 2.5  # 24 bpm; longer intervals are treated as gaps, not beats


def detect_qrs(signal: np.ndarray, fs_hz: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Sample indices of R peaks in one lead (any polarity). Invalid samples never hold beats."""
    x = np.nan_to_num(np.asarray(signal, np.float64))
    if x.size < int(fs_hz):
        return np.zeros(0, np.int64)
    hi = min(15.0, 0.45 * fs_hz)
    sos = butter(2, [5.0 / (fs_hz / 2), hi / (fs_hz / 2)], btype="bandpass", output="sos")
    f = sosfiltfilt(sos, x, padlen=min(x.size - 1, int(fs_hz)))
    e = np.gradient(f) ** 2
    win = max(1, int(0.12 * fs_hz))
    e = np.convolve(e, np.ones(win) / win, mode="same")
    if valid is not None:
        e = np.where(valid, e, 0.0)
    ref = np.percentile(e, 98)
    if ref <= 0:
        return np.zeros(0, np.int64)
    peaks, _ = find_peaks(e, height=0.25 * ref, distance=int(MIN_RR_S * fs_hz))
    # the R peak is the largest |signal| sample near each energy peak
    half = max(1, int(0.06 * fs_hz))
    out = [
        max(0, p - half) + int(np.argmax(np.abs(x[max(0, p - half) : p + half + 1]))) for p in peaks
    ]
    return np.unique(np.array(out, np.int64))


def rate_and_irregularity(peaks: np.ndarray, fs_hz: float) -> tuple[float | None, float | None]:
    """(median heart rate in bpm, RMSSD / mean RR); None when fewer than 3 beats."""
    if peaks.size < 3:
        return None, None
    rr = np.diff(peaks) / fs_hz
    rr = rr[(rr >= MIN_RR_S) & (rr <= MAX_RR_S)]
    if rr.size < 2:
        return None, None
    hr = 60.0 / float(np.median(rr))
    rmssd = float(np.sqrt(np.mean(np.diff(rr) ** 2)))
    return hr, rmssd / float(np.mean(rr))
