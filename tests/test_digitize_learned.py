"""The learned segmenter as the automatic method (issue 18): its map is cached per page, the
slider re-thresholds it cheaply, a missing model falls back with a warning; and the pulse
printed apart from the trace stays out of the signal and its time."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgviewer.digitize import learned
from ecgviewer.digitize.binarize import AUTO_THRESHOLD, binarize_preview
from ecgviewer.digitize.pipeline import digitization_to_record, digitize_prepared, prepare_page
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.paths import models_dir
from ecgviewer.render import RenderStyle, render_ecg
from ecgviewer.scoring import score_digitization
from tests.test_digitize_image import synthetic_record

HAVE_WEIGHTS = (models_dir() / "segmenter.pt").is_file()


@pytest.fixture(scope="module")
def page():
    rec = synthetic_record(duration_s=10.0)
    return render_ecg(rec, RenderStyle(layout="3x4+1", dpi=100.0), seed=3)


@pytest.fixture()
def no_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("ECGVIEWER_MODELS", str(tmp_path))


def test_missing_weights_fall_back_to_the_classical_method_with_a_warning(page, no_weights):
    settings = DigitizeSettings(dpi=100.0)
    prepared = prepare_page(page.image_rgb, settings)
    maps = prepared.trace_maps()
    assert maps.source == "darkness" and "segmenter unavailable" in maps.warning
    dig = digitize_prepared(prepared, settings)
    assert any("segmenter unavailable" in w for w in dig.warnings)
    assert dig.threshold == AUTO_THRESHOLD
    classic = digitize_prepared(prepared, replace(settings, binarize_method="modified_otsu"))
    assert len(dig.leads) == len(classic.leads) == 13


def test_the_map_is_computed_once_and_only_for_auto(page, no_weights, monkeypatch):
    calls = []
    real = learned.compute_trace_maps
    monkeypatch.setattr(learned, "compute_trace_maps", lambda *a: calls.append(1) or real(*a))
    settings = DigitizeSettings(dpi=100.0, binarize_method="otsu")
    prepared = prepare_page(page.image_rgb, settings)
    digitize_prepared(prepared, settings)
    assert calls == [] and prepared.trace_maps(compute=False) is None  # not needed: not made
    for thr in (0.4, 0.5, 0.6):
        digitize_prepared(prepared, DigitizeSettings(dpi=100.0, threshold=thr))
    assert calls == [1]  # the slider re-uses the cached map
    eager = prepare_page(page.image_rgb, DigitizeSettings(dpi=100.0))
    assert calls == [1, 1] and eager.trace_maps(compute=False) is not None


def test_slider_rethreshold_is_monotone_on_the_cached_map(page, no_weights):
    prepared = prepare_page(page.image_rgb, DigitizeSettings(dpi=100.0))
    prob = prepared.trace_maps().trace_prob
    previous = None
    for thr in np.linspace(0.1, 0.9, 9):
        ink = binarize_preview(prob, "auto", float(thr))
        if previous is not None:
            assert not (ink & ~previous).any()  # a higher threshold never adds ink
        previous = ink


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")
def test_auto_uses_the_segmenter(page):
    settings = DigitizeSettings(dpi=100.0)
    prepared = prepare_page(page.image_rgb, settings)
    maps = prepared.trace_maps()
    assert maps.source == "segmenter" and maps.warning is None
    assert maps.trace_prob.shape == page.image_rgb.shape[:2]
    dig = digitize_prepared(prepared, settings)
    assert dig.layout.name == "3x4+1" and len(dig.leads) == 13


@pytest.mark.data
@pytest.mark.parametrize("method", ["modified_otsu", "auto"])
def test_a_pulse_printed_apart_stays_out_of_the_time(cinc_dir, method):
    """A CinC strip with its 1 mV pulse 0.3 s before the trace: every row starts where its trace
    starts, so the record keeps its duration and the rows do not drift."""
    from ecgviewer.io.signals import read_wfdb

    rec = read_wfdb(cinc_dir / "A00001.hea")
    style = RenderStyle(layout="single", dpi=200.0, pulse_gap_s=0.3, row_seconds=7.5)
    page = render_ecg(rec, style, seed=1)
    settings = DigitizeSettings(dpi=200.0, binarize_method=method, layout="single")
    est = digitization_to_record(
        digitize_prepared(prepare_page(page.image_rgb, settings), settings), fs_hz=rec.fs_hz
    )
    truth_s = page.truth.signal_mv.shape[0] / page.truth.fs_hz
    assert est.signal_mv.shape[0] / est.fs_hz == pytest.approx(truth_s, rel=0.01)
    assert score_digitization(page.truth, est).mean_snr_db >= 20.0


@pytest.mark.data
@pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")
@pytest.mark.parametrize("name", ["ecg00001.png", "ecg00010.png"])
def test_the_pulse_stays_out_of_the_signal_of_real_scans(scans_dir, name):
    """ecg00001 prints its pulses before the rows, ecg00010 after them: neither may enter the
    leads (a 1 mV step at a row's start or end) nor the rhythm strip's time and heart rate."""
    from ecgviewer.digitize import digitize
    from ecgviewer.digitize.stages import signal_with_gaps
    from ecgviewer.rhythm.qrs import detect_qrs, rate_and_irregularity

    dig = digitize(scans_dir / name)
    lead = dig.rhythm_lead
    assert lead.duration_s == pytest.approx(10.0, abs=0.1)
    edge = int(0.08 * lead.fs_hz)
    assert np.ptp(lead.signal_mv[-edge:]) < 0.6 and np.ptp(lead.signal_mv[:edge]) < 0.6
    for box, ld in zip(dig.layout.boxes, dig.leads, strict=True):
        if box.col == 0:
            assert np.ptp(ld.signal_mv[:edge]) < 0.6, ld.name
    sig = signal_with_gaps(lead)
    peaks = detect_qrs(np.nan_to_num(sig), lead.fs_hz, np.isfinite(sig))
    rate, irregularity = rate_and_irregularity(peaks, lead.fs_hz)
    assert rate is not None and 40 <= rate <= 100
    assert irregularity is not None and irregularity < 0.1  # regular rhythms


def _line_coverage(n: int, pitch_px: float, width_px: float) -> np.ndarray:
    """Box-filtered coverage of lines ``width_px`` wide every ``pitch_px`` (from pixel 0)."""
    i = np.arange(n, dtype=np.float32)
    d = np.abs((i % pitch_px + pitch_px / 2) % pitch_px - pitch_px / 2)
    return np.clip(width_px / 2 + 0.5 - d, 0.0, 1.0)


def dark_grid_page(record, style: RenderStyle, minor_grey: float = 0.5, major_grey: float = 0.2):
    """``record`` printed on a near-black grid (a photocopy, a monochrome printer): 1 mm lines
    1.2 px wide at ``minor_grey``, 5 mm lines 2.5 px wide (as wide as the 0.3 mm trace) at
    ``major_grey``, under the ink, at the trace's own scale."""
    page = render_ecg(record, replace(style, grid="none"), seed=1)
    h, w = page.image_rgb.shape[:2]
    px_per_mm = style.dpi / 25.4
    shade = np.ones((h, w), np.float32)
    for pitch_px, width_px, grey in (
        (px_per_mm, 1.2, minor_grey),
        (5 * px_per_mm, 2.5, major_grey),
    ):
        cover = 1 - np.outer(
            1 - _line_coverage(h, pitch_px, width_px), 1 - _line_coverage(w, pitch_px, width_px)
        )
        shade = np.minimum(shade, 1 - cover * (1 - grey))
    rgb = page.image_rgb.astype(np.float32) * shade[..., None]
    return (rgb + 0.5).astype(np.uint8), page.truth


@pytest.mark.data
@pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")
def test_a_black_grid_as_thick_as_the_trace_stays_out_of_it(ptbxl_dir):
    """PTB-XL 00001 on a black grid: its lines are as dark as the trace, so classical ink near
    the segmenter's map included them and the tracer jumped onto them at every QRS (15.5 dB);
    ink the segmenter calls grid line, and ink apart from its map, is left out (18.9 dB)."""
    from ecgviewer.io.signals import read_wfdb

    rec = read_wfdb(ptbxl_dir / "records500" / "00000" / "00001_hr.hea")
    style = RenderStyle(layout="3x4+1", dpi=8 * 25.4)
    image, truth = dark_grid_page(rec, style)
    settings = DigitizeSettings(dpi=style.dpi)
    prepared = prepare_page(image, settings)
    assert prepared.trace_maps().grid_prob is not None
    est = digitization_to_record(digitize_prepared(prepared, settings), fs_hz=truth.fs_hz)
    assert score_digitization(truth, est).mean_snr_db >= 17.0


def test_grid_line_pixels_keep_trace_ink_the_map_missed():
    """Only pixels on a line that is grid along 5 mm are grid: a trace stroke the map missed
    (both probabilities ~0) and a trace crossing a grid line (trace to the segmenter) stay."""
    h, w, px_per_mm = 80, 80, 8.0
    grid = np.zeros((h, w), np.float32)
    grid[:, 40] = 0.9  # a vertical grid line...
    trace = np.zeros((h, w), np.float32)
    trace[30:33, :] = 0.95  # ...crossed by the trace
    grid[30:33, 40] = 0.05
    grid[50:60, 10] = 0.1  # a stroke the map missed, faintly grid-ish, no line through it
    lines = learned.grid_line_pixels(trace, grid, px_per_mm)
    assert lines[:25, 40].all() and lines[40:, 40].all()
    assert not lines[30:33].any() and not lines[50:60, 10].any()
    ink = np.zeros((h, w), bool)
    ink[:, 40] = ink[30:33, :] = ink[50:60, 10] = True
    ink[36, 20] = ink[33:37, 60] = True  # a speck near the trace; a QRS tip the map missed
    binary, pulse_ink, weight = learned.combine_with_ink(
        trace > 0.5, ink.astype(np.float32), trace, px_per_mm, grid
    )
    assert not binary[:, 40][lines[:, 40]].any() and (weight[lines] == 0).all()
    assert binary[30:33, :].all() and pulse_ink[:, 40].all()  # pulses may sit on grid lines
    assert not binary[36, 20] and pulse_ink[36, 20] and binary[33:37, 60].all()


@pytest.mark.data
@pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")
def test_a_greyscale_scan_with_a_dark_dotted_grid_is_traced_through(scans_dir):
    """ecg00005, a real greyscale scan: black 5 mm lines and dotted 1 mm crossings as dark as
    the trace. With the grid's ink near the segmenter's map in the trace's binary the leads
    were traced over 71 % of their length; without it (grid lines, ink apart from the map) 90 %."""
    from ecgviewer.digitize import digitize

    dig = digitize(scans_dir / "ecg00005.jpg")
    assert len(dig.leads) >= 6 and dig.quality >= 0.82


def test_the_automatic_map_threshold_drops_only_where_the_map_is_unsure():
    """A map sure of its line keeps 0.5; a line seen whole but at 0.2-0.4 (a grey or sub-pixel
    trace: near 1 only at QRS spikes) gets a lower threshold, never below the floor; unsure
    blotches (a photo with no ECG) and an empty map keep 0.5."""
    sure = np.zeros((60, 400), np.float32)
    sure[30, :] = 0.97
    assert learned.auto_map_threshold(sure, AUTO_THRESHOLD, 8.0) == AUTO_THRESHOLD
    faint = np.zeros((60, 400), np.float32)
    faint[30, :] = 0.3
    faint[20:40, ::50] = 1.0  # the spikes
    t = learned.auto_map_threshold(faint, AUTO_THRESHOLD, 8.0)
    assert learned.FAINT_MAP_FLOOR <= t < 0.3 and (faint[30, 1:50] > t).all()
    blotches = np.zeros((60, 400), np.float32)
    blotches[10:50, :] = np.where(np.arange(400) % 100 < 60, 0.3, 0.9)  # tall, unsure areas
    assert learned.auto_map_threshold(blotches, AUTO_THRESHOLD, 8.0) == AUTO_THRESHOLD
    assert learned.auto_map_threshold(np.zeros((60, 400), np.float32), 0.5, 8.0) == 0.5
    noise_only = np.full((60, 400), 0.05, np.float32)  # nothing above 0.1 in any column
    assert learned.auto_map_threshold(noise_only, 0.5, 8.0) == 0.5


@pytest.mark.data
@pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")
def test_a_sub_pixel_grey_trace_over_a_blue_grid_is_read_whole(cinc_dir):
    """CinC A00018 printed as a 0.6 px grey line over a blue grid (the varied paper's page of
    record 14): the segmenter saw the line at 0.2-0.4 and only its QRS spikes above 0.5, and
    the grey line is lighter than the page's Otsu threshold, so the page read as empty ("no row
    of trace long enough"). The faint-page path reads the whole 30 s, and it is the record."""
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.rhythm.training.image_data import print_and_read, record_seed
    from ecgviewer.scoring import resample_to, score_lead

    rec = read_cinc_mat(cinc_dir / "A00018.mat")
    trip = print_and_read(rec, seed=record_seed(2017, 14))
    assert trip.tags == "grid=blue pulse=before pen=0"
    assert trip.error is None, trip.error
    assert trip.duration_s == pytest.approx(rec.duration_s, rel=0.02)
    ref = rec.signal_mv[:, 0]
    est = resample_to(np.nan_to_num(trip.signal_mv), trip.fs_hz, rec.fs_hz, ref.size)
    assert score_lead(ref, est, rec.fs_hz).pearson_r > 0.8
    # the slider near the automatic threshold reads the same: "faint" is the page's, not the
    # threshold's (a user's 0.2 once lost the trace's own ink and half the record)
    from ecgviewer.digitize import digitize
    from ecgviewer.rhythm.training.paper_variety import DPI, draw_page

    page = draw_page(rec, record_seed(2017, 14))
    style = page.style
    moved = DigitizeSettings(layout="single", dpi=DPI, threshold=0.2,
                             paper_speed_mm_s=style.paper_speed_mm_s, gain_mm_mv=style.gain_mm_mv)
    lead = digitize(page.image_rgb, moved).rhythm_lead
    assert lead.duration_s == pytest.approx(rec.duration_s, rel=0.02)
