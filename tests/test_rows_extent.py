"""Where a row of trace begins and ends (issue 18): a short last row is read as short even when
the page's ink holds a dark grid or a stamp sits beside the rows, and a row ends where its trace
ends even when the trace steps out of its baseline band in its last moment (PTB-XL record
00038 on its ECGtizer PDF). Checked against the records' own lengths and the printed layout."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.digitize.trace import inked_extent
from ecgviewer.paths import models_dir

HAVE_WEIGHTS = (models_dir() / "segmenter.pt").is_file()

needs_segmenter = pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")


def test_a_small_blob_far_beside_a_row_is_not_part_of_it():
    """A stamp 90 mm to the right of a 5 s row: the row keeps its own extent; a trace broken
    by a dropout shorter than the pieces around it, or wandering off its baseline over the
    gap, stays one row."""
    far = 20 * 8.0  # px: 20 mm at 8 px/mm
    present = np.zeros(2400, bool)
    present[100:1100] = True  # the row
    present[1830:2060] = True  # a stamp's outline
    assert inked_extent(present, 48, 24, far)[:2] == (100, 1100)
    broken = np.zeros(2400, bool)
    broken[100:700] = broken[900:1500] = True  # 25 mm dropout in a faint trace
    assert inked_extent(broken, 48, 24, far)[:2] == (100, 1500)
    wander = np.zeros(2400, bool)
    wander[100:200] = wander[800:2000] = True  # off the baseline band from 200 to 800
    assert inked_extent(wander, 48, 24, far)[:2] == (800, 2000)
    around = wander.copy()
    around[200:800] = True  # ... but inked further off it: the same trace
    assert inked_extent(wander, 48, 24, far, around)[:2] == (100, 2000)


def _varied_round_trip(cinc_dir, index: int):
    """Record ``index`` (names sorted) of the CinC set printed on its seeded varied strip and read
    back, as the rhythm-from-paper benchmark does."""
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.rhythm.training import image_data

    names = sorted(p.stem for p in cinc_dir.glob("*.mat"))
    rec = read_cinc_mat(cinc_dir / f"{names[index]}.mat")
    return image_data.print_and_read(rec, seed=image_data.record_seed(2017, index))


@pytest.mark.data
@needs_segmenter
@pytest.mark.parametrize(
    "index, what",
    [
        (11, "A00013: pulse apart, dark grey grid; a 1.5 s last row"),
        (5, "A00006: six 5 s rows, a stamp beside two of them"),
    ],
)
def test_varied_strips_read_their_printed_length(cinc_dir, index, what):
    trip = _varied_round_trip(cinc_dir, index)
    assert trip.error is None, what
    assert trip.duration_s == pytest.approx(trip.printed_s, rel=0.02), what


@pytest.fixture(scope="module")
def pdf_00038(data_dir):
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.io.images import load_image

    path = data_dir / "pdf" / "00038_hr.pdf"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    rgb = load_image(path, pdf_dpi=200).rgb
    return digitize(rgb, DigitizeSettings(dpi=200.0, gain_mm_mv=10.0))


@pytest.mark.data
@needs_segmenter
def test_rows_end_where_a_final_step_ends(pdf_00038):
    """PTB-XL 00038 steps up 0.3-0.5 mV in every lead 0.1 s before its end (a recording
    artefact, in the truth): ECGtizer's columns are 2.5 s, and the last column keeps its step."""
    dig = pdf_00038
    assert dig.layout.name == "3x4+1"
    px_per_s = dig.calibration.px_per_s
    last = [b for b in dig.layout.boxes if b.col == 3]
    assert len(last) == 3
    for box in last:
        assert (box.x1 - box.x0) / px_per_s == pytest.approx(2.5, abs=0.015), box.name
    ends = [b.x1 for b in last]
    assert max(ends) - min(ends) <= 1.0 * dig.calibration.px_per_mm_x


def _strip(cinc_dir, name: str, pulse: bool):
    """CinC record ``name`` printed as the accuracy benchmark prints strips (10 s rows,
    10 mm/mV, 200 dpi), with or without its pulse, and read back told the single layout."""
    from ecgviewer.digitize import DigitizeSettings, digitization_to_record, digitize
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.render import RenderStyle, render_ecg

    rec = read_cinc_mat(cinc_dir / f"{name}.mat")
    style = RenderStyle(layout="single", row_seconds=10.0, calibration_pulse=pulse)
    page = render_ecg(rec, style, seed=1)
    settings = DigitizeSettings(layout="single", dpi=style.dpi)
    dig = digitize(page.image_rgb, settings)
    return page, dig, digitization_to_record(dig, fs_hz=rec.fs_hz)


@pytest.mark.data
@pytest.mark.parametrize(
    "name, rows",
    [
        ("A08463", 6),  # 54.5 s: a 4.5 s last row whose trace starts 3.4 mm late in its band
        ("A08467", 2),  # 11.6 s: one full row and a faint 1.6 s one
        ("A08514", 2),  # 11.2 s: a 1.2 s last row
    ],
)
def test_the_short_last_row_of_a_strip_without_pulses_is_read(cinc_dir, name, rows):
    page, dig, est = _strip(cinc_dir, name, pulse=False)
    truth_s = page.truth.signal_mv.shape[0] / page.truth.fs_hz
    assert len(dig.layout.boxes) == rows
    assert est.signal_mv.shape[0] / est.fs_hz == pytest.approx(truth_s, rel=0.02)


@pytest.mark.data
def test_a_row_starts_where_its_trace_starts_not_where_it_reaches_its_baseline(cinc_dir):
    """A08495 starts 1.5 mV high and falls for 0.35 s before it reaches its baseline band: the
    first row still starts with the others (else the whole second row is scored 0.35 s off)."""
    from ecgviewer.scoring import score_digitization

    page, dig, est = _strip(cinc_dir, "A08495", pulse=False)
    starts = [b.x0 for b in dig.layout.boxes]
    assert max(starts) - min(starts) <= 1.0 * dig.calibration.px_per_mm_x
    assert score_digitization(page.truth, est).mean_snr_db >= 10.0
