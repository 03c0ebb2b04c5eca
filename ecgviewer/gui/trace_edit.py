"""Hand corrections of an extracted lead, as pure functions on sample arrays (no Qt).

Each returns ``(start, new_values)``: the samples ``start:start+len(new_values)`` to write, so
an undo command only has to keep the old values of that span.
"""

from __future__ import annotations

import numpy as np


def drag_point(
    signal_mv: np.ndarray, index: int, delta_mv: float, fs_hz: float, half_width_s: float = 0.02
) -> tuple[int, np.ndarray]:
    """Move sample ``index`` by ``delta_mv``, dragging its neighbours along with a raised-cosine
    falloff over ``half_width_s`` (one sample alone would make a spike, not a correction)."""
    n = len(signal_mv)
    if not 0 <= index < n:
        raise IndexError(f"sample {index} outside 0..{n - 1}")
    half = max(1, int(round(half_width_s * fs_hz)))
    start, stop = max(0, index - half), min(n, index + half + 1)
    offsets = np.arange(start, stop) - index
    weight = 0.5 * (1.0 + np.cos(np.pi * offsets / (half + 1)))
    base = np.nan_to_num(np.asarray(signal_mv[start:stop], dtype=np.float64), nan=0.0)
    return start, base + delta_mv * weight


def redraw_segment(
    signal_mv: np.ndarray, fs_hz: float, start_s: float, t_s: np.ndarray, v_mv: np.ndarray
) -> tuple[int, np.ndarray] | None:
    """Replace the samples under a hand-drawn stroke (times ``t_s`` on the page, values
    ``v_mv``) by the stroke, linearly interpolated; None when the stroke covers no sample."""
    t_s = np.asarray(t_s, dtype=np.float64)
    v_mv = np.asarray(v_mv, dtype=np.float64)
    if t_s.size < 2:
        return None
    order = np.argsort(t_s, kind="stable")
    t_s, v_mv = t_s[order], v_mv[order]
    n = len(signal_mv)
    eps = 1e-6  # stroke ends that fall on a sample (up to rounding) include it
    i0 = max(0, int(np.ceil((t_s[0] - start_s) * fs_hz - eps)))
    i1 = min(n - 1, int(np.floor((t_s[-1] - start_s) * fs_hz + eps)))
    if i1 < i0:
        return None
    t_samples = start_s + np.arange(i0, i1 + 1) / fs_hz
    return i0, np.interp(t_samples, t_s, v_mv)
