"""Self-checks of a finished digitisation (ecgviewer.digitize.checks): each check on constructed
results (a right one stays quiet, an impossible one is flagged), the status carried into the
JSON summary and the batch report, and real pages: a scan that is read wrong is flagged, a
clean scan and a clean render are not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgviewer.batch.report import BatchItemResult, BatchSummary
from ecgviewer.digitize import checks
from ecgviewer.digitize.types import CropBox, Digitization, Lead
from ecgviewer.paper import STANDARD_LEADS, Calibration, Layout, LeadBox

FS = 250.0
PX_PER_MM = 8.0  # about 200 dpi
CAL = Calibration(PX_PER_MM, PX_PER_MM, 25.0, 10.0, "grid", grid_found=True)
PAGE_HW = (1700, 2330)  # an A4 landscape page at 8 px/mm


def ecg(beat_times_s, duration_s, height_mv=1.2, polarity=1.0, fs=FS) -> np.ndarray:
    """An ECG-like signal: a QRS (R and S), a P and a T wave at each beat."""
    t = np.arange(int(duration_s * fs)) / fs
    x = np.zeros(t.size)
    for b in beat_times_s:
        x += polarity * height_mv * np.exp(-(((t - b) / 0.012) ** 2))
        x -= polarity * 0.3 * height_mv * np.exp(-(((t - b - 0.03) / 0.01) ** 2))
        x += 0.12 * np.exp(-(((t - b + 0.17) / 0.025) ** 2))
        x += 0.3 * np.exp(-(((t - b - 0.3) / 0.05) ** 2))
    return x + 0.005 * np.random.default_rng(0).standard_normal(t.size)


def beats(duration_s, seed=0, mean_rr_s=0.85) -> np.ndarray:
    """Beat times with a natural spread of RR intervals."""
    rr = np.random.default_rng(seed).normal(mean_rr_s, 0.06, int(duration_s / 0.5))
    return np.cumsum(rr)[np.cumsum(rr) < duration_s - 0.2]


def lead(signal_mv, name="II", valid=None, rows_xy=None) -> Lead:
    valid = np.ones(signal_mv.size, bool) if valid is None else valid
    xs, ys = rows_xy if rows_xy is not None else (np.zeros(0), np.zeros(0))
    return Lead(name, signal_mv, FS, 0.0, valid, 0.9, xs, ys)


def digitization(layout, leads, shape_hw=PAGE_HW, calibration=CAL, quality=0.9) -> Digitization:
    h, w = shape_hw
    return Digitization(
        image_rgb=np.zeros((h, w, 3), np.uint8),
        binary=np.zeros((1, 1), bool),
        crop=CropBox(0, 0, w, h),
        rotation_deg=0.0,
        calibration=calibration,
        layout=layout,
        leads=tuple(leads),
        quality=quality,
    )


def strip(rows_mv: list[np.ndarray], pitch_mm=40.0, x0=200, x0s=None) -> Digitization:
    """A single-lead strip: one row per signal (joined in time), traced paths on the page."""
    px_per_s = CAL.px_per_s
    boxes, xs, ys = [], [], []
    for k, v in enumerate(rows_mv):
        start = x0 if x0s is None else x0s[k]
        y = 150 + k * pitch_mm * PX_PER_MM
        cols = start + np.arange(v.size) * px_per_s / FS
        xs.append(cols)
        ys.append(y - v * CAL.px_per_mv)
        boxes.append(LeadBox("ECG", start, int(cols[-1]), int(y - 80), int(y + 80), y, k, 0))
    joined = np.concatenate(rows_mv)
    ld = lead(joined, "ECG", rows_xy=(np.concatenate(xs), np.concatenate(ys)))
    return digitization(Layout("single", tuple(boxes), "ECG"), [ld])


def twelve_lead_page(strip_signals: list[np.ndarray], name="3x4+3") -> Digitization:
    """A 3x4 grid of 2.5 s leads plus full-width rhythm strips."""
    t_beats = beats(10.0, seed=3)
    boxes, leads = [], []
    grid = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
    for r, names in enumerate(grid):
        for c, nm in enumerate(names):
            x0 = 100 + c * 500
            boxes.append(LeadBox(nm, x0, x0 + 500, r * 300, r * 300 + 300, r * 300 + 150, r, c))
            t = t_beats[(t_beats >= 2.5 * c) & (t_beats < 2.5 * c + 2.5)] - 2.5 * c
            # the leads of a page differ: heights and polarity change from lead to lead
            sig = ecg(t, 2.5, 0.4 + 0.3 * ((r + c) % 4), 1.0 if (r * 4 + c) % 3 else -1.0)
            leads.append(lead(sig, nm))
    for k, sig in enumerate(strip_signals):
        r = 3 + k
        boxes.append(LeadBox("II", 100, 2100, r * 300, r * 300 + 300, r * 300 + 150, r, 0))
        leads.append(lead(sig, "II"))
    return digitization(Layout(name, tuple(boxes), "II"), leads)


# ------------------------------------------------------------------ constructed inputs


class TestSingleLeadDuration:
    def test_a_long_strip_in_many_close_rows_is_flagged(self):
        rows = [ecg(beats(7.5, seed=k), 7.5) for k in range(21)]  # 157 s in 21 rows, 5 mm apart
        dig = strip(rows, pitch_mm=5.0)
        (reason,) = checks.check_single_lead_duration(dig)
        assert "158 s single lead in 21 rows" in reason
        assert checks.check_row_pitch(dig) and "grid lines" in checks.check_row_pitch(dig)[0]

    def test_a_30_s_strip_in_three_rows_passes(self):
        dig = strip([ecg(beats(10.0, seed=k), 10.0) for k in range(3)])
        assert checks.check_single_lead_duration(dig) == []
        assert checks.check_row_pitch(dig) == []

    def test_the_page_size_comes_from_the_calibration(self):
        dig = strip([ecg(beats(10.0), 10.0)])
        w_mm, h_mm = checks.page_size_mm(dig)
        assert w_mm == pytest.approx(PAGE_HW[1] / PX_PER_MM)
        assert h_mm == pytest.approx(PAGE_HW[0] / PX_PER_MM)


class TestRowLengths:
    def test_a_short_last_row_of_a_strip_is_normal(self):
        dig = strip([ecg(beats(10.0), 10.0), ecg(beats(10.0, 1), 10.0), ecg(beats(3.0), 3.0)])
        assert checks.check_row_lengths(dig) == []

    def test_a_short_middle_row_or_shifted_start_is_flagged(self):
        rows = [ecg(beats(10.0), 10.0), ecg(beats(5.0, 1), 5.0), ecg(beats(10.0, 2), 10.0)]
        assert "different lengths" in checks.check_row_lengths(strip(rows))[0]
        rows = [ecg(beats(8.0), 8.0), ecg(beats(8.0, 1), 8.0), ecg(beats(8.0, 2), 8.0)]
        shifted = strip(rows, x0s=[600, 200, 200])
        assert any("start up to 50 mm apart" in r for r in checks.check_row_lengths(shifted))


class TestRowsInStep:
    def test_consecutive_rows_of_one_lead_pass(self):
        t = beats(30.0, seed=5)
        whole = ecg(t, 30.0)
        n = int(10 * FS)
        dig = strip([whole[:n], whole[n : 2 * n], whole[2 * n :]])
        assert checks.check_rows_in_step(dig) == []

    def test_simultaneous_rows_of_different_leads_are_flagged(self):
        t = beats(10.0, seed=6)  # the same beats in every row: recorded at the same time
        rows = [ecg(t, 10.0, h, p) for h, p in ((1.2, 1), (0.5, -1), (2.0, 1), (0.8, -1))]
        (reason,) = checks.check_rows_in_step(strip(rows))
        assert "line up" in reason and "12-lead" in reason


class TestStripsOneLead:
    def test_true_rhythm_strips_pass(self):
        t = beats(10.0, seed=7)
        dig = twelve_lead_page([ecg(t, 10.0, 1.0), ecg(t, 10.0, 1.5), ecg(t, 10.0, 0.8, -1)])
        assert checks.check_strips_one_lead(dig) == []

    def test_strips_that_change_lead_half_way_are_flagged(self):
        t = beats(10.0, seed=8)
        half = int(5 * FS)

        def two_leads(h1, p1, h2, p2):
            return np.concatenate([ecg(t, 10.0, h1, p1)[:half], ecg(t, 10.0, h2, p2)[half:]])

        dig = twelve_lead_page(
            [two_leads(0.6, -1, 1.5, 1), two_leads(0.4, 1, 1.8, 1), two_leads(1.0, 1, 1.1, -1)]
        )
        (reason,) = checks.check_strips_one_lead(dig)
        assert "half-way" in reason and "3x4+3" in reason


class TestLeadsDiffer:
    def test_a_12_lead_page_has_leads_of_different_shapes(self):
        page = twelve_lead_page([ecg(beats(10.0, seed=3), 10.0)], "3x4+1")
        assert checks.check_leads_differ(page) == []

    def test_one_lead_read_as_a_12_lead_page_is_flagged(self):
        page = twelve_lead_page([ecg(beats(10.0, seed=3), 10.0)], "3x4+1")
        one = ecg(beats(2.5, seed=4, mean_rr_s=0.6), 2.5)  # the same lead in every box
        same = [replace(ld, signal_mv=one) for ld in page.leads[:12]]
        (reason,) = checks.check_leads_differ(replace(page, leads=(*same, page.leads[12])))
        assert "same beat shape" in reason and "3x4+1" in reason


class TestTraceShape:
    def test_an_ecg_has_beats_and_no_steps(self):
        x = ecg(beats(10.0), 10.0)
        ld = lead(x)
        assert checks.step_rate_per_s(ld) == 0.0
        assert 9 <= checks.beat_times_s(ld).size <= 13
        dig = digitization(
            Layout("single", (LeadBox("II", 0, 2000, 0, 300, 150, 0, 0),), "II"), [ld]
        )
        assert checks.check_steps(dig) == checks.check_beats(dig) == []

    def test_a_staircase_is_flagged_as_steps(self):
        levels = np.repeat(np.random.default_rng(1).choice([0.0, 0.5, 1.0, 1.5], 20), int(FS / 2))
        ld = lead(levels + 0.01 * np.random.default_rng(2).standard_normal(levels.size), "ECG")
        assert checks.step_rate_per_s(ld) > checks.MAX_STEPS_PER_S
        dig = digitization(
            Layout("single", (LeadBox("ECG", 0, 2000, 0, 300, 150, 0, 0),), "ECG"), [ld]
        )
        assert "steps" in checks.check_steps(dig)[0]
        assert "heartbeat" in checks.check_beats(dig)[0]  # steps are not beats

    def test_a_flat_line_has_no_beats(self):
        flat = 0.01 * np.random.default_rng(3).standard_normal(int(10 * FS))
        dig = digitization(
            Layout("single", (LeadBox("ECG", 0, 2000, 0, 300, 150, 0, 0),), "ECG"),
            [lead(flat, "ECG")],
        )
        (reason,) = checks.check_beats(dig)
        assert reason.startswith("0 heartbeat")
        assert "1 of 1 leads are flat" in checks.check_flat_leads(dig)[0]

    def test_a_few_small_leads_are_normal(self):
        page = twelve_lead_page([ecg(beats(10.0), 10.0)], "3x4+1")
        small = [
            replace(ld, signal_mv=0.02 * ld.signal_mv) if k < 3 else ld
            for k, ld in enumerate(page.leads)
        ]
        assert checks.check_flat_leads(replace(page, leads=tuple(small))) == []
        flat = [replace(ld, signal_mv=0.02 * ld.signal_mv) for ld in page.leads]
        assert checks.check_flat_leads(replace(page, leads=tuple(flat)))

    def test_untraced_nan_stretches_are_bridged(self):
        x = ecg(beats(10.0), 10.0)
        x[500:700] = np.nan
        dig = digitization(
            Layout("single", (LeadBox("II", 0, 2000, 0, 300, 150, 0, 0),), "II"), [lead(x)]
        )
        assert checks.check_beats(dig) == checks.check_flat_leads(dig) == []
        assert checks.check_steps(dig) == []

    def test_a_few_large_ectopic_beats_do_not_hide_the_small_ones(self):
        t = beats(10.0, seed=4)
        x = ecg(t, 10.0, height_mv=0.15) + ecg(t[[3, 6]], 10.0, height_mv=2.5)
        assert checks.beat_times_s(lead(x)).size >= t.size - 2


class TestOtherChecks:
    def _page(self, **changes):
        x = ecg(beats(10.0), 10.0)
        dig = digitization(
            Layout("single", (LeadBox("II", 0, 2000, 0, 300, 150, 0, 0),), "II"), [lead(x)]
        )
        return replace(dig, **changes)

    def test_mostly_bridged_samples(self):
        x = ecg(beats(10.0), 10.0)
        valid = np.zeros(x.size, bool)
        valid[: x.size // 3] = True
        dig = self._page(leads=(lead(x, valid=valid),))
        assert "33% of the samples" in checks.check_valid_fraction(dig)[0]
        assert checks.check_valid_fraction(self._page()) == []

    def test_low_quality(self):
        assert checks.check_quality(self._page(quality=0.2))
        assert checks.check_quality(self._page()) == []
        page = twelve_lead_page([ecg(beats(10.0), 10.0)], "3x4+1")
        assert checks.check_quality(page) == []
        poor = (*page.leads[:-1], replace(page.leads[-1], quality=0.45))  # the II strip
        assert (
            "poorly traced strip(s): II (0.45)"
            in checks.check_quality(replace(page, leads=poor))[0]
        )

    def test_a_pulse_twice_the_expected_height(self):
        tall = replace(CAL, pulse_found=True, pulse_height_mm=20.2)
        assert "20.2 mm" in checks.check_pulse(self._page(calibration=tall))[0]
        right = replace(CAL, pulse_found=True, pulse_height_mm=10.1)
        assert checks.check_pulse(self._page(calibration=right)) == []

    def test_odd_results_do_not_stop_the_checks(self):
        box = LeadBox("II", 0, 5, 0, 10, 5, 0, 0)
        for x in (np.zeros(3), np.full(3000, 0.5), np.full(3000, np.nan)):
            ld = Lead(
                "II",
                x,
                FS,
                0.0,
                np.zeros(x.size, bool),
                0.0,
                np.array([3.0, 2.0]),
                np.array([1.0, 1.0]),
            )
            for name in ("single", "3x4+1"):
                reasons = checks.review_reasons(digitization(Layout(name, (box,), "II"), [ld]))
                assert not any("could not run" in r for r in reasons)

    def test_status_follows_the_reasons(self):
        dig = self._page()
        assert checks.review_reasons(dig) == () and dig.status == "ok"
        flagged = replace(dig, review_reasons=("something is off",))
        assert flagged.status == "needs_review"

    def test_summary_json_and_batch_report_carry_the_status(self):
        from ecgviewer.export import summary_dict

        dig = replace(self._page(), review_reasons=("a 157 s single lead",))
        d = summary_dict(dig)
        assert d["status"] == "needs_review" and d["review_reasons"] == ["a 157 s single lead"]
        assert summary_dict(self._page())["status"] == "ok"
        results = (BatchItemResult("ok"), BatchItemResult("review", "needs review: x"))
        summary = BatchSummary(results, 1.0, 1, None, None)
        assert (summary.n_ok, summary.n_review, summary.n_failed, summary.exit_code) == (1, 1, 0, 0)
        assert "1 ok, 1 need review, 0 failed" in summary.text()


# ------------------------------------------------------------------ real inputs


@pytest.mark.data
def test_a_scan_read_wrong_is_flagged_and_a_clean_export_is_not(scans_dir):
    from ecgviewer.digitize import digitize

    wrong = digitize(scans_dir / "ecg00013.jpg")  # a 3x4 page read as a 31 s strip
    assert wrong.layout.name == "single" and wrong.status == "needs_review"
    clean = digitize(scans_dir / "ecg00001.png")
    assert clean.status == "ok", clean.review_reasons


def test_a_clean_rendered_page_is_not_flagged():
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.io.signals import Record
    from ecgviewer.render import RenderStyle, render_ecg

    t = beats(10.0, seed=9)
    sig = np.stack(
        [ecg(t, 10.0, 0.5 + 0.1 * k, 1 if k % 3 else -1, fs=500.0) for k in range(12)], axis=1
    )
    page = render_ecg(Record(sig, 500.0, STANDARD_LEADS, "synthetic"), RenderStyle(dpi=100.0))
    dig = digitize(page.image_rgb, DigitizeSettings(dpi=100.0))
    assert dig.layout.name == "3x4+1"
    assert dig.status == "ok", dig.review_reasons


@pytest.mark.gui
def test_the_app_lists_the_review_reasons_first():
    from ecgviewer.gui.rhythm_panel import quality_flags

    dig = replace(strip([ecg(beats(10.0), 10.0)]), review_reasons=("rows of different lengths",))
    assert quality_flags(dig, None)[0] == "Needs review: rows of different lengths"
