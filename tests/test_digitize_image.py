"""Image stage of digitisation: darkness map, binarisation, rotation, perspective, grid, pulse,
calibration. Ground truth comes from the renderer (exact px/mm, exact trace pixels from a
grid-free twin render) and from rotating real scans by known angles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from ecgviewer.digitize.binarize import BinarizeResult, binarize
from ecgviewer.digitize.calibration import (
    DEFAULT_PX_PER_MM,
    PulseMeasurement,
    calibrate,
    find_calibration_pulse,
)
from ecgviewer.digitize.geometry import correct_perspective, estimate_rotation_deg, rotate_image
from ecgviewer.digitize.grid import GridMeasurement, measure_grid
from ecgviewer.digitize.preprocess import trace_darkness
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.io.images import load_image
from ecgviewer.io.signals import Record
from ecgviewer.paper import STANDARD_LEADS
from ecgviewer.render import Distortions, RenderStyle, render_ecg

DISTORTED = Distortions(blur_sigma_px=1.0, noise_std=8.0, jpeg_quality=60, lighting_strength=0.35)


def synthetic_record(seed: int = 0, fs_hz: float = 500.0, duration_s: float = 10.0) -> Record:
    """A 12-lead ECG-like record (Gaussian P, QRS, T waves) without any data files."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs_hz * duration_s)) / fs_hz
    beats = np.arange(0.3, duration_s, 0.8)
    sig = np.zeros((t.size, 12))
    for i in range(12):
        r = rng.uniform(-1.0, 1.5)
        for b in beats:
            sig[:, i] += 0.15 * np.exp(-(((t - b + 0.18) / 0.025) ** 2))
            sig[:, i] += r * np.exp(-(((t - b) / 0.012) ** 2))
            sig[:, i] -= 0.3 * r * np.exp(-(((t - b - 0.03) / 0.01) ** 2))
            sig[:, i] += 0.3 * np.exp(-(((t - b - 0.3) / 0.05) ** 2))
    return Record(sig, fs_hz, STANDARD_LEADS, "synthetic")


def render(seed: int = 1, distortions: Distortions | None = None, **style):
    return render_ecg(
        synthetic_record(seed), RenderStyle(**style), seed=seed, distortions=distortions
    )


@pytest.fixture(scope="module")
def red_page():
    return render(grid="red", dpi=200)


@pytest.fixture(scope="module")
def ink_masks():
    """(ink, near-ink) masks of the grid-free twin of ``red_page``/distorted renders."""
    ref = render(grid="none", dpi=200).image_rgb.min(axis=2)
    ink = ref < 110
    near = ndimage.binary_dilation(ref < 230, iterations=1)
    return ink, near


class TestTraceDarkness:
    def test_range_dtype_and_shape(self, red_page):
        d = trace_darkness(red_page.image_rgb)
        assert d.dtype == np.float32 and d.shape == red_page.image_rgb.shape[:2]
        assert 0.0 <= d.min() and d.max() <= 1.0

    def test_accepts_grey_and_rgba(self):
        grey = np.full((60, 80), 255, np.uint8)
        grey[30, 10:70] = 0
        assert trace_darkness(grey)[30, 40] > 0.8
        rgba = np.dstack([np.repeat(grey[:, :, None], 3, axis=2), np.full_like(grey, 255)])
        assert np.allclose(trace_darkness(rgba), trace_darkness(grey))

    @pytest.mark.parametrize("grid", ["red", "green", "blue", "grey"])
    def test_grid_is_much_lighter_than_trace(self, grid, ink_masks):
        ink, near = ink_masks
        d = trace_darkness(render(grid=grid, dpi=200).image_rgb)
        assert np.median(d[ink]) > 0.6
        assert np.quantile(d[~near], 0.999) < 0.15


class TestBinarize:
    @pytest.mark.parametrize("distortions", [None, DISTORTED], ids=["clean", "distorted"])
    @pytest.mark.parametrize("grid", ["red", "grey"])
    def test_keeps_trace_drops_grid(self, grid, distortions, ink_masks):
        ink, near = ink_masks
        page = render(grid=grid, dpi=200, distortions=distortions).image_rgb
        ref = render(grid="none", dpi=200, distortions=distortions).image_rgb
        grid_px = (np.abs(page.astype(int) - ref.astype(int)).max(axis=2) > 40) & ~near
        assert grid_px.sum() > 10_000  # the grid really is there
        res = binarize(trace_darkness(page))
        recall = (res.binary & ink).sum() / ink.sum()
        assert recall >= 0.9
        assert (res.binary & grid_px).sum() / grid_px.sum() < 0.01

    def test_methods_and_manual_threshold(self, red_page):
        d = trace_darkness(red_page.image_rgb)
        for method in ("auto", "otsu", "modified_otsu", "adaptive"):
            res = binarize(d, method)
            assert isinstance(res, BinarizeResult) and res.method == method
            assert res.binary.dtype == bool and res.binary.shape == d.shape
            assert 0.0 < res.threshold < 1.0
            assert 0.001 < res.binary.mean() < 0.2
        manual = binarize(d, "manual", threshold=0.7)
        assert manual.threshold == 0.7
        assert np.array_equal(manual.binary, d > 0.7)
        assert binarize(d, "manual", 0.3).binary.sum() > manual.binary.sum()

    def test_unknown_method(self, red_page):
        with pytest.raises(ValueError, match="unknown binarisation method"):
            binarize(np.zeros((10, 10), np.float32), "magic")


class TestGrid:
    @pytest.mark.parametrize(
        "style",
        [
            {"grid": "red", "dpi": 200},
            {"grid": "green", "dpi": 100},
            {"grid": "blue", "dpi": 300},
            {"grid": "grey", "dpi": 150, "tinted_paper": True},
            {"grid": "pink", "dpi": 120, "grid_dotted": True},
        ],
        ids=lambda s: f"{s['grid']}-{s['dpi']}",
    )
    def test_pitch_within_3_percent(self, style):
        page = render(**style)
        truth = page.calibration.px_per_mm_x
        g = measure_grid(page.image_rgb)
        assert g.found and g.confidence > 0.1
        assert g.px_per_mm_x == pytest.approx(truth, rel=0.03)
        assert g.px_per_mm_y == pytest.approx(truth, rel=0.03)
        assert g.small_box_px == pytest.approx(truth, rel=0.03)

    def test_distorted_page(self):
        page = render(grid="red", dpi=200, distortions=DISTORTED)
        g = measure_grid(page.image_rgb)
        assert g.px_per_mm_x == pytest.approx(page.calibration.px_per_mm_x, rel=0.03)

    def test_no_grid_on_blank_or_gridless_page(self):
        assert not measure_grid(np.full((400, 600, 3), 255, np.uint8)).found
        rng = np.random.default_rng(0)
        noise = rng.integers(200, 256, (400, 600, 3)).astype(np.uint8)
        assert not measure_grid(noise).found
        # the trace's own beat-to-beat rhythm must not pass for a grid
        for dpi in (100, 200):
            assert not measure_grid(render(grid="none", dpi=dpi).image_rgb).found

    def test_real_scan_grid_agrees_with_its_pulse(self, scans_dir):
        """On a real scan the grid and the 1 mV pulse (10 mm at 10 mm/mV) are independent
        rulers: the pulse height in grid millimetres must be 10 within 5 %."""
        rgb = load_image(scans_dir / "ecg00009.jpeg").rgb
        g = measure_grid(rgb)
        assert g.found
        pulse = find_calibration_pulse(binarize(trace_darkness(rgb)).binary, g.px_per_mm_y)
        assert pulse is not None
        assert pulse.height_px / g.px_per_mm_y == pytest.approx(10.0, rel=0.05)


class TestRotation:
    @pytest.mark.parametrize("angle_deg", [-4.0, -1.3, 0.7, 2.5, 7.0])
    def test_recovers_known_rotation_of_real_scan(self, scans_dir, angle_deg):
        rgb = load_image(scans_dir / "ecg00023.jpg").rgb
        base = estimate_rotation_deg(rgb)
        assert abs(base) < 0.3  # a straight scan
        est = estimate_rotation_deg(rotate_image(rgb, angle_deg))
        assert est - base == pytest.approx(-angle_deg, abs=0.3)

    def test_straightens_rendered_page(self):
        page = render(grid="red", dpi=100, distortions=Distortions(rotation_deg=2.0))
        angle = estimate_rotation_deg(page.image_rgb)
        straight = rotate_image(page.image_rgb, angle)
        assert abs(estimate_rotation_deg(straight)) < 0.3
        assert abs(abs(angle) - 2.0) < 0.3

    def test_rotate_image_keeps_size_and_fills_white(self):
        img = np.zeros((50, 80, 3), np.uint8)
        out = rotate_image(img, 30.0)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert (out[0, 0] == 255).all()
        assert np.array_equal(rotate_image(img, 0.0), img)


class TestPerspective:
    def test_clean_scan_is_left_alone(self, red_page):
        out, changed = correct_perspective(red_page.image_rgb)
        assert not changed
        assert np.array_equal(out, red_page.image_rgb)


class TestPulse:
    @pytest.mark.parametrize("gain", [5.0, 10.0, 20.0])
    def test_pulse_found_and_measured(self, gain):
        page = render(grid="red", dpi=150, gain_mm_mv=gain)
        ppm = page.calibration.px_per_mm_y
        pulse = find_calibration_pulse(binarize(trace_darkness(page.image_rgb)).binary, ppm)
        assert isinstance(pulse, PulseMeasurement)
        assert pulse.height_mm == pytest.approx(gain, rel=0.05)
        assert pulse.x0 < page.image_rgb.shape[1] * 0.2

    def test_no_pulse_on_blank(self):
        assert find_calibration_pulse(np.zeros((300, 500), bool), 8.0) is None

    def test_no_pulse_without_one(self):
        page = render(grid="red", dpi=150, calibration_pulse=False)
        binary = binarize(trace_darkness(page.image_rgb)).binary
        pulse = find_calibration_pulse(binary, page.calibration.px_per_mm_y)
        assert pulse is None


class TestCalibrate:
    grid = GridMeasurement(8.0, 8.1, True, 0.5, 8.05)
    no_grid = GridMeasurement(0.0, 0.0, False, 0.0, 0.0, "no periodic grid")

    def test_grid_scale_and_settings(self):
        settings = DigitizeSettings(paper_speed_mm_s=50.0, gain_mm_mv=20.0)
        cal, warnings = calibrate(self.grid, None, settings, dpi=300)
        assert (cal.px_per_mm_x, cal.px_per_mm_y, cal.source) == (8.0, 8.1, "grid")
        assert cal.px_per_s == 400.0 and cal.px_per_mv == pytest.approx(162.0)
        assert cal.grid_found and not cal.pulse_found and warnings == []

    def test_coarse_period_against_a_believable_dpi_is_not_a_grid(self):
        """A grid-less 100 dpi page: evenly spaced beats give a 5 mm-like period of 76 px."""
        beats = replace(self.grid, px_per_mm_x=15.3, px_per_mm_y=16.1, small_box_px=15.7)
        coarse = replace(beats, fine_lines=False)
        cal, warnings = calibrate(coarse, None, DigitizeSettings(), dpi=100)
        assert cal.source == "dpi" and cal.px_per_mm_x == pytest.approx(100 / 25.4)
        assert not cal.grid_found and any("coarse period" in w for w in warnings)
        # with 1 mm lines it is a grid; with a camera's 72 dpi the resolution means nothing
        assert calibrate(beats, None, DigitizeSettings(), dpi=100)[0].source == "grid"
        assert calibrate(coarse, None, DigitizeSettings(), dpi=72)[0].source == "grid"
        # a coarse period that agrees with the resolution is kept
        agree = replace(coarse, px_per_mm_x=4.0, px_per_mm_y=4.0, small_box_px=4.0)
        assert calibrate(agree, None, DigitizeSettings(), dpi=100)[0].source == "grid"

    def test_user_override_wins(self):
        cal, _ = calibrate(self.grid, None, DigitizeSettings(px_per_mm=5.0), dpi=300)
        assert (cal.px_per_mm_x, cal.px_per_mm_y, cal.source) == (5.0, 5.0, "user")

    def test_dpi_fallback_warns(self):
        cal, warnings = calibrate(self.no_grid, None, DigitizeSettings(), dpi=254)
        assert cal.source == "dpi" and cal.px_per_mm_x == pytest.approx(10.0)
        assert len(warnings) == 1 and "no ECG grid" in warnings[0]
        cal2, _ = calibrate(self.no_grid, None, DigitizeSettings(dpi=127), dpi=None)
        assert cal2.source == "dpi" and cal2.px_per_mm_y == pytest.approx(5.0)

    def test_default_fallback_warns(self):
        cal, warnings = calibrate(self.no_grid, None, DigitizeSettings(), dpi=None)
        assert cal.source == "default" and cal.px_per_mm_x == DEFAULT_PX_PER_MM
        assert len(warnings) == 1 and "set the scale" in warnings[0]

    def test_pulse_cross_check(self):
        good = PulseMeasurement(81.0, 10.0, 0, 40, 100, 181)  # 81 px / 8.1 px/mm = 10 mm
        cal, warnings = calibrate(self.grid, good, DigitizeSettings(), dpi=None)
        assert cal.pulse_found and cal.pulse_height_mm == pytest.approx(10.0)
        assert warnings == []
        # the same pulse read with a 20 mm/mV gain setting disagrees by 50 %
        _, warnings = calibrate(self.grid, good, DigitizeSettings(gain_mm_mv=20.0), dpi=None)
        assert len(warnings) == 1 and "pulse" in warnings[0]
        # 16 % off at 10 mm/mV: just beyond the 15 % tolerance
        off = PulseMeasurement(81.0 * 1.16, 11.6, 0, 40, 100, 194)
        _, warnings = calibrate(self.grid, off, DigitizeSettings(), dpi=None)
        assert len(warnings) == 1
        # a height not clearly the pulse's (half a pulse, a letter) is no reason to doubt the gain
        unclear = replace(off, clear=False)
        assert calibrate(self.grid, unclear, DigitizeSettings(), dpi=None)[1] == []

    def test_only_a_whole_pulse_is_clear(self):
        """A rectangle with its top bar is clear; the same strokes broken at a grid line (ink
        carrying on below the measured bottom) or without a top bar are not."""
        ppm = 8.0
        page = np.zeros((400, 600), bool)
        page[100:182, 40:42] = page[100:182, 80:82] = True  # strokes, 10 mm
        page[100:102, 40:82] = True  # the top bar
        page[180:182, 10:42] = page[180:182, 80:140] = True  # the baseline either side
        pulse = find_calibration_pulse(page, ppm)
        assert pulse is not None and pulse.clear
        broken = page.copy()
        broken[140:148, :] = False  # a grid line removed with the ink under it
        half = find_calibration_pulse(broken, ppm)
        assert half is not None and half.height_mm == pytest.approx(5, abs=0.7)
        assert not half.clear
        no_top = page.copy()
        no_top[100:102, 43:79] = False
        assert not find_calibration_pulse(no_top, ppm).clear


class TestPerspectivePhoto:
    def test_sheet_on_dark_background_is_rectified(self):
        """A rendered page warped by a known homography onto a dark table: the sheet is found
        (corners within 1.5 % of the frame) and the rectified grid is square again."""
        from skimage.transform import ProjectiveTransform, warp

        from ecgviewer.digitize.geometry import _homography, find_sheet_corners

        page = render(grid="red", dpi=100).image_rgb
        h, w = page.shape[:2]
        big_h, big_w = int(h * 1.5), int(w * 1.4)
        corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
        quad = np.array([[0.12, 0.15], [0.9, 0.08], [0.95, 0.92], [0.08, 0.85]]) * [big_w, big_h]
        to_page = ProjectiveTransform(matrix=_homography(quad, corners))
        photo = warp(page, to_page, output_shape=(big_h, big_w), cval=0.25, preserve_range=True)
        photo = photo.astype(np.uint8)
        found = find_sheet_corners(photo)
        assert found is not None
        assert np.abs(found - quad).max() < 0.015 * big_w
        before = measure_grid(photo)
        out, changed = correct_perspective(photo)
        assert changed
        g = measure_grid(out)
        assert g.found
        assert g.px_per_mm_x == pytest.approx(g.px_per_mm_y, rel=0.03)
        assert out.shape[1] / out.shape[0] == pytest.approx(w / h, rel=0.05)
        assert not before.found or abs(before.px_per_mm_x / before.px_per_mm_y - 1) > 0.03
