"""Calibration: pixels per mm from the grid (or user/dpi), checked against the 1 mV pulse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.digitize.grid import GridMeasurement
from ecgviewer.digitize.types import Calibration, DigitizeSettings

DEFAULT_PX_PER_MM = 200.0 / 25.4  # assume a 200 dpi scan when nothing else is known
_PULSE_TOLERANCE = 0.15


@dataclass(frozen=True)
class PulseMeasurement:
    """A 1 mV calibration pulse: its height in pixels and mm and where it sits (pixels)."""

    height_px: float
    height_mm: float
    x0: int
    x1: int
    y_top: int
    y_bottom: int


def _vertical_runs(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longest vertical ink run per column: (length, top row, bottom row)."""
    h, w = binary.shape
    b = np.vstack([np.zeros((1, w), bool), binary, np.zeros((1, w), bool)]).astype(np.int8)
    d = np.diff(b, axis=0)
    length = np.zeros(w, int)
    top = np.zeros(w, int)
    for c in range(w):
        starts = np.flatnonzero(d[:, c] == 1)
        ends = np.flatnonzero(d[:, c] == -1)
        if starts.size:
            runs = ends - starts
            k = int(np.argmax(runs))
            length[c], top[c] = runs[k], starts[k]
    return length, top, top + length


def find_calibration_pulse(
    binary: np.ndarray,
    px_per_mm_y: float,
    px_per_mm_x: float | None = None,
    gains_mm_mv: tuple[float, ...] = (5.0, 10.0, 20.0),
    search_fraction: float = 0.2,
) -> PulseMeasurement | None:
    """Find a rectangular calibration pulse near the left (or right) edge of ``binary``.

    A pulse is two vertical strokes of (nearly) equal height and the same top and bottom rows,
    2–10 mm apart, whose height is 5, 10 or 20 mm (one of ``gains_mm_mv``) within 25 %.
    """
    if px_per_mm_y <= 0 or binary.ndim != 2 or not binary.any():
        return None
    pxx = px_per_mm_x or px_per_mm_y
    h, w = binary.shape
    band = max(8, int(w * search_fraction))
    best: PulseMeasurement | None = None
    for x_off, sub in ((0, binary[:, :band]), (w - band, binary[:, w - band :])):
        length, top, bottom = _vertical_runs(sub)
        min_len = 0.75 * min(gains_mm_mv) * px_per_mm_y
        cols = np.flatnonzero(length >= min_len)
        if cols.size < 2:
            continue
        # group adjacent columns into strokes
        groups = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
        strokes = []
        for g in groups:
            k = g[int(np.argmax(length[g]))]
            strokes.append((int(g[0]), int(g[-1]), int(top[k]), int(bottom[k])))
        for i, a in enumerate(strokes):
            for b in strokes[i + 1 :]:
                gap_mm = (b[0] - a[1]) / pxx
                if not 1.5 <= gap_mm <= 12:
                    continue
                ha, hb = a[3] - a[2], b[3] - b[2]
                if abs(ha - hb) > 0.15 * max(ha, hb):
                    continue
                if abs(a[2] - b[2]) > 0.1 * ha + 2 or abs(a[3] - b[3]) > 0.1 * ha + 2:
                    continue
                height_px = 0.5 * (ha + hb)
                height_mm = height_px / px_per_mm_y
                if min(abs(height_mm / g - 1) for g in gains_mm_mv) > 0.25:
                    continue
                cand = PulseMeasurement(
                    height_px, height_mm, a[0] + x_off, b[1] + x_off + 1, a[2], a[3]
                )
                if best is None or cand.height_px > best.height_px:
                    best = cand
        if best is not None:
            return best
    return best


def calibrate(
    grid: GridMeasurement,
    pulse: PulseMeasurement | None,
    settings: DigitizeSettings,
    dpi: float | None,
) -> tuple[Calibration, list[str]]:
    """Decide px/mm (user override > grid > dpi > default), with warnings explaining fallbacks
    and any disagreement between the pulse height and the grid scale times the gain."""
    warnings: list[str] = []
    speed = float(settings.paper_speed_mm_s)
    gain = float(settings.gain_mm_mv)
    if settings.px_per_mm is not None and settings.px_per_mm > 0:
        pxx = pxy = float(settings.px_per_mm)
        source = "user"
    elif grid.found and grid.px_per_mm_x > 0 and grid.px_per_mm_y > 0:
        pxx, pxy = float(grid.px_per_mm_x), float(grid.px_per_mm_y)
        source = "grid"
    else:
        use_dpi = dpi if dpi is not None and dpi > 0 else settings.dpi
        if use_dpi is not None and use_dpi > 0:
            pxx = pxy = float(use_dpi) / 25.4
            source = "dpi"
            warnings.append(
                f"no ECG grid found: scale taken from the image resolution ({use_dpi:g} dpi, "
                f"{pxx:.2f} px/mm); amplitudes and times may be off if the image was resized"
            )
        else:
            pxx = pxy = DEFAULT_PX_PER_MM
            source = "default"
            warnings.append(
                f"no ECG grid and no resolution known: assuming {DEFAULT_PX_PER_MM:.2f} px/mm "
                "(200 dpi); set the scale by hand for correct amplitudes and times"
            )
    pulse_mm = None
    if pulse is not None:
        pulse_mm = pulse.height_px / pxy
        if abs(pulse_mm / gain - 1.0) > _PULSE_TOLERANCE:
            warnings.append(
                f"calibration pulse is {pulse_mm:.1f} mm high but the gain is {gain:g} mm/mV "
                f"({abs(pulse_mm / gain - 1) * 100:.0f}% off): check the gain setting or scale"
            )
    cal = Calibration(
        px_per_mm_x=pxx,
        px_per_mm_y=pxy,
        paper_speed_mm_s=speed,
        gain_mm_mv=gain,
        source=source,
        grid_found=bool(grid.found),
        pulse_found=pulse is not None,
        pulse_height_mm=pulse_mm,
    )
    return cal, warnings
