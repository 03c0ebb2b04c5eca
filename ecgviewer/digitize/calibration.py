"""Calibration: pixels per mm from the grid (or user/dpi), checked against the 1 mV pulse."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.grid import GridMeasurement
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.paper.types import Calibration

DEFAULT_PX_PER_MM = 200.0 / 25.4  # assume a 200 dpi scan when nothing else is known
_PULSE_TOLERANCE = 0.15
DEFAULT_GAIN_MM_MV = 10.0  # the gain when the user gives none and no clear pulse states one
STANDARD_GAINS_MM_MV = (5.0, 10.0, 20.0)


@dataclass(frozen=True)
class PulseMeasurement:
    """A 1 mV calibration pulse: its height in pixels and mm and where it sits (pixels)."""

    height_px: float
    height_mm: float
    x0: int
    x1: int
    y_top: int
    y_bottom: int
    # a top bar joins the strokes and neither runs on past its ends: the height is the
    # pulse's, not a stroke broken at a grid line, a label's letter or a grid square
    clear: bool = True


def _long_vertical_runs(binary: np.ndarray, min_len: int) -> np.ndarray:
    """All vertical ink runs of at least ``min_len`` px: rows (column, top, bottom_excl)."""
    h, w = binary.shape
    b = np.zeros((h + 2, w), np.int8)
    b[1:-1] = binary
    d = np.diff(b, axis=0)
    sr, sc = np.nonzero(d.T == 1)  # (column, row) sorted by column, then row
    _er, ec = np.nonzero(d.T == -1)
    runs = np.stack([sr, sc, ec], axis=1)  # starts and ends pair up in the same order
    return runs[(runs[:, 2] - runs[:, 1]) >= min_len]


def _strokes(runs: np.ndarray, tol_px: float) -> list[tuple[int, int, int, int]]:
    """Group runs of adjacent columns with matching top and bottom into vertical strokes:
    (x0, x1_incl, top, bottom_excl) with the median top/bottom of the group."""
    strokes: list[list[np.ndarray]] = []
    for run in runs[np.lexsort((runs[:, 0], runs[:, 1]))]:
        for s in strokes:
            last = s[-1]
            if (
                0 < run[0] - last[0] <= 1
                and abs(run[1] - last[1]) <= tol_px
                and abs(run[2] - last[2]) <= tol_px
            ):
                s.append(run)
                break
        else:
            strokes.append([run])
    out = []
    for s in strokes:
        a = np.array(s)
        out.append((int(a[0, 0]), int(a[-1, 0]), int(np.median(a[:, 1])), int(np.median(a[:, 2]))))
    return out


def find_calibration_pulse(
    binary: np.ndarray,
    px_per_mm_y: float,
    px_per_mm_x: float | None = None,
    gains_mm_mv: tuple[float, ...] = (5.0, 10.0, 20.0),
    search_fraction: float = 0.2,
) -> PulseMeasurement | None:
    """Find a rectangular 1 mV calibration pulse near the left (or right) edge of ``binary``.

    A pulse is two vertical strokes with the same top and bottom rows, 1.5–12 mm apart, whose
    height is 5, 10 or 20 mm (one of ``gains_mm_mv``) within 25 %. The height is measured
    between the centres of the strokes' ends (run length minus the stroke's width), so a
    thick trace does not inflate it. Preference: not cut by the image's top or bottom edge,
    then within 10 % of a standard height, then the tallest (a stroke broken by noise only
    ever looks shorter). None when nothing qualifies.
    """
    if px_per_mm_y <= 0 or binary.ndim != 2 or not binary.any():
        return None
    pxx = px_per_mm_x or px_per_mm_y
    h, w = binary.shape
    band = max(8, int(w * search_fraction))
    min_len = max(4, int(0.75 * min(gains_mm_mv) * px_per_mm_y))
    tol = max(2.0, 0.4 * px_per_mm_y)
    gap_px = max(3, round(0.6 * px_per_mm_y))
    best: PulseMeasurement | None = None
    best_key: tuple[bool, bool, float] = (True, True, 0.0)
    for x_off in (0, w - band):
        sub = binary[:, x_off : x_off + band]
        # bridge the small gaps grid-line removal leaves where a stroke crosses a dark line
        sub = sub | ndimage.binary_closing(sub, structure=np.ones((gap_px, 1), bool))
        runs = _long_vertical_runs(sub, min_len)
        if len(runs) < 2 or len(runs) > 20000:
            continue
        strokes = _strokes(runs, tol)
        for i, a in enumerate(strokes):
            for b in strokes[i + 1 :]:
                left, right = (a, b) if a[0] < b[0] else (b, a)
                gap_mm = (right[0] - left[1]) / pxx
                if not 1.5 <= gap_mm <= 12:
                    continue
                if abs(a[2] - b[2]) > tol or abs(a[3] - b[3]) > tol:
                    continue
                thick = 0.5 * ((a[1] - a[0] + 1) + (b[1] - b[0] + 1))
                run_px = 0.5 * ((a[3] - a[2]) + (b[3] - b[2]))
                height_px = max(1.0, run_px - thick)
                height_mm = height_px / px_per_mm_y
                dev = min(abs(height_mm / g - 1) for g in gains_mm_mv)
                if dev > 0.25:
                    continue
                # strokes cut by the image's top or bottom edge are a last resort
                key = (min(a[2], b[2]) <= 1 or max(a[3], b[3]) >= h - 1, dev > 0.1, -height_px)
                if best is None or key < best_key:
                    best_key = key
                    best = PulseMeasurement(
                        height_px,
                        height_mm,
                        left[0] + x_off,
                        right[1] + x_off + 1,
                        min(a[2], b[2]),
                        max(a[3], b[3]),
                    )
        if best is not None:
            return replace(best, clear=_clearly_a_pulse(binary, best, px_per_mm_y))
    return None


def _clearly_a_pulse(binary: np.ndarray, p: PulseMeasurement, px_per_mm: float) -> bool:
    """True when ink joins the strokes along the top (≥ 80 % of the width) and no stroke
    carries on 0.3–3 mm beyond the top or bottom (≥ half of those rows inked): only then is
    the height worth a warning about the gain (phone photos and greyscale scans otherwise
    measure half pulses, letters or grid squares)."""
    h = binary.shape[0]
    tol = max(2, int(round(0.4 * px_per_mm)))
    top = binary[max(0, p.y_top - tol) : p.y_top + tol + 1, p.x0 : p.x1].any(axis=0)
    if top.size == 0 or top.mean() < 0.8:
        return False
    half = max(1, int(round(0.5 * px_per_mm)))
    near, far = int(round(0.3 * px_per_mm)), int(round(3 * px_per_mm))
    for xc in (p.x0 + half // 2, p.x1 - 1 - half // 2):
        cols = slice(max(0, xc - half), xc + half + 1)
        for a, b in ((p.y_bottom + near, p.y_bottom + far), (p.y_top - far, p.y_top - near)):
            a, b = max(0, a), min(h, b)
            if b > a and binary[a:b, cols].any(axis=1).mean() >= 0.5:
                return False
    return True


_TRUSTED_MIN_DPI = 100.0  # 72/96 dpi are what cameras and screenshots write when they do not know
_DPI_DISAGREEMENT = 0.10  # printing "fit to page" shrinks by a few %; more is another scale


def _weak_grid_against_dpi(grid: GridMeasurement, dpi: float | None) -> str | None:
    """Why a weakly evidenced "grid" must not override a believable resolution (None: it may).

    Weak: seen only as a 5 mm period (no 1 mm lines) or along one axis only. On a page without
    a grid, regular beats, evenly spaced rows or the paper's texture (a scanner's moiré, a
    tinted paper's weave) repeat too. A grid seen with its 1 mm lines on both axes always wins:
    scans often carry a dpi that no longer matches their pixels (resized, 600 dpi written)."""
    if (grid.fine_lines and grid.both_axes) or dpi is None or dpi < _TRUSTED_MIN_DPI:
        return None
    ratio = grid.small_box_px / (dpi / 25.4)
    if abs(ratio - 1.0) <= _DPI_DISAGREEMENT:
        return None
    if not grid.fine_lines:
        seen = f"a coarse period of {5 * grid.small_box_px:.0f} px was found but no 1 mm lines"
    else:
        seen = f"a period of {grid.small_box_px:.2f} px was found along one axis only"
    return (
        f"{seen}, and it disagrees with the image's {dpi:g} dpi ({dpi / 25.4:.2f} px/mm): it is "
        "more likely evenly spaced beats or rows, or the paper's texture, than a grid"
    )


def reconcile_grid(grid: GridMeasurement, dpi: float | None) -> GridMeasurement:
    """``grid``, or "no grid" (the reason in ``notes``) when it is weak evidence that
    disagrees with a believable ``dpi`` (see :func:`calibrate`): for the stages that look for
    marks at the grid's scale before the calibration is decided (the pulse, the trace maps)."""
    why = _weak_grid_against_dpi(grid, dpi) if grid.found else None
    if why is None:
        return grid
    return replace(grid, px_per_mm_x=0.0, px_per_mm_y=0.0, found=False, small_box_px=0.0, notes=why)


def calibrate(
    grid: GridMeasurement,
    pulse: PulseMeasurement | None,
    settings: DigitizeSettings,
    dpi: float | None,
    trace_ink: np.ndarray | None = None,
) -> tuple[Calibration, list[str]]:
    """Decide px/mm (user override > grid > dpi > default) and the gain (the user's, else a
    clear pulse's standard height, else 10 mm/mV: :func:`pulse_gain`), with warnings
    explaining fallbacks, a gain read from the pulse and any disagreement between the pulse
    height and the scale times the gain. ``trace_ink`` (the traced ink, same coordinates as
    the pulse): a pulse sets the gain only where it stands on a traced row (see
    :func:`pulse_on_trace`)."""
    warnings: list[str] = []
    use_dpi = dpi if dpi is not None and dpi > 0 else settings.dpi  # the file's, else the user's
    rejected = _weak_grid_against_dpi(grid, use_dpi) if grid.found else None
    grid_ok = grid.found and grid.px_per_mm_x > 0 and grid.px_per_mm_y > 0 and not rejected
    speed = float(settings.paper_speed_mm_s)
    if settings.px_per_mm is not None and settings.px_per_mm > 0:
        pxx = pxy = float(settings.px_per_mm)
        source = "user"
    elif grid_ok:
        pxx, pxy = float(grid.px_per_mm_x), float(grid.px_per_mm_y)
        source = "grid"
    else:
        if rejected:
            warnings.append(rejected)
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
    pulse_mm = None if pulse is None else pulse.height_px / pxy
    on_trace = pulse is not None and (
        trace_ink is None or pulse_on_trace(trace_ink, pulse, min(pxx, pxy))
    )
    gain, note = _decide_gain(pulse, pulse_mm, settings.gain_mm_mv, on_trace)
    if note:
        warnings.append(note)
    cal = Calibration(
        px_per_mm_x=pxx,
        px_per_mm_y=pxy,
        paper_speed_mm_s=speed,
        gain_mm_mv=gain,
        source=source,
        grid_found=bool(grid_ok),
        pulse_found=pulse is not None,
        pulse_height_mm=pulse_mm,
    )
    return cal, warnings


def pulse_gain(pulse: PulseMeasurement | None, pulse_mm: float | None) -> float | None:
    """The standard gain (5, 10 or 20 mm/mV) a clearly measured 1 mV pulse states: its height
    in mm within :data:`_PULSE_TOLERANCE` of one of them; None for no pulse, one not clearly
    a pulse (a half pulse, a letter, a grid square) or a height between the standards."""
    if pulse is None or not pulse.clear or not pulse_mm or pulse_mm <= 0:
        return None
    for g in STANDARD_GAINS_MM_MV:
        if abs(pulse_mm / g - 1.0) <= _PULSE_TOLERANCE:
            return g
    return None


def _decide_gain(
    pulse: PulseMeasurement | None,
    pulse_mm: float | None,
    user_gain: float | None,
    may_set: bool = True,
) -> tuple[float, str | None]:
    """(gain, note): the user's gain when given, else the pulse's when it ``may_set`` it
    (said in the note when it is not the default), else :data:`DEFAULT_GAIN_MM_MV`; the
    note warns when a clear pulse disagrees with the gain used."""
    auto = pulse_gain(pulse, pulse_mm) if user_gain is None and may_set else None
    if auto is not None:
        if auto == DEFAULT_GAIN_MM_MV:
            return auto, None
        return auto, (
            f"gain {auto:g} mm/mV read from the {pulse_mm:.1f} mm calibration pulse "
            f"(not {DEFAULT_GAIN_MM_MV:g}); set the gain by hand if that is wrong"
        )
    gain = float(user_gain) if user_gain is not None else DEFAULT_GAIN_MM_MV
    off = abs(pulse_mm / gain - 1.0) if pulse is not None and pulse_mm else 0.0
    if pulse is not None and pulse.clear and off > _PULSE_TOLERANCE:
        return gain, (
            f"calibration pulse is {pulse_mm:.1f} mm high but the gain is {gain:g} mm/mV "
            f"({off * 100:.0f}% off): check the gain setting or scale"
        )
    return gain, None


def pulse_on_trace(trace_ink: np.ndarray, p: PulseMeasurement, px_per_mm: float) -> bool:
    """Whether the pulse stands on a traced row: traced ink within 1.5 pulse heights of its
    foot in at least half of the columns 0.2-40 mm to its left or to its right (the row's
    trace after a pulse at its start, before one at its end; its waves may rise far above
    the foot at 20 mm/mV). A square of grid lines at the sheet's edge (phone photos) has a
    top bar and two strokes too, but no trace beside it."""
    h, w = trace_ink.shape
    near, far = max(1, round(0.2 * px_per_mm)), max(16, round(40 * px_per_mm))
    dy = round(1.5 * max(p.height_px, 5 * px_per_mm))
    rows = slice(max(0, p.y_bottom - dy), min(h, p.y_bottom + dy + 1))
    for a, b in ((p.x0 - far, p.x0 - near), (p.x1 + near, p.x1 + far)):
        a, b = max(0, a), min(w, b)
        if b - a >= 0.25 * (far - near) and trace_ink[rows, a:b].any(axis=0).mean() >= 0.5:
            return True
    return False
