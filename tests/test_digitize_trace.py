"""Trace extraction on synthetic binary images whose true curve is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.digitize.resample import page_points, point_spacing
from ecgviewer.digitize.trace import column_runs, path_baseline, path_to_lead, trace_path
from ecgviewer.io.signals import read_wfdb
from ecgviewer.paper import Calibration
from ecgviewer.scoring import score_lead

CAL = Calibration(
    px_per_mm_x=8.0, px_per_mm_y=8.0, paper_speed_mm_s=25.0, gain_mm_mv=10.0, source="user"
)


def draw_curve(img: np.ndarray, ys: np.ndarray, thick: int = 2) -> None:
    """Draw y(x) (one value per column) as a connected polyline of ``thick`` px."""
    for x in range(len(ys)):
        y_prev = ys[x - 1] if x > 0 else ys[x]
        lo, hi = sorted((round(y_prev), round(ys[x])))
        img[lo : hi + thick, x] = True


def test_column_runs_lists_every_run():
    band = np.zeros((10, 3), bool)
    band[1:3, 0] = True
    band[6:9, 0] = True
    band[4, 2] = True
    top, bot, ptr = column_runs(band)
    assert ptr.tolist() == [0, 2, 2, 3]
    assert top.tolist() == [1, 6, 4]
    assert bot.tolist() == [2, 8, 4]


class TestTracePath:
    def test_follows_a_sine_and_ignores_a_label(self):
        w = 400
        x = np.arange(w)
        ys = 60 + 15 * np.sin(x / 20.0)
        img = np.zeros((120, w), bool)
        draw_curve(img, ys)
        img[5:25, 100:130] = True  # a text label above the trace, not connected to it
        path = trace_path(img, 0, w, 0, 120, baseline_y=60, scale_px=50)
        y_at = np.interp(x, path.x_px, path.y_px)
        # the 2 px line's centre is 0.5 px below the curve
        assert np.max(np.abs(y_at - (ys + 0.5))) < 2.0
        assert path.frac_traced > 0.97

    def test_reaches_the_tip_of_a_thin_spike(self):
        w = 200
        ys = np.full(w, 80.0)
        ys[100:104] = [60, 30, 10, 45]  # a 70 px QRS spike 4 columns wide
        img = np.zeros((120, w), bool)
        draw_curve(img, ys, thick=1)
        path = trace_path(img, 0, w, 0, 120, baseline_y=80, scale_px=50, bridge_px=3)
        assert path.y_px.min() <= 12

    def test_bridges_dashes_of_a_broken_stroke(self):
        w = 200
        ys = np.full(w, 80.0)
        ys[100:103] = [40, 5, 70]
        img = np.zeros((120, w), bool)
        draw_curve(img, ys, thick=1)
        img[20:24, :] = False  # scanner dropout across the stroke
        img[50:53, :] = False
        path = trace_path(img, 0, w, 0, 120, baseline_y=80, scale_px=50, bridge_px=6)
        assert path.y_px.min() <= 8

    def test_gap_is_bridged_and_masked(self):
        w = 300
        ys = np.full(w, 50.0)
        img = np.zeros((100, w), bool)
        draw_curve(img, ys)
        img[:, 140:160] = False
        path = trace_path(img, 0, w, 0, 100, baseline_y=50, scale_px=40)
        assert not path.traced_cols[140:160].any()
        assert path.traced_cols[:140].all() and path.traced_cols[160:].all()
        lead = path_to_lead(path, "II", 50.5, CAL, fs_hz=500.0, x_origin=0.0)
        t_gap = (np.arange(lead.signal_mv.size) / 500.0) * CAL.px_per_s
        inside = (t_gap > 142) & (t_gap < 158)
        assert not lead.valid_mask[inside].any()
        assert np.all(np.isfinite(lead.signal_mv))

    def test_keeps_to_its_row_when_a_neighbour_reaches_in(self):
        w = 300
        img = np.zeros((200, w), bool)
        own = np.full(w, 60.0)
        draw_curve(img, own)
        other = np.full(w, 140.0)
        other[150:153] = [100, 70, 120]  # the neighbour's tall R wave reaches towards row 1
        draw_curve(img, other)
        path = trace_path(img, 0, w, 0, 125, baseline_y=60, scale_px=40)
        assert np.all(np.abs(path.y_px - 60.5) < 2)

    def test_empty_band_gives_an_empty_path(self):
        path = trace_path(np.zeros((50, 80), bool), 0, 80, 0, 50, 25, 20)
        assert path.x_px.size == 0 and path.frac_traced == 0.0
        lead = path_to_lead(path, "I", 25, CAL, 500.0, 0.0)
        assert lead.quality == 0.0 and not lead.valid_mask.any()


class TestPathToLead:
    def test_units_length_and_start(self):
        w = 400  # 400 px at 200 px/s = 2 s
        ys = np.full(w, 100.0)
        ys[200:] = 20.0  # 80 px up = 1 mV at 80 px/mV
        img = np.zeros((150, w), bool)
        draw_curve(img, ys)
        path = trace_path(img, 0, w, 0, 150, baseline_y=100, scale_px=60)
        lead = path_to_lead(path, "II", 100.5, CAL, fs_hz=250.0, x_origin=-100.0)
        assert lead.signal_mv.shape == lead.valid_mask.shape == (500,)
        assert lead.start_s == pytest.approx(0.5)
        assert lead.duration_s == pytest.approx(2.0)
        assert np.median(lead.signal_mv[:200]) == pytest.approx(0.0, abs=0.02)
        assert np.median(lead.signal_mv[300:]) == pytest.approx(1.0, abs=0.02)
        assert lead.trace_x_px.size == lead.trace_y_px.size > 0

    def test_baseline_is_the_most_common_row(self):
        w = 300
        ys = np.full(w, 70.0)
        ys[50:60] = 30.0
        ys[150:165] = 90.0
        img = np.zeros((120, w), bool)
        draw_curve(img, ys)
        path = trace_path(img, 0, w, 0, 120, baseline_y=60, scale_px=50)
        assert path_baseline(path) == pytest.approx(70.5, abs=1.0)


class TestThickLines:
    """Anti-aliased thick lines (as printed and scanned): the centre line, not the ink's edge."""

    @staticmethod
    def _page(xs: np.ndarray, ys: np.ndarray, width_px: float, shape=(160, 200)):
        from ecgviewer.render.draw import polyline_mask

        dark = polyline_mask(shape, [np.column_stack([xs, ys])], width_px, 4)
        return dark, dark > 0.15

    def test_narrow_spike_keeps_its_height_and_width(self):
        # a 3 px line: a 100 px R wave over 6 columns, on a flat baseline
        xs = np.array([0.0, 80.0, 83.3, 86.1, 89.4, 200.0])
        ys = np.array([130.0, 130.0, 30.0, 135.0, 130.0, 130.0])
        dark, binary = self._page(xs, ys, 3.0)
        path = trace_path(binary, 0, 200, 0, 160, 130, 60, bridge_px=2, darkness=dark)
        k = int(np.argmin(path.y_px))
        assert path.y_px[k] == pytest.approx(30.0, abs=1.0)
        assert path.x_px[k] == pytest.approx(83.3, abs=0.5)
        # along the strokes the traced line stays on the true one (sub-pixel)
        grid = np.arange(78.0, 92.0, 0.1)
        err = np.interp(grid, path.x_px, path.y_px) - np.interp(grid, xs, ys)
        # (30 px per column: 0.1 px along x is 3 px in y; one point per column gave 12 px)
        assert np.sqrt(np.mean(err**2)) < 6.0

    def test_small_sharp_peak_keeps_its_height(self):
        # a 4 px P-wave-like corner under a 2.5 px line: the column centre at the corner is
        # pulled towards the arms (1 px low); the pen's cap is half a line width inside the top
        xs = np.array([0.0, 60.0, 63.0, 66.0, 140.0])
        ys = np.array([80.0, 80.0, 76.0, 80.0, 80.0])
        dark, binary = self._page(xs, ys, 2.5, shape=(160, 140))
        path = trace_path(binary, 0, 140, 0, 160, 80, 60, darkness=dark)
        assert path.y_px.min() == pytest.approx(76.0, abs=0.5)

    def test_flat_line_centre_is_sub_pixel(self):
        xs = np.array([0.0, 200.0])
        ys = np.array([70.3, 70.3])
        dark, binary = self._page(xs, ys, 2.4)
        path = trace_path(binary, 0, 200, 0, 160, 70, 60, darkness=dark)
        assert np.median(path.y_px) == pytest.approx(70.3, abs=0.15)


class TestSparsePoints:
    """Pages drawn from samples at a low rate (ECGtizer PDFs: 125 Hz, 1.6 px apart at 200 dpi):
    the straight segments between the points cut every QRS peak; the raster route finds the
    points from the tips and rebuilds the record band-limited, as the vector route does."""

    PX_PER_MM = 200 / 25.4
    CAL200 = Calibration(
        px_per_mm_x=PX_PER_MM,
        px_per_mm_y=PX_PER_MM,
        paper_speed_mm_s=25.0,
        gain_mm_mv=10.0,
        source="user",
    )

    def _draw(self, signal_mv: np.ndarray, fs_points_hz: float, height_px: int = 400):
        """A 10 mm/mV, 25 mm/s page of ``signal_mv`` drawn as a polyline through the points
        (a 0.24 mm line, anti-aliased, round joins): darkness, ink and the 0 mV row."""
        from ecgviewer.render.draw import polyline_mask

        base = height_px / 2.0
        x = 20.0 + np.arange(signal_mv.size) / fs_points_hz * self.CAL200.px_per_s
        y = base - signal_mv * self.CAL200.px_per_mv
        w = int(x[-1]) + 20
        dark = polyline_mask((height_px, w), [np.column_stack([x, y])], 1.9, 4)
        return dark, dark > 0.3, base

    def _read(self, dark, binary, base, points: bool):
        h, w = binary.shape
        path = trace_path(binary, 0, w, 0, h, base, 150, bridge_px=3, darkness=dark)
        grid = page_points([(path.x_px, path.y_px)], self.CAL200.px_per_s, self.PX_PER_MM)
        lead = path_to_lead(
            path, "V2", base, self.CAL200, 500.0, 20.0, points=grid if points else None
        )
        return lead, grid

    @staticmethod
    def _snr(truth: np.ndarray, lead) -> float:
        est = np.full(truth.size, np.nan)
        i0 = round(lead.start_s * 500.0)
        n = min(truth.size - i0, lead.signal_mv.size)
        est[i0 : i0 + n] = lead.signal_mv[:n]
        return score_lead(truth, est, 500.0).snr_db

    def test_a_real_record_drawn_at_125_hz_is_rebuilt(self, ptbxl_dir):
        record = read_wfdb(ptbxl_dir / "records500" / "00000" / "00009_hr.hea")
        truth = record.signal_mv[:, list(record.lead_names).index("V2")][:5000]
        dark, binary, base = self._draw(truth[::4], 125.0)  # every 4th sample: 125 Hz
        plain, _ = self._read(dark, binary, base, points=False)
        rebuilt, grid = self._read(dark, binary, base, points=True)
        assert grid is not None
        assert grid.spacing_px == pytest.approx(self.CAL200.px_per_s / 125.0)
        # the straight segments score ~18 dB against the record, the rebuild ~3 dB more
        assert self._snr(truth, rebuilt) >= self._snr(truth, plain) + 2.0
        assert self._snr(truth, rebuilt) >= 20.0

    def test_a_record_drawn_at_its_own_rate_is_left_alone(self, ptbxl_dir):
        record = read_wfdb(ptbxl_dir / "records500" / "00000" / "00009_hr.hea")
        truth = record.signal_mv[:, list(record.lead_names).index("V2")][:5000]
        dark, binary, base = self._draw(truth, 500.0)  # 0.4 px apart: nothing to rebuild
        _, grid = self._read(dark, binary, base, points=True)
        assert grid is None

    def test_spacing_needs_tips_on_a_regular_grid(self):
        rng = np.random.default_rng(0)
        px_per_s = self.CAL200.px_per_s
        on_grid = 37.3 + rng.integers(0, 1200, 40) * (px_per_s / 125.0)
        assert point_spacing(on_grid + rng.normal(0, 0.06, 40), px_per_s) == pytest.approx(
            px_per_s / 125.0
        )
        assert point_spacing(rng.uniform(0, 1900, 40), px_per_s) is None
        assert point_spacing(on_grid[:5], px_per_s) is None  # too few to tell


class TestBoxEdges:
    """Where two columns of a page adjoin (ECGtizer draws the next lead from the same x), the
    ink at the box edge joins this lead to its neighbour: not part of this lead's signal."""

    CAL200 = TestSparsePoints.CAL200

    def _page(self, ptbxl_dir, neighbour: bool):
        from ecgviewer.render.draw import polyline_mask

        record = read_wfdb(ptbxl_dir / "records500" / "00000" / "00009_hr.hea")
        names = list(record.lead_names)
        own = record.signal_mv[:1250:4, names.index("AVL")]  # 2.5 s at 125 Hz
        nxt = record.signal_mv[1250:2500:4, names.index("V2")]
        px_s, px_mv = self.CAL200.px_per_s, self.CAL200.px_per_mv
        xa = 20.0 + np.arange(own.size) / 125.0 * px_s
        lines = [np.column_stack([xa, 150.0 - (own - own[0]) * px_mv])]
        if neighbour:  # the next lead starts a point before this one ends, 0.4 mV higher,
            # and its first stroke crosses this lead's level (it starts in a QRS)
            xb = xa[-1] - px_s / 125.0 + np.arange(nxt.size) / 125.0 * px_s
            yb = 150.0 - (nxt - nxt[1] - 0.25) * px_mv
            yb[0] = 150.0 - (own[-1] - own[0] + 0.4) * px_mv
            lines.append(np.column_stack([xb, yb]))
        dark = polyline_mask((300, 1100), lines, 1.9, 4)
        return dark, own - own[0], round(xa[-1])

    def _end_error_mv(self, ptbxl_dir, neighbour: bool) -> float:
        dark, own, x_end = self._page(ptbxl_dir, neighbour)
        path = trace_path(dark > 0.3, 20, x_end, 0, 300, 150.0, 100, bridge_px=3, darkness=dark)
        lead = path_to_lead(path, "aVL", 150.0, self.CAL200, 500.0, 20.0)
        return float(np.max(np.abs(lead.signal_mv[-8:] - own[-1])))

    def test_a_neighbours_start_is_not_this_leads_end(self, ptbxl_dir):
        assert self._end_error_mv(ptbxl_dir, neighbour=False) < 0.03
        assert self._end_error_mv(ptbxl_dir, neighbour=True) < 0.05  # 0.3 mV without the rule

    def test_a_steep_end_without_a_neighbour_is_kept(self):
        w = 120
        xs = np.array([0.0, 100.0, 103.0])
        ys = np.array([40.0, 40.0, 100.0])  # the row ends in a QRS stroke going down
        from ecgviewer.render.draw import polyline_mask

        dark = polyline_mask((140, w), [np.column_stack([xs, ys])], 1.9, 4)
        path = trace_path(dark > 0.3, 0, 104, 0, 140, 40.0, 60, bridge_px=3, darkness=dark)
        assert path.y_px.max() > 80  # 68 when every steep edge column was dropped
