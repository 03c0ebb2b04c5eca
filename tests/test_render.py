"""The renderer's ground truth must be exact: traces where the truth says, grid at dpi/25.4 px/mm."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ecgviewer.io.signals import Record, read_wfdb
from ecgviewer.render import (
    DISTORTION_PRESETS,
    GRID_PRESETS,
    LAYOUTS,
    Distortions,
    RenderStyle,
    random_style,
    render_ecg,
)
from ecgviewer.render.draw import line_coverage_1d


@pytest.fixture(scope="module")
def ptbxl_record(ptbxl_dir):
    return read_wfdb(ptbxl_dir / "records500" / "00000" / "00010_hr.hea")


@pytest.fixture(scope="module")
def cinc_record(cinc_dir):
    return read_wfdb(cinc_dir / "A00005.hea")


def _darkness(image: np.ndarray) -> np.ndarray:
    """High where ink is dark in every channel (trace), low on white paper and coloured grid."""
    return 255.0 - image.max(axis=2).astype(np.float64)


def _trace_errors_px(page, box_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel column of one lead box: distance (px) from the detected trace centroid to the
    range of y the truth covers in that column, and a flag for flat columns."""
    box = page.layout.boxes[box_index]
    cal = page.calibration
    fs = page.truth.fs_hz
    lead = page.truth.lead(box.name)
    style = page.style
    t0 = page.box_times_s[box_index][0]
    dark = _darkness(page.image_rgb)
    half_w = style.trace_width_mm * cal.px_per_mm_x / 2
    idx = np.flatnonzero(np.isfinite(lead))
    t = idx / fs
    in_seg = (t >= t0 - 1e-9) & (t < t0 + (box.x1 - box.x0) / cal.px_per_s + 1e-9)
    x = box.x0 + (t[in_seg] - t0) * cal.px_per_s  # box.x0 is rounded: within 0.5 px
    y = box.baseline_y - lead[idx[in_seg]] * cal.px_per_mv
    errors, flat = [], []
    skip = int(10 * cal.px_per_mm_x)  # lead label and separator at the start of the box
    for col in range(box.x0 + skip, box.x1 - int(cal.px_per_mm_x)):
        near = np.abs(x - col) <= half_w + 1.0
        if near.sum() < 1:
            continue
        y_lo, y_hi = y[near].min(), y[near].max()
        rows = np.arange(box.y0, box.y1)
        d = dark[box.y0 : box.y1, col]
        ink = d > 0.5 * d.max() if d.max() > 100 else np.zeros_like(d, bool)
        if not ink.any():
            errors.append(np.inf)
            flat.append(False)
            continue
        yc = float(np.sum(rows[ink] * d[ink]) / np.sum(d[ink]))
        errors.append(max(y_lo - yc, yc - y_hi, 0.0))
        flat.append(y_hi - y_lo < 0.5)
    return np.asarray(errors), np.asarray(flat)


class TestGeometry:
    def test_trace_pixels_map_back_to_truth_within_one_pixel(self, ptbxl_record):
        style = RenderStyle(layout="3x4+1", dpi=200, grid="red", gain_mm_mv=10)
        page = render_ecg(ptbxl_record, style)
        # one box per column and the rhythm strip
        for k in (0, 4, 7, 11, 12):
            errors, flat = _trace_errors_px(page, k)
            assert errors.size > 100
            assert np.mean(errors <= 1.0) > 0.99, (k, np.sort(errors)[-5:])
            assert np.median(errors[flat]) < 0.5

    def test_truth_value_matches_signal_where_not_clipped(self, ptbxl_record):
        page = render_ecg(ptbxl_record, RenderStyle(layout="12x1", gain_mm_mv=5))
        truth = page.truth.signal_mv
        src = np.column_stack([ptbxl_record.signal_mv[:, i] for i in range(12)])
        ok = np.isfinite(truth)
        assert page.clipped_fraction == 0.0
        np.testing.assert_allclose(truth[ok], src[ok], atol=1e-9)

    @pytest.mark.parametrize("dpi", [100, 200, 300])
    def test_grid_pitch_is_dpi_over_25_4(self, dpi):
        flat = Record(np.zeros((2500, 1)), 250.0, ("II",))
        style = RenderStyle(layout="single", dpi=dpi, grid="grey", calibration_pulse=False,
                            lead_labels=False, trace_width_mm=0.1,
                            grid_major_width_mm=0.4)
        page = render_ecg(flat, style)
        cal = page.calibration
        expected = dpi / 25.4
        assert cal.px_per_mm_x == pytest.approx(expected)
        ink = 255.0 - page.image_rgb[..., 1].astype(float)
        box = page.layout.boxes[0]
        for profile in (ink[box.y0 : box.y0 + 5 * int(expected)].mean(axis=0),
                        ink[:, box.x0 - int(8 * expected) : box.x0 - int(2 * expected)].mean(axis=1)):
            # (the y profile is taken left of the trace, where the pulse would be)
            peaks = np.flatnonzero((profile[1:-1] > profile[:-2]) & (profile[1:-1] >= profile[2:])
                                   & (profile[1:-1] > 0.6 * profile.max())) + 1
            # sub-pixel centroid of each line, then a straight-line fit: pitch = slope
            cents = np.array([np.sum(np.arange(p - 2, p + 3) * profile[p - 2 : p + 3])
                              / np.sum(profile[p - 2 : p + 3]) for p in peaks])
            spacing = np.diff(cents)
            assert np.all(np.abs(spacing - 5 * expected) < 1.0), spacing  # major: every 5 mm
            slope = np.polyfit(np.arange(cents.size), cents, 1)[0]
            assert slope / 5 == pytest.approx(expected, abs=0.01)
            # minor lines every mm between the majors: more ink on the line than between lines
            on = [profile[round(c + k * expected)] for c in cents[:-1] for k in range(1, 5)]
            off = [profile[round(c + (k + 0.5) * expected)] for c in cents[:-1]
                   for k in range(1, 4)]
            assert np.median(on) > np.median(off) + 2

    def test_line_coverage_is_exact_area(self):
        cov = line_coverage_1d(20, np.array([5.25]), 1.5)
        assert cov.sum() == pytest.approx(1.5)
        assert np.argmax(cov) == 5


class TestLayouts:
    @pytest.mark.parametrize("layout", [lay for lay in LAYOUTS if lay != "single"])
    def test_twelve_lead_layouts(self, ptbxl_record, layout):
        page = render_ecg(ptbxl_record, RenderStyle(layout=layout, dpi=100))
        n_boxes = {"3x4": 12, "3x4+1": 13, "3x4+3": 15, "6x2": 12, "12x1": 12}[layout]
        assert len(page.layout.boxes) == n_boxes
        assert page.truth.lead_names[:3] == ("I", "II", "III")
        assert page.image_rgb.dtype == np.uint8 and page.image_rgb.shape == (827, 1169, 3)
        covered = np.isfinite(page.truth.signal_mv).mean(axis=0)
        if layout.startswith("3x4"):
            assert covered[0] == pytest.approx(0.25)
            assert covered[1] == pytest.approx(1.0 if "+" in layout else 0.25)
        elif layout == "6x2":
            assert covered[0] == pytest.approx(0.5)
        else:
            assert np.all(covered == 1.0)
        for b in page.layout.boxes:
            assert 0 <= b.x0 < b.x1 <= page.image_rgb.shape[1]
            assert b.y0 < b.baseline_y < b.y1

    def test_standard_3x4_lead_order_and_timing(self, ptbxl_record):
        page = render_ecg(ptbxl_record, RenderStyle(layout="3x4"))
        names = [[b.name for b in page.layout.boxes if b.row == r] for r in range(3)]
        assert names == [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"],
                         ["III", "aVF", "V3", "V6"]]
        fs = page.truth.fs_hz
        v1 = np.flatnonzero(np.isfinite(page.truth.lead("V1")))
        assert (v1[0] / fs, (v1[-1] + 1) / fs) == (pytest.approx(5.0), pytest.approx(7.5))

    def test_fifty_mm_per_second_shows_five_seconds(self, ptbxl_record):
        page = render_ecg(ptbxl_record, RenderStyle(layout="3x4+1", paper_speed_mm_s=50))
        assert np.isfinite(page.truth.lead("II")).sum() == 5 * 500

    def test_single_lead_rows(self, cinc_record):
        page = render_ecg(cinc_record, RenderStyle(layout="single", row_seconds=10))
        n_rows = int(np.ceil(cinc_record.duration_s / 10))
        assert len(page.layout.boxes) == n_rows
        assert page.truth.lead_names == ("ECG",)
        assert np.isfinite(page.truth.signal_mv).all()
        assert page.layout.rhythm_lead == "ECG"

    def test_long_record_is_cut_where_the_page_ends(self):
        rec = Record(np.sin(np.arange(300 * 90) / 50.0)[:, None], 300.0, ("ECG",))
        page = render_ecg(rec, RenderStyle(layout="single", gain_mm_mv=20, row_seconds=10))
        shown = np.isfinite(page.truth.signal_mv[:, 0])
        assert 0 < shown.sum() < shown.size
        assert shown.sum() == len(page.layout.boxes) * 10 * 300

    def test_needs_twelve_leads_for_multi_lead_layout(self, cinc_record):
        from ecgviewer.errors import SignalFormatError

        with pytest.raises(SignalFormatError):
            render_ecg(cinc_record, RenderStyle(layout="3x4"))

    def test_clipping_at_page_edge_is_in_truth(self):
        sig = np.zeros((2500, 1))
        sig[1000:1010] = 60.0  # 60 mV: far off the page at 20 mm/mV
        page = render_ecg(Record(sig, 250.0, ("ECG",)), RenderStyle(layout="single", gain_mm_mv=20))
        assert page.clipped_fraction > 0
        top_mv = (page.layout.boxes[0].baseline_y - 0.0) / page.calibration.px_per_mv
        assert np.nanmax(page.truth.signal_mv) == pytest.approx(top_mv)

    def test_nan_samples_are_not_plotted(self, ptbxl_record):
        sig = ptbxl_record.signal_mv.copy()
        sig[100:200, 1] = np.nan
        rec = Record(sig, ptbxl_record.fs_hz, ptbxl_record.lead_names)
        page = render_ecg(rec, RenderStyle(layout="3x4+1", dpi=100))
        assert np.isnan(page.truth.lead("II")[100:200]).all()


class TestStyles:
    @pytest.mark.parametrize("grid", sorted(GRID_PRESETS))
    def test_grid_presets_render(self, cinc_record, grid):
        page = render_ecg(cinc_record, RenderStyle(layout="single", dpi=100, grid=grid))
        img = page.image_rgb
        if grid == "none":
            assert (img.min(axis=2) > 250).mean() > 0.9  # mostly white paper
        else:
            # the grid's ink (not white, not trace) points in this preset's colour direction
            px = img.reshape(-1, 3).astype(float)
            gridlike = (px.min(axis=1) < 240) & (px.max(axis=1) > 150)
            ink = (255.0 - px[gridlike]).mean(axis=0)
            presets = {k: 255.0 - np.asarray(v.minor) for k, v in GRID_PRESETS.items() if v}
            cos = {k: ink @ v / np.linalg.norm(ink) / np.linalg.norm(v) for k, v in presets.items()}
            assert max(cos, key=cos.get) == grid

    def test_style_variants_render(self, ptbxl_record):
        variants = [
            RenderStyle(dpi=100, grid_dotted=True, tinted_paper=True, trace_colour="dark_blue"),
            RenderStyle(dpi=100, paper="letter", gain_mm_mv=20, calibration_pulse=False,
                        lead_labels=False, separators=False),
            RenderStyle(dpi=100, gain_mm_mv=5, header_lines=("a", "b", "c"),
                        label_position="below"),
            RenderStyle(dpi=400, layout="3x4", grid="none"),
        ]
        for style in variants:
            page = render_ecg(ptbxl_record, style)
            w_mm = 279.4 if style.paper == "letter" else 297.0
            assert page.image_rgb.shape[1] == round(w_mm * style.dpi / 25.4)

    def test_random_styles_render(self, ptbxl_record):
        rng = np.random.default_rng(3)
        for _ in range(3):
            style, dist = random_style(rng)
            style = replace(style, dpi=min(style.dpi, 150.0))  # keep the test fast
            page = render_ecg(ptbxl_record, style, seed=1, distortions=dist)
            assert np.isfinite(page.truth.signal_mv).any()


class TestDistortions:
    def test_same_seed_same_image(self, cinc_record):
        style = RenderStyle(layout="single", dpi=100)
        dist = DISTORTION_PRESETS["distorted"]
        a = render_ecg(cinc_record, style, seed=7, distortions=dist).image_rgb
        b = render_ecg(cinc_record, style, seed=7, distortions=dist).image_rgb
        c = render_ecg(cinc_record, style, seed=8, distortions=dist).image_rgb
        np.testing.assert_array_equal(a, b)
        assert np.abs(a.astype(int) - c.astype(int)).mean() > 1.0

    def test_each_distortion_changes_the_image(self, cinc_record):
        style = RenderStyle(layout="single", dpi=100)
        clean = render_ecg(cinc_record, style).image_rgb.astype(int)
        for d in (Distortions(rotation_deg=2), Distortions(blur_sigma_px=1.5),
                  Distortions(noise_std=10), Distortions(jpeg_quality=30),
                  Distortions(lighting_strength=0.5), Distortions(greyscale=True)):
            img = render_ecg(cinc_record, style, distortions=d).image_rgb
            assert img.shape == clean.shape
            assert np.abs(img.astype(int) - clean).mean() > 0.1, d
        grey = render_ecg(cinc_record, style, distortions=Distortions(greyscale=True)).image_rgb
        assert (grey[..., 0] == grey[..., 2]).all()


class TestRenderCommand:
    def test_writes_png_truth_and_sidecar(self, cinc_dir, tmp_path):
        from ecgviewer.cli import main

        rc = main(["render", str(cinc_dir / "A00005.hea"), "-o", str(tmp_path), "--dpi", "100",
                   "--distort", "distorted", "--seed", "3"])
        assert rc == 0
        assert (tmp_path / "A00005.png").stat().st_size > 10_000
        truth = read_wfdb(tmp_path / "A00005_truth.hea")
        side = json.loads((tmp_path / "A00005_truth.json").read_text())
        assert side["calibration"]["px_per_mm_x"] == pytest.approx(100 / 25.4)
        assert side["layout"]["name"] == "single"
        assert side["layout"]["boxes"][1]["t0_s"] == pytest.approx(10.0)
        page = render_ecg(read_wfdb(cinc_dir / "A00005.hea"),
                          RenderStyle(layout="single", dpi=100))
        np.testing.assert_allclose(truth.signal_mv, page.truth.signal_mv, atol=6e-4)

    def test_bad_input_does_not_stop_the_batch(self, cinc_dir, tmp_path):
        from ecgviewer.cli import main

        rc = main(["render", str(tmp_path / "nope.hea"), str(cinc_dir / "A00005.hea"),
                   "-o", str(tmp_path), "--dpi", "100"])
        assert rc == 1
        assert (tmp_path / "A00005.png").exists() and (tmp_path / "A00005_truth.hea").exists()
