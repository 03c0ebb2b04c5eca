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
from ecgviewer.digitize.layout import detect_layout
from ecgviewer.digitize.preprocess import trace_darkness
from ecgviewer.digitize.rows import find_rows, locate_rows
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
from ecgviewer.render import LAYOUTS, RenderStyle, plan_page, render_ecg

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
