"""A segment's start is its own line, not the printed marks there (issue 20).

Printed lead labels stand just after a 12-lead segment's start, a few pixels above the line.
The gap closing that joins a steep stroke's dashes joined a label's letter to the line, and
the path followed the letter: on ecg00044 (a 72 dpi scan) aVR's first 0.1 s rose to the top
of the "a" of "aVR" (+0.25 mV) where the printed line runs from the lead change's dip
(-0.16 mV) up to +0.03 mV under the label. On ecg00034 the "R" of "aVR" was traced as a
0.33 mV bump 0.13 s in; the line under the label is at 0.04-0.13 mV. Rhythm strips start
after their calibration pulse and label (ecg00047). A "V" standing on the line, its vertex
merged with it (ecg00039's "V5", ecg00034's "V2"), was traced as a 0.26-0.37 mV bump.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ecgviewer.digitize import digitize
from ecgviewer.digitize.separators import floating_marks
from ecgviewer.digitize.trace import trace_path

PX_PER_MM = 4.0  # synthetic bands: a 72 dpi scan's scale (2.8 px/mm) to 100 dpi


def _band_with_label() -> np.ndarray:
    """A 3 px line at rows 40-42 across 200 columns, an "a"-like blob 4 rows above it at the
    start (rows 27-35, columns 12-19), and a QRS 30 px tall at columns 100-106 whose
    strokes are broken into dashes."""
    band = np.zeros((80, 200), bool)
    band[40:43, :] = True
    band[27:36, 12:20] = True
    band[29:34, 14:18] = False  # the letter's bowl
    for i, y in enumerate(range(40, 10, -1)):
        if y % 5 == 0:
            continue  # dashes
        off = 3.0 * (1.0 - i / 30)
        band[y, int(103 - off) : int(103 - off) + 2] = True
        band[y, int(103 + off) : int(103 + off) + 2] = True
    return band


def test_a_letter_above_the_line_is_a_floating_mark_and_a_dashed_wave_is_not():
    band = _band_with_label()
    marks = floating_marks(band, 3.0, PX_PER_MM)
    assert marks[27:36, 12:20].sum() == band[27:36, 12:20].sum()
    assert not marks[:, 90:].any()
    assert not marks[40:43].any()  # the line stays


def test_the_path_runs_under_a_label_not_through_it():
    band = _band_with_label()
    path = trace_path(band, 0, 200, 0, 80, 41.0, 40.0, bridge_px=6, darkness=band.astype(float))
    under = (path.x_px >= 10) & (path.x_px < 22)
    assert under.any()
    assert np.abs(path.y_px[under] - 41.0).max() <= 1.5
    band[27:36, 12:20] = False  # the same page without the label: the QRS is traced alike
    alone = trace_path(band, 0, 200, 0, 80, 41.0, 40.0, bridge_px=6, darkness=band.astype(float))
    qrs, qrs_alone = path.x_px >= 90, alone.x_px >= 90
    assert path.y_px[qrs].min() <= 22.0
    np.testing.assert_allclose(path.y_px[qrs], alone.y_px[qrs_alone])


def _band_with_seated_v() -> np.ndarray:
    """A 3 px line at rows 40-42; a "V" 14 rows tall (columns 9-20, 3 mm) whose vertex merges with
    the line's top, as ecg00034's "V1" and ecg00039's "V5" stand on theirs; a P wave (an arc
    5 rows high, columns 24-35) and a QRS whose strokes cross the line (columns 38-45, rows
    30-70), all within the first 12 mm."""
    band = np.zeros((80, 200), bool)
    band[40:43, :] = True
    for i, y in enumerate(range(26, 41)):
        band[y, 9 + i // 3 : 11 + i // 3] = True  # left arm down to the vertex (col 14)
        band[y, 19 - i // 3 : 21 - i // 3] = True
    for x in range(24, 36):
        band[40 - int(5 * np.sin(np.pi * (x - 24) / 11)) : 41, x] = True  # the P arc's ink
    for y in range(30, 71):
        band[y, 38 + (y - 30) // 14 : 40 + (y - 30) // 14] = True  # down-stroke
        band[y, 44 - (y - 30) // 14 : 46 - (y - 30) // 14] = True  # up-stroke
    return band


def test_a_letter_standing_on_the_line_is_a_mark_and_waves_are_not():
    band = _band_with_seated_v()
    marks = floating_marks(band, 3.0, PX_PER_MM)
    assert marks[26:36, 9:21].sum() == band[26:36, 9:21].sum()  # the V above the line's rows
    assert not marks[38:44].any()  # the line (and the V's foot on it) stays
    assert not marks[:, 23:].any()  # the P wave and the QRS stay


@functools.lru_cache(maxsize=None)
def _leads(path) -> dict:
    dig = digitize(path)
    return {(ld.name, ld.duration_s > 5.0): ld for ld in dig.leads}


def _window(lead, t0: float, t1: float) -> np.ndarray:
    return lead.signal_mv[int(t0 * lead.fs_hz) : int(t1 * lead.fs_hz)]


def _scan(scans_dir, name):
    path = scans_dir / name
    if not path.exists():
        pytest.skip(f"{path} missing")
    return _leads(path)


def test_ecg00044_avr_starts_on_its_line_not_on_the_label(scans_dir):
    avr = _scan(scans_dir, "ecg00044.jpg")[("aVR", False)]
    start = _window(avr, 0.0, 0.1)
    assert start.max() <= 0.1  # the "a" reaches +0.25 mV, the line +0.03 mV
    assert start.min() >= -0.25  # the lead change's dip: -0.16 mV


def test_ecg00034_avr_under_its_label_is_the_line(scans_dir):
    avr = _scan(scans_dir, "ecg00034.jpg")[("aVR", False)]
    assert _window(avr, 0.1, 0.25).max() <= 0.18  # the "R" reached 0.33 mV, the line 0.13


def test_ecg00047_rhythm_strip_starts_after_its_pulse(scans_dir):
    strip = _scan(scans_dir, "ecg00047.jpg")[("II", True)]
    traced = strip.trace_x_px[np.isfinite(strip.trace_y_px)]
    assert traced.min() > 106  # the pulse's falling edge is at columns 103-105
    start = _window(strip, 0.0, 0.35)  # before its first QRS (0.4 s)
    assert start.min() >= -0.3 and start.max() <= 0.3  # a flat line after the pulse


def test_ecg00039_v5_starts_on_its_line_not_on_the_v_standing_on_it(scans_dir):
    v5 = _scan(scans_dir, "ecg00039.jpg")[("V5", False)]
    start = _window(v5, 0.0, 0.1)  # the line: -0.05 to -0.08 mV; the "V" reached +0.26 mV
    assert start.max() <= 0.1
    assert _window(v5, 0.1, 0.2).min() <= -0.2  # the dip that follows (-0.24 mV) stays


def test_ecg00034_v2_starts_on_its_line_not_on_the_v_standing_on_it(scans_dir):
    v2 = _scan(scans_dir, "ecg00034.jpg")[("V2", False)]
    assert _window(v2, 0.0, 0.1).max() <= 0.18  # the line 0.07-0.10 mV, the "V" 0.37 mV


def test_ecg00048_v6_keeps_the_r_wave_printed_through_its_label(scans_dir):
    v6 = _scan(scans_dir, "ecg00048.jpg")[("V6", False)]
    assert _window(v6, 0.1, 0.2).max() >= 0.8  # a thin 1 mV R spike runs up through "V6"
