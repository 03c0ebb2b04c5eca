"""The gain from a clearly measured calibration pulse (issues 18 and 20: honour the page's gain).

With no gain given (``DigitizeSettings.gain_mm_mv is None``, the default of the CLI and the
app), a pulse that is clearly a 1 mV rectangle and 5, 10 or 20 mm high (within 15 %) sets the
gain; otherwise it is 10 mm/mV as before. A gain the user gives always wins. Pages printed at
20 or 5 mm/mV used to come out 2x too large or too small.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pytest

from ecgviewer.digitize.calibration import (
    PulseMeasurement,
    calibrate,
    find_calibration_pulse,
    pulse_gain,
    pulse_on_trace,
)
from ecgviewer.digitize.grid import GridMeasurement
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.errors import SettingsError

GRID = GridMeasurement(8.0, 8.0, True, 0.5, 8.0)


def _pulse(height_mm: float, clear: bool = True, ppm: float = 8.0) -> PulseMeasurement:
    h = height_mm * ppm
    return PulseMeasurement(h, height_mm, 10, 50, 100, int(100 + h), clear)


class TestDecision:
    @pytest.mark.parametrize("height, gain", [(20.4, 20.0), (10.2, 10.0), (4.6, 5.0)])
    def test_a_clear_pulse_of_a_standard_height_sets_the_gain(self, height, gain):
        cal, warnings = calibrate(GRID, _pulse(height), DigitizeSettings(), dpi=None)
        assert cal.gain_mm_mv == gain and cal.pulse_height_mm == pytest.approx(height)
        # a gain other than the default is said, with the pulse that says so
        assert [w for w in warnings if "read from the" in w] == (
            [] if gain == 10.0 else [w for w in warnings if f"gain {gain:g} mm/mV" in w]
        )
        assert len(warnings) == (0 if gain == 10.0 else 1)

    def test_the_users_gain_wins_and_is_warned_about(self):
        cal, warnings = calibrate(GRID, _pulse(20.0), DigitizeSettings(gain_mm_mv=10.0), dpi=None)
        assert cal.gain_mm_mv == 10.0
        assert len(warnings) == 1 and "check the gain" in warnings[0]

    @pytest.mark.parametrize(
        "pulse",
        [
            None,
            _pulse(20.0, clear=False),  # strokes of a grid square or a letter, no top bar
            _pulse(14.0),  # between the standards: 40 % off 10 (warned), not a gain
            _pulse(24.0),  # 20 % over 20 mm
        ],
    )
    def test_otherwise_ten(self, pulse):
        cal, warnings = calibrate(GRID, pulse, DigitizeSettings(), dpi=None)
        assert cal.gain_mm_mv == 10.0
        clear_off = pulse is not None and pulse.clear
        assert len(warnings) == int(clear_off)
        assert all("check the gain" in w for w in warnings)

    def test_pulse_gain_tolerance(self):
        assert pulse_gain(_pulse(17.1), 17.1) == 20.0  # 14.5 % short of 20
        assert pulse_gain(_pulse(16.9), 16.9) is None  # 15.5 %
        assert pulse_gain(_pulse(11.4), 11.4) == 10.0
        assert pulse_gain(replace(_pulse(10.0), clear=False), 10.0) is None
        assert pulse_gain(None, None) is None


class TestOnTrace:
    """Only a pulse standing on a traced row sets the gain."""

    @staticmethod
    def _square(trace: bool) -> tuple[np.ndarray, np.ndarray]:
        """A 20 mm rectangle at 8 px/mm (all ink) and the traced ink: a baseline leaving its
        foot 3 mm to the right for 40 mm, or nothing (grid lines at a sheet's edge)."""
        ink = np.zeros((400, 700), bool)
        ink[100:262, 40:42] = ink[100:262, 80:82] = True
        ink[100:102, 40:82] = True
        traced = np.zeros_like(ink)
        if trace:
            traced[259:262, 106:426] = True
        return ink | traced, traced

    @pytest.mark.parametrize("trace", [True, False])
    def test_the_trace_beside_the_foot_decides(self, trace):
        ink, traced = self._square(trace)
        pulse = find_calibration_pulse(ink, 8.0)
        assert pulse is not None and pulse.clear and pulse.height_mm == pytest.approx(20, 0.05)
        assert pulse_on_trace(traced, pulse, 8.0) == trace
        cal, warnings = calibrate(GRID, pulse, DigitizeSettings(), None, traced)
        assert cal.gain_mm_mv == (20.0 if trace else 10.0)
        # off the trace, it is still a clear pulse that disagrees with 10 mm/mV: warned
        said = "read from the" if trace else "check the gain"
        assert len(warnings) == 1 and said in warnings[0]

    @pytest.mark.data
    def test_a_grid_square_at_a_photos_edge_does_not_set_the_gain(self, scans_dir):
        """ecg00035 (a phone photo of a 10 mm/mV sheet): the pulse finder takes a 5.4 mm
        square of the sheet's edge and grid lines at its top left for a clear pulse; it set
        5 mm/mV (amplitudes 2x too large) until the pulse had to stand on a trace."""
        from ecgviewer.digitize import digitize

        dig = digitize(scans_dir / "ecg00035.jpg")
        assert dig.calibration.pulse_height_mm == pytest.approx(5.4, abs=0.5)
        assert dig.calibration.gain_mm_mv == 10.0


class TestSettings:
    def test_automatic_by_default_and_numbers_still_accepted(self):
        assert DigitizeSettings().gain_mm_mv is None
        assert DigitizeSettings(gain_mm_mv=20).gain_mm_mv == 20
        with pytest.raises(SettingsError):
            DigitizeSettings(gain_mm_mv=0.0)
        with pytest.raises(SettingsError):
            DigitizeSettings(gain_mm_mv=float("nan"))

    def test_cli_gain_option(self):
        from ecgviewer.commands.options import add_paper_arguments, paper_settings

        parser = argparse.ArgumentParser()
        add_paper_arguments(parser)
        assert paper_settings(parser.parse_args([])).gain_mm_mv is None
        assert paper_settings(parser.parse_args(["--gain", "auto"])).gain_mm_mv is None
        assert paper_settings(parser.parse_args(["--gain", "20"])).gain_mm_mv == 20.0
        with pytest.raises(SystemExit):
            parser.parse_args(["--gain", "7"])

    def test_session_keeps_automatic_gain(self, tmp_path):
        from ecgviewer.session import Session, image_ref, load_session, save_session

        image = tmp_path / "page.png"
        image.write_bytes(b"not read")
        for gain in (None, 20.0):
            s = Session(image=image_ref(image), settings=DigitizeSettings(gain_mm_mv=gain))
            path = save_session(s, tmp_path / f"s{gain}.json")
            assert load_session(path).settings.gain_mm_mv == gain


def _amplitude_ratio(truth, est, score) -> float:
    """Median over leads of the least-squares slope of the estimate against the truth on the
    aligned overlap (1 = the right amplitude; 2 or 0.5 = a gain read wrongly)."""
    from ecgviewer.scoring import resample_to

    slopes = []
    names = {n.lower(): i for i, n in enumerate(est.lead_names)}
    for j, name in enumerate(truth.lead_names):
        s = score.lead(name)
        col = names.get(name.lower(), 0 if est.signal_mv.shape[1] == 1 else None)
        if s.missing or col is None:
            continue
        e = resample_to(est.signal_mv[:, col], est.fs_hz, truth.fs_hz, truth.signal_mv.shape[0])
        k = round(s.shift_s * truth.fs_hz)
        e = np.roll(e, k)
        e[:k] = np.nan if k > 0 else e[:k]
        r = truth.signal_mv[:, j]
        ok = np.isfinite(r) & np.isfinite(e)
        if ok.sum() > 100:
            rc, ec = r[ok] - r[ok].mean(), e[ok] - e[ok].mean()
            slopes.append(float(rc @ ec / (rc @ rc)))
    return float(np.median(slopes))


def _read(record, layout: str, page_gain: float, given: float | None):
    from ecgviewer.digitize import digitization_to_record, digitize
    from ecgviewer.render import RenderStyle, render_ecg
    from ecgviewer.scoring import score_digitization

    style = RenderStyle(layout=layout, row_seconds=10.0, gain_mm_mv=page_gain)  # type: ignore[arg-type]
    page = render_ecg(record, style, seed=3)
    dig = digitize(page.image_rgb, DigitizeSettings(dpi=style.dpi, gain_mm_mv=given))
    est = digitization_to_record(dig, fs_hz=record.fs_hz)
    return dig, _amplitude_ratio(page.truth, est, score_digitization(page.truth, est))


@pytest.mark.data
class TestRealRecords:
    def test_ptbxl_page_at_20_mm_per_mv(self, ptbxl_dir):
        """PTB-XL record 305 printed 3x4+1 at 20 mm/mV, read with no gain given: the pulse
        sets 20 mm/mV and the amplitudes match the true signals (was 2x too large)."""
        from ecgviewer.io.signals import read_wfdb

        rec = read_wfdb(ptbxl_dir / "records500" / "00000" / "00305_hr")
        dig, ratio = _read(rec, "3x4+1", 20.0, None)
        assert dig.calibration.gain_mm_mv == 20.0 and dig.status == "ok"
        assert any("gain 20 mm/mV read from the" in w for w in dig.warnings)
        assert ratio == pytest.approx(1.0, abs=0.05)
        # told 10 mm/mV, the user's gain is kept: 2x too large, and warned
        dig10, ratio10 = _read(rec, "3x4+1", 20.0, 10.0)
        assert dig10.calibration.gain_mm_mv == 10.0 and ratio10 == pytest.approx(2.0, rel=0.1)
        assert any("check the gain" in w for w in dig10.warnings)

    def test_ptbxl_page_at_10_mm_per_mv_is_unchanged(self, ptbxl_dir):
        """At the standard gain, automatic reads exactly what 10 mm/mV given reads."""
        from ecgviewer.io.signals import read_wfdb

        rec = read_wfdb(ptbxl_dir / "records500" / "00000" / "00305_hr")
        auto, ratio = _read(rec, "3x4+1", 10.0, None)
        given, _ = _read(rec, "3x4+1", 10.0, 10.0)
        assert auto.calibration.gain_mm_mv == 10.0 and ratio == pytest.approx(1.0, abs=0.05)
        assert not any("read from the" in w for w in auto.warnings)
        assert len(auto.leads) == len(given.leads)
        for a, b in zip(auto.leads, given.leads):
            assert a.name == b.name and np.array_equal(a.signal_mv, b.signal_mv)

    def test_cinc_strip_at_5_mm_per_mv(self, cinc_dir):
        """A CinC 2017 strip printed at 5 mm/mV: the pulse sets 5 mm/mV (was half size)."""
        from ecgviewer.io.signals import read_wfdb

        name = (cinc_dir / "RECORDS").read_text().split()[-20]
        dig, ratio = _read(read_wfdb(cinc_dir / f"{name}.hea"), "single", 5.0, None)
        assert dig.calibration.gain_mm_mv == 5.0
        assert ratio == pytest.approx(1.0, abs=0.05)
