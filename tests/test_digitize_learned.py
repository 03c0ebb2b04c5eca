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
    est = digitization_to_record(digitize_prepared(prepare_page(page.image_rgb, settings),
                                                   settings), fs_hz=rec.fs_hz)
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
