"""The whole digitisation pipeline against rendered pages with exact ground truth, plus a few
real scans (no truth: they must give 12 leads without error)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.digitize import (
    DigitizeSettings,
    digitization_to_record,
    digitize,
    digitize_prepared,
    prepare_page,
)
from ecgviewer.digitize.types import CropBox
from ecgviewer.errors import NoTraceFoundError
from ecgviewer.io.signals import read_signal, read_wfdb
from ecgviewer.paper import STANDARD_LEADS
from ecgviewer.render import RenderStyle, render_ecg
from ecgviewer.scoring import score_digitization, summarize


@pytest.fixture(scope="module")
def ptb_record(ptbxl_dir):
    return read_wfdb(ptbxl_dir / "records500" / "00000" / "00001_hr")


@pytest.fixture(scope="module")
def cinc_record(cinc_dir):
    return read_signal(cinc_dir / "A00001.mat")  # 30 s, normal rhythm


@pytest.fixture(scope="module")
def page_3x4_1(ptb_record):
    page = render_ecg(ptb_record, RenderStyle(layout="3x4+1", dpi=150), seed=3)
    return page, digitize(page.image_rgb)


@pytest.fixture(scope="module")
def strip_single(cinc_record):
    page = render_ecg(cinc_record, RenderStyle(layout="single", dpi=150), seed=4)
    return page, digitize(page.image_rgb)


class TestCleanSingleLeadStrip:
    def test_one_continuous_lead(self, strip_single):
        page, dig = strip_single
        assert dig.layout.name == "single"
        assert [ld.name for ld in dig.leads] == ["ECG"]
        assert dig.rhythm_lead is dig.leads[0]
        assert dig.leads[0].duration_s == pytest.approx(page.truth.duration_s, abs=0.3)

    def test_matches_truth(self, strip_single):
        page, dig = strip_single
        est = digitization_to_record(dig, fs_hz=page.truth.fs_hz)
        score = score_digitization(page.truth, est).leads[0]
        assert score.pearson_r >= 0.95
        assert score.snr_db >= 15.0
        assert score.coverage >= 0.95

    def test_zero_lines_are_the_printed_baselines(self, strip_single):
        page, dig = strip_single
        truth = sorted(b.baseline_y for b in page.layout.boxes)
        found = sorted(b.baseline_y for b in dig.layout.boxes)
        assert len(found) == len(truth)
        assert np.max(np.abs(np.subtract(found, truth))) <= 1.0  # pixels

    def test_forced_single_layout(self, strip_single):
        page, _ = strip_single
        dig = digitize(page.image_rgb, DigitizeSettings(layout="single"))
        assert dig.layout.name == "single" and dig.leads[0].name == "ECG"


class TestClean3x4PlusRhythmPage:
    def test_layout_and_lead_names(self, page_3x4_1):
        _, dig = page_3x4_1
        assert dig.layout.name == "3x4+1"
        names = [ld.name for ld in dig.leads]
        assert names[:12] == [STANDARD_LEADS[c * 3 + r] for r in range(3) for c in range(4)]
        assert names[12] == "II"

    def test_rhythm_lead_is_the_long_lead_ii(self, page_3x4_1):
        _, dig = page_3x4_1
        rl = dig.rhythm_lead
        assert dig.layout.rhythm_lead == "II"
        assert rl.name == "II" and rl.duration_s == pytest.approx(10.0, abs=0.15)
        short = next(ld for ld in dig.leads if ld.name == "I")
        assert short.duration_s == pytest.approx(2.5, abs=0.1)

    def test_leads_sit_at_their_time_on_the_page(self, page_3x4_1):
        _, dig = page_3x4_1
        for name, t in (("I", 0.0), ("aVR", 2.5), ("V1", 5.0), ("V6", 7.5)):
            assert dig.lead(name).start_s == pytest.approx(t, abs=0.06)

    def test_matches_truth(self, page_3x4_1):
        page, dig = page_3x4_1
        est = digitization_to_record(dig, fs_hz=page.truth.fs_hz)
        summary = summarize([score_digitization(page.truth, est)])
        assert summary.n_missing_leads == 0
        assert summary.mean_r >= 0.95
        assert summary.mean_snr_db >= 14.0

    def test_record_places_leads_on_one_timeline(self, page_3x4_1):
        _, dig = page_3x4_1
        rec = digitization_to_record(dig)
        assert rec.lead_names == STANDARD_LEADS
        assert rec.duration_s == pytest.approx(10.0, abs=0.15)
        fs = rec.fs_hz
        v1 = rec.lead("V1")
        assert np.isnan(v1[: int(4.9 * fs)]).all()  # V1 printed from 5 s to 7.5 s
        assert np.isfinite(v1[int(5.1 * fs) : int(7.4 * fs)]).mean() > 0.95
        ii = rec.lead("II")  # the 10 s rhythm strip, not the 2.5 s grid copy
        assert np.isfinite(ii).mean() > 0.95

    def test_mask_and_length_invariants(self, page_3x4_1):
        _, dig = page_3x4_1
        for ld in dig.leads:
            assert ld.signal_mv.shape == ld.valid_mask.shape
            assert ld.valid_mask.dtype == bool
            assert np.all(np.isfinite(ld.signal_mv))
            assert 0.0 <= ld.quality <= 1.0
            assert ld.fs_hz == 500.0
            assert ld.trace_x_px.shape == ld.trace_y_px.shape
        assert dig.binary.shape == (dig.crop.height, dig.crop.width)
        assert {"binarize", "layout", "trace", "darkness"} <= set(dig.timings_s)


@pytest.mark.parametrize("layout", ["3x4", "3x4+3", "6x2", "12x1"])
def test_layout_is_detected(ptb_record, layout):
    page = render_ecg(ptb_record, RenderStyle(layout=layout, dpi=100), seed=5)
    dig = digitize(page.image_rgb)
    assert dig.layout.name == layout
    assert {ld.name for ld in dig.leads} == set(STANDARD_LEADS)
    assert dig.rhythm_lead.name == "II"


def test_forced_layout_and_rhythm_lead(ptb_record):
    page = render_ecg(ptb_record, RenderStyle(layout="3x4+1", dpi=100), seed=6)
    dig = digitize(page.image_rgb, DigitizeSettings(layout="3x4+1", rhythm_lead="V5"))
    assert dig.layout.name == "3x4+1"
    assert dig.leads[-1].name == "V5"  # the strip is read as the lead the user says


def test_prepared_page_is_reused_with_another_threshold(ptb_record):
    page = render_ecg(ptb_record, RenderStyle(layout="3x4+1", dpi=100), seed=7)
    prepared = prepare_page(page.image_rgb)
    a = digitize_prepared(prepared, DigitizeSettings(binarize_method="manual", threshold=0.1))
    b = digitize_prepared(prepared, DigitizeSettings(binarize_method="manual", threshold=0.4))
    assert a.threshold == 0.1 and b.threshold == 0.4
    assert a.binary.sum() > b.binary.sum()
    assert a.image_rgb is b.image_rgb is prepared.image_rgb


def test_crop_keeps_image_coordinates(ptb_record):
    page = render_ecg(ptb_record, RenderStyle(layout="3x4+1", dpi=100), seed=3)
    h, w = page.image_rgb.shape[:2]
    full = digitize(page.image_rgb)
    cropped = digitize(page.image_rgb, DigitizeSettings(crop=CropBox(20, 30, w - 10, h - 5)))
    assert cropped.binary.shape == (h - 35, w - 30)
    a, b = full.lead("V1"), cropped.lead("V1")
    n = min(a.trace_x_px.size, b.trace_x_px.size, 50)
    assert np.allclose(a.trace_x_px[:n], b.trace_x_px[:n], atol=1.0)
    assert np.allclose(a.trace_y_px[:n], b.trace_y_px[:n], atol=1.0)
    assert b.start_s == pytest.approx(a.start_s, abs=0.01)


class TestNoTrace:
    def test_blank_page(self):
        with pytest.raises(NoTraceFoundError):
            digitize(np.full((600, 800, 3), 250, np.uint8))

    def test_photo_without_an_ecg(self):
        rng = np.random.default_rng(0)
        from scipy import ndimage

        blobs = ndimage.gaussian_filter(rng.normal(size=(600, 800)), 12)
        img = np.clip(128 + blobs / blobs.std() * 60, 0, 255).astype(np.uint8)
        with pytest.raises(NoTraceFoundError):
            digitize(np.stack([img, img * 0.9, img * 0.8], axis=2).astype(np.uint8))


@pytest.mark.parametrize("name", ["ecg00019.bmp", "ecg00044.jpg"])
def test_real_scans_give_twelve_leads(scans_dir, name):
    dig = digitize(scans_dir / name)
    assert {ld.name for ld in dig.leads} >= set(STANDARD_LEADS)
    assert dig.rhythm_lead is not None and dig.rhythm_lead.duration_s >= 2.0


def test_even_row_baselines_only_for_evenly_spaced_rows():
    """Wander moves each row's level a little: the fit puts them on one even spacing; rows that
    are not evenly spaced (or fewer than three) are left alone."""
    from ecgviewer.digitize.pipeline import even_row_baselines
    from ecgviewer.paper import LeadBox

    def boxes(levels):
        return [LeadBox("ECG", 0, 100, int(y) - 40, int(y) + 40, y, k, 0) for k, y in enumerate(levels)]

    even = even_row_baselines(boxes([100.0, 203.0, 297.0, 400.0]), px_per_mm=8.0)
    assert [b.baseline_y for b in even] == pytest.approx([100.9, 200.3, 299.7, 399.1], abs=0.01)
    uneven = [100.0, 200.0, 330.0, 400.0]  # 30 px (3.75 mm) off: not a printer's spacing
    assert [b.baseline_y for b in even_row_baselines(boxes(uneven), 8.0)] == uneven
    assert [b.baseline_y for b in even_row_baselines(boxes([100.0, 203.0]), 8.0)] == [100.0, 203.0]


@pytest.mark.data
def test_a_pulse_less_strip_keeps_its_rows_0_mv_lines_evenly_spaced(cinc_dir):
    """CinC A08456 (25 s) on a pulse-less 10 s-row strip: its rows' most common levels sit up
    to a few tenths of a millimetre off the printed 0 mV lines (baseline wander), 11.4 dB; on
    one even spacing 17.7 dB."""
    from ecgviewer.io.signals import Record

    rec = read_signal(cinc_dir / "A08456.mat")
    style = RenderStyle(layout="single", row_seconds=10.0, gain_mm_mv=10.0,
                        calibration_pulse=False)
    page = render_ecg(rec, style, seed=1)
    settings = DigitizeSettings(layout="single", paper_speed_mm_s=25.0, gain_mm_mv=10.0,
                                dpi=style.dpi)
    lead = digitize(page.image_rgb, settings).rhythm_lead
    est = Record(np.asarray(lead.signal_mv, float)[:, None], lead.fs_hz, ("ECG",), name="A08456")
    assert score_digitization(page.truth, est).mean_snr_db >= 15.0
