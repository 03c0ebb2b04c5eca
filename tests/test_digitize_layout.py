"""Row finding (digitize.rows) and layout naming (digitize.layout) on their own, against pages
rendered from real records with exact ground truth, plus the paper layout table they share
with the renderer."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

import numpy as np
import pytest

from ecgviewer.digitize import LAYOUT_NAMES
from ecgviewer.digitize.binarize import binarize, darkness_as_probability
from ecgviewer.digitize.labels import classify_word, read_label
from ecgviewer.digitize.layout import detect_layout
from ecgviewer.digitize.preprocess import trace_darkness
from ecgviewer.digitize.rows import find_rows, locate_rows, marker_span, marks_ink
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.errors import NoTraceFoundError
from ecgviewer.io.signals import read_signal, read_wfdb
from ecgviewer.paper import (
    LAYOUT_SPECS,
    PAPER_LAYOUTS,
    STANDARD_LEADS,
    PaperLayoutName,
    canonical_lead_name,
    lead_rank,
    with_strips,
)
from ecgviewer.paths import models_dir
from ecgviewer.render import LAYOUTS, RenderStyle, plan_page, render_ecg
from ecgviewer.render.layout import PULSE_WIDTH_S

# ---- the layout table (no data needed)


def test_offered_layouts_are_the_literal_and_the_choices():
    assert PAPER_LAYOUTS == get_args(PaperLayoutName)
    assert LAYOUTS == PAPER_LAYOUTS
    assert LAYOUT_NAMES == ("auto", *PAPER_LAYOUTS)
    assert "3x4+2" in LAYOUT_SPECS and "3x4+2" not in PAPER_LAYOUTS  # recognised only


@pytest.mark.parametrize("name", [n for n in LAYOUT_SPECS if n != "single"])
def test_every_12_lead_grid_shows_each_standard_lead_once(name):
    spec = LAYOUT_SPECS[name]
    leads = [lead for row in spec.grid_rows for lead in row]
    assert sorted(leads) == sorted(STANDARD_LEADS)
    assert all(len(row) == spec.n_cols for row in spec.grid_rows)
    assert set(spec.rhythm_leads) <= set(STANDARD_LEADS)
    assert spec.n_rows == spec.n_grid_rows + len(spec.rhythm_leads)


def test_strips_of_the_3x4_family():
    base = LAYOUT_SPECS["3x4"]
    assert [with_strips(base, k).name for k in range(4)] == ["3x4", "3x4+1", "3x4+2", "3x4+3"]
    assert with_strips(base, 4) is None
    assert with_strips(LAYOUT_SPECS["6x2"], 1) is None
    assert LAYOUT_SPECS["3x4+3"].rhythm_lead == "II"
    assert LAYOUT_SPECS["6x2"].rhythm_lead is None


def test_lead_names_and_order():
    assert canonical_lead_name(" avr ") == "aVR"
    assert canonical_lead_name("ii") == "II"
    assert canonical_lead_name("ECG") == "ECG"
    names = ["V6", "ECG", "avl", "I"]
    assert sorted(names, key=lead_rank) == ["I", "avl", "V6", "ECG"]


@pytest.mark.parametrize("name", [n for n in PAPER_LAYOUTS if n != "single"])
def test_the_renderer_prints_the_table(name):
    plan = plan_page(RenderStyle(layout=name), 10.0, STANDARD_LEADS)
    spec = LAYOUT_SPECS[name]
    rows: dict[int, list[str]] = {}
    for seg in sorted(plan.segments, key=lambda s: (s.row, s.col)):
        rows.setdefault(seg.row, []).append(seg.lead)
    expected = [list(r) for r in spec.grid_rows] + [[lead] for lead in spec.rhythm_leads]
    assert [rows[r] for r in sorted(rows)] == expected


def test_blank_page_has_no_rows():
    with pytest.raises(NoTraceFoundError):
        find_rows(np.zeros((400, 600), bool), 4.0)


# ---- rendered pages of real records


@pytest.fixture(scope="module")
def ptb_record(ptbxl_dir):
    return read_wfdb(ptbxl_dir / "records500" / "00000" / "00001_hr")


@pytest.fixture(scope="module")
def cinc_record(cinc_dir):
    return read_signal(cinc_dir / "A00001.mat")  # 30 s


def _page(record, **style):
    """A clean rendered page, its binary image (the core's binariser) and its true rows as
    ``(baseline_y, x0, x1)`` top to bottom."""
    page = render_ecg(record, RenderStyle(dpi=100, **style), seed=1)
    # the classical automatic binary ("auto" without the segmenter)
    binary = binarize(darkness_as_probability(trace_darkness(page.image_rgb)), "auto").binary
    rows: dict[int, tuple[float, int, int]] = {}
    for b in page.layout.boxes:
        y, x0, x1 = rows.get(b.row, (b.baseline_y, b.x0, b.x1))
        rows[b.row] = (y, min(x0, b.x0), max(x1, b.x1))
    return page, binary, [rows[r] for r in sorted(rows)]


_PAGES = [
    ("ptb", {"layout": "3x4+1", "header_lines": ("ID: 1", "25 mm/s 10 mm/mV")}),
    ("ptb", {"layout": "3x4"}),
    ("ptb", {"layout": "3x4+3"}),
    ("ptb", {"layout": "6x2"}),
    ("ptb", {"layout": "12x1"}),
    ("cinc", {"layout": "single"}),
    ("cinc", {"layout": "single", "row_seconds": 5.0}),
]
_IDS = [f"{src}-{s['layout']}-{s.get('row_seconds', 10.0):g}s" for src, s in _PAGES]


@pytest.fixture(scope="module", params=_PAGES, ids=_IDS)
def rendered(request, ptb_record, cinc_record):
    source, style = request.param
    return _page(ptb_record if source == "ptb" else cinc_record, **style)


@pytest.mark.data
def test_find_rows_finds_every_printed_row(rendered):
    page, binary, truth = rendered
    px_per_mm = page.calibration.px_per_mm_x
    rows = find_rows(binary, px_per_mm)
    assert len(rows) == len(truth)
    for row, (y, _x0, _x1) in zip(rows, truth, strict=True):
        assert abs(row.baseline_y - y) <= 0.75 * px_per_mm  # the isoelectric line: 0 mV
    # bands hold their own baseline and stop short of the neighbours'
    for k, row in enumerate(rows):
        assert row.y0 < row.baseline_y < row.y1
        if k > 0:
            assert row.y0 > rows[k - 1].baseline_y
        if k + 1 < len(rows):
            assert row.y1 < rows[k + 1].baseline_y


@pytest.mark.data
def test_locate_rows_excludes_the_calibration_pulses(rendered):
    page, binary, truth = rendered
    px_per_mm = page.calibration.px_per_mm_x
    rows = locate_rows(binary, page.calibration)
    assert len(rows) == len(truth)
    for row, (y, x0, x1) in zip(rows, truth, strict=True):
        assert row.pulse_x1 is not None and row.pulse_base_y is not None
        assert abs(row.pulse_base_y - y) <= 0.6 * px_per_mm
        assert abs(row.x0 - x0) <= 1.0 * px_per_mm  # the trace starts after the pulse
        assert x1 - 4.0 * px_per_mm <= row.x1 <= x1 + 1.0 * px_per_mm


@pytest.mark.data
def test_detect_layout_names_the_layout_and_every_lead(rendered):
    page, binary, _truth = rendered
    found = detect_layout(binary, page.calibration, DigitizeSettings())
    assert found.layout.name == page.style.layout
    assert [(b.name, b.row, b.col) for b in found.layout.boxes] == [
        (b.name, b.row, b.col) for b in page.layout.boxes
    ]
    assert found.warnings == ()
    assert len(found.origins_px) == len(found.pulse_base_y) == len(found.layout.boxes)


@pytest.mark.data
def test_rhythm_strip_takes_the_rhythm_lead_setting(ptb_record):
    page, binary, _ = _page(ptb_record, layout="3x4+3")
    found = detect_layout(binary, page.calibration, DigitizeSettings(rhythm_lead="V5"))
    strips = [b.name for b in found.layout.boxes if b.row >= 3]
    assert strips == ["V1", "V5", "V5"]
    assert found.layout.rhythm_lead == "V5"


@pytest.mark.data
def test_five_rows_read_as_3x4_with_two_strips(ptb_record):
    page, binary, truth = _page(ptb_record, layout="3x4+3")
    cut = round(0.5 * (truth[4][0] + truth[5][0]))  # erase the last strip
    binary = binary.copy()
    binary[cut:] = False
    found = detect_layout(binary, page.calibration, DigitizeSettings())
    assert found.layout.name == "3x4+2"
    assert [b.name for b in found.layout.boxes if b.row >= 3] == ["V1", "II"]


@pytest.mark.data
def test_forced_layout_with_too_few_rows_reads_as_single(cinc_record):
    page, binary, truth = _page(cinc_record, layout="single")
    found = detect_layout(binary, page.calibration, DigitizeSettings(layout="6x2"))
    assert found.layout.name == "single"
    assert len(found.layout.boxes) == len(truth)
    assert any("needs 6 rows" in w for w in found.warnings)


@pytest.mark.data
def test_forced_layout_names_extra_rows_as_strips(ptb_record):
    page, binary, _ = _page(ptb_record, layout="3x4+1")
    found = detect_layout(binary, page.calibration, DigitizeSettings(layout="3x4"))
    assert found.layout.name == "3x4"
    assert [b.name for b in found.layout.boxes][-1] == "II"
    assert len(found.layout.boxes) == 13
    # read at half the true scale, the rows span 20 s instead of 10 s: a warning
    half = replace(page.calibration, px_per_mm_x=0.5 * page.calibration.px_per_mm_x)
    warnings = detect_layout(binary, half, DigitizeSettings(layout="3x4+1")).warnings
    assert any("check the paper speed" in w for w in warnings)


# ---- marks: pulses wherever they stand, separator bars, printed labels (issue 18 point 4)


def _plan(page):
    """The renderer's plan of a rendered 10 s 12-lead page (pulses, segments in mm)."""
    return plan_page(page.style, 10.0, STANDARD_LEADS)


def _pulse_cols(page) -> list[tuple[int, int, float]]:
    """``(first, last+1 column, foot row)`` of each row's printed pulse (the renderer's plan)."""
    px = page.calibration.px_per_mm_x
    plan = _plan(page)
    width = PULSE_WIDTH_S * page.style.paper_speed_mm_s
    return [
        (round(plan.pulse_x0_mm * px), round((plan.pulse_x0_mm + width) * px), base_mm * px)
        for base_mm in plan.row_baselines_mm
    ]


@pytest.mark.data
def test_a_pulse_after_a_long_flat_lead_in_stays_out_of_the_row(ptb_record):
    """Some printers draw the 0 mV line for several mm before the pulse: the row must still
    start after the pulse (it used to start at the lead-in, taking the pulse into the lead)."""
    page, binary, truth = _page(ptb_record, layout="3x4+1")
    px = page.calibration.px_per_mm_x
    binary = binary.copy()
    for (x0, _x1, foot), (y, _t0, _t1) in zip(_pulse_cols(page), truth, strict=True):
        binary[round(y) - 1 : round(y) + 1, max(0, x0 - round(7 * px)) : x0] = True
    rows = locate_rows(binary, page.calibration)
    for row, (x0, x1, _), (_y, t0, _t1) in zip(rows, _pulse_cols(page), truth, strict=True):
        assert row.pulse_x1 is not None and abs(row.pulse_x1 - x1) <= 1.0 * px
        assert abs(row.x0 - t0) <= 1.0 * px


@pytest.mark.data
def test_a_pulse_drawn_on_grid_lines_is_found_in_the_marks(ptb_record):
    """A greyscale grid is ink too: a pulse stroke printed on a grid line has no ends there,
    so no pulse is found in all the ink; the segmenter's marks channel (here: where the pulse
    is) leaves the grid out and the pulse is found again."""
    page, binary, truth = _page(ptb_record, layout="3x4")
    px = page.calibration.px_per_mm_x
    pulses = _pulse_cols(page)
    marks_prob = np.zeros(binary.shape, np.float32)
    all_ink = binary.copy()
    for (x0, x1, foot), (y, _t0, _t1) in zip(pulses, truth, strict=True):
        top = round(foot - 12 * px)
        marks_prob[top : round(foot + px), x0 - 2 : x1 + 2] = 0.3
    for x0, x1, _foot in pulses[:1]:  # grid lines through both strokes, the whole page down
        all_ink[:, x0 - 1 : x0 + 1] = True
        all_ink[:, x1 - 1 : x1 + 1] = True
    plain = locate_rows(binary, page.calibration, all_ink)
    assert all(r.pulse_x1 is None for r in plain)  # the test's premise: no pulse found
    rows = locate_rows(binary, page.calibration, all_ink, marks_ink(binary, all_ink, marks_prob))
    for row, (_x0, x1, _), (_y, t0, _t1) in zip(rows, pulses, truth, strict=True):
        assert row.pulse_x1 is not None and abs(row.pulse_x1 - x1) <= 1.0 * px
        assert abs(row.x0 - t0) <= 1.0 * px


def _separators(page) -> list[tuple[int, float]]:
    """``(column, baseline row)`` of every separator tick the renderer drew."""
    px = page.calibration.px_per_mm_x
    return [(round(s.x0_mm * px), s.baseline_mm * px) for s in _plan(page).segments if s.col > 0]


@pytest.mark.data
@pytest.mark.parametrize("style", ["split", "dotted"])
def test_separator_bars_that_leave_the_trace_a_gap_or_are_dotted(ptb_record, style):
    """Printers draw the lead-change bar above and below the trace with a gap where it passes
    (ecg00010), or dotted (ecg00044): both are lead-change marks and stay out of the leads."""
    page, binary, truth = _page(ptb_record, layout="3x4")
    px = page.calibration.px_per_mm_x
    binary = binary.copy()
    rows = find_rows(binary, px)
    for x, base in _separators(page):
        cols = slice(x - 2, x + 3)
        if style == "split":  # keep the trace's own ±0.4 mm, blank 0.4-1.5 mm on both sides
            binary[round(base - 1.5 * px) : round(base - 0.4 * px), cols] = False
            binary[round(base + 0.4 * px) + 1 : round(base + 1.5 * px), cols] = False
        else:
            ys = np.arange(round(base - 4 * px), round(base + 4 * px))
            binary[ys[(ys // 2) % 2 == 0], cols] = False
    half_win = max(2, int(0.08 * page.calibration.px_per_s))
    for x, base in _separators(page):
        row = min(rows, key=lambda r: abs(r.baseline_y - base))
        span = marker_span(binary, row, x, half_win, px)
        assert span is not None and span[0] - 1 <= x <= span[1] + 1
    found = detect_layout(binary, page.calibration, DigitizeSettings())
    by_place = {(b.row, b.col): b for b in found.layout.boxes}
    for seg in _plan(page).segments:
        if seg.col > 0:  # the bar belongs to neither lead
            x = round(seg.x0_mm * px)
            assert by_place[seg.row, seg.col].x0 > x and by_place[seg.row, seg.col - 1].x1 <= x


@pytest.mark.data
@pytest.mark.parametrize(
    ("layout", "position", "dpi"),
    [("3x4+1", "above", 100), ("6x2", "below", 100), ("3x4", "below", 150)],
)
def test_printed_lead_labels_are_read(ptb_record, layout, position, dpi):
    page = render_ecg(
        ptb_record, RenderStyle(dpi=dpi, layout=layout, label_position=position), seed=1
    )
    binary = binarize(darkness_as_probability(trace_darkness(page.image_rgb)), "auto").binary
    px = page.calibration.px_per_mm_x
    reads = [read_label(binary, b.x0, b.baseline_y, px) for b in page.layout.boxes]
    named = [(r.name, b.name) for r, b in zip(reads, page.layout.boxes) if r is not None]
    assert len(named) >= 0.75 * len(reads)
    assert all(r.supports(b.name) for r, b in zip(reads, page.layout.boxes) if r is not None)
    assert sum(got == want for got, want in named) >= 0.8 * len(named)


def test_label_words_are_told_apart_by_their_letters():
    from PIL import Image, ImageDraw, ImageFont

    for name in ("I", "III", "aVF", "aVR", "V2", "V5"):
        img = Image.new("L", (160, 60), 0)
        ImageDraw.Draw(img).text((10, 10), name, fill=255, font=ImageFont.load_default(size=30))
        scores = classify_word(np.asarray(img) > 127)
        assert max(scores, key=scores.__getitem__) == name
    assert classify_word(np.zeros((10, 10), bool)) == {}


@pytest.mark.data
def test_six_rows_labelled_only_at_their_starts_read_as_one_lead_per_row(ptb_record):
    """A page of the six limb leads, each over the whole row (ecg00005): the labels at the row
    starts and none inside the rows name it; without labels it is not read so."""
    names = ["I", "II", "III", "aVR", "aVL", "aVF"]
    for labels in (True, False):
        page, binary, _ = _page(ptb_record, layout="6x2", lead_labels=labels)
        binary = binary.copy()
        half = min(b.x0 for b in page.layout.boxes if b.col == 1)
        binary[:, half - round(page.calibration.px_per_mm_x) :] = False  # the left column only
        found = detect_layout(binary, page.calibration, DigitizeSettings())
        if labels:
            assert found.layout.name == "6x1"
            assert [b.name for b in found.layout.boxes] == names
            assert len(set(found.origins_px)) == 1  # rows printed at the same time
        else:
            assert found.layout.name != "6x1"


@pytest.mark.data
def test_labels_do_not_overrule_a_forced_layout(ptb_record):
    page, binary, _ = _page(ptb_record, layout="6x2")
    binary = binary.copy()
    half = min(b.x0 for b in page.layout.boxes if b.col == 1)
    binary[:, half - round(page.calibration.px_per_mm_x) :] = False
    found = detect_layout(binary, page.calibration, DigitizeSettings(layout="6x2"))
    assert found.layout.name == "6x2"


# ---- the same on real scans (the learned segmenter's marks channel)

_HAVE_SEGMENTER = (models_dir() / "segmenter.pt").is_file()


def _plateau_fraction(sig: np.ndarray, fs_hz: float, seconds: float = 0.5) -> float:
    """Fraction of a lead's first ``seconds`` held 0.8 mV or more above its median: a 1 mV
    calibration pulse taken into the lead fills 0.2 s of it; QRS peaks are far shorter."""
    head = np.asarray(sig[: int(seconds * fs_hz)], float)
    return float(np.mean(head - np.median(sig) >= 0.8))


@pytest.mark.data
@pytest.mark.skipif(not _HAVE_SEGMENTER, reason="models/segmenter.pt missing")
def test_greyscale_scan_of_six_limb_leads(scans_dir):
    """ecg00005 (greyscale, at half size to keep the test fast): its pulses stand on grid
    lines after a long lead-in and were traced into the leads; its labels say one limb lead
    per row (it was read as 3x4+3)."""
    from PIL import Image

    from ecgviewer.digitize import digitize
    from ecgviewer.io.images import load_image

    rgb = load_image(scans_dir / "ecg00005.jpg").rgb
    small = Image.fromarray(rgb).resize((rgb.shape[1] // 2, rgb.shape[0] // 2), Image.LANCZOS)
    dig = digitize(np.asarray(small))
    assert dig.layout.name == "6x1"
    assert [ld.name for ld in dig.leads] == ["I", "II", "III", "aVR", "aVL", "aVF"]
    assert dig.calibration.pulse_height_mm == pytest.approx(10.0, rel=0.1)
    for ld in dig.leads:
        assert _plateau_fraction(ld.signal_mv, ld.fs_hz) < 0.15, ld.name


@pytest.mark.data
@pytest.mark.skipif(not _HAVE_SEGMENTER, reason="models/segmenter.pt missing")
def test_split_separator_bars_of_a_real_page_stay_out_of_the_leads(scans_dir):
    """ecg00010 draws its lead-change bars above and below the trace: V1, V4, V5 and V6 began
    with the bar traced (a 0.3-0.7 mV jump in their first 80 ms)."""
    from ecgviewer.digitize import digitize

    dig = digitize(scans_dir / "ecg00010.png")
    edge = int(0.08 * dig.leads[0].fs_hz)
    starts = {
        b.name: float(np.ptp(ld.signal_mv[:edge]))
        for b, ld in zip(dig.layout.boxes, dig.leads, strict=True)
        if b.col > 0
    }
    assert len(starts) == 9 and max(starts.values()) < 0.25, starts
