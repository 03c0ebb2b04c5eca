"""Bars joining two rows' lines are not traced as waves (issue 20).

ecg00030 (a phone photo of a 3x4+1 page) has a thin straight vertical line from aVR's trace
down to aVL's, 0.14 s into the aVR/aVL column. Traced per column, aVR followed it down as a
1.4 mV spike and aVL up as a 2.9 mV one; the page's aVR and aVL waves are all under 0.7 mV.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.digitize.separators import bar_mask
from ecgviewer.digitize.trace import trace_path

PX_PER_MM = 4.0


def _page() -> np.ndarray:
    """Two rows' lines (rows 60 and 160, 3 px thick) on a 300 × 400 page."""
    page = np.zeros((300, 400), bool)
    page[59:62, 10:390] = True
    page[159:162, 10:390] = True
    return page


def _spike(page: np.ndarray, x: int, y_base: int, y_tip: int, half_base: float) -> None:
    """A QRS-like spike: an up- and a downstroke, ``2 * half_base`` px apart at the base,
    meeting at the tip (2 px wide strokes)."""
    step = 1 if y_tip > y_base else -1
    n = abs(y_tip - y_base)
    for i, y in enumerate(range(y_base, y_tip + step, step)):
        off = half_base * (1.0 - i / n)
        for xc in (x - off, x + off):
            page[y, int(round(xc)) : int(round(xc)) + 2] = True


def test_a_thin_bar_from_one_line_to_the_next_is_a_bar():
    page = _page()
    page[60:161, 100:102] = True  # the bar
    bars = bar_mask(page, None, 0, 400, 3.0, PX_PER_MM)
    assert bars[70:150, 100:102].all()
    assert not bars[:, :95].any() and not bars[:, 106:].any()


def test_spikes_and_deep_waves_are_not_bars():
    """A tall narrow R wave (free tip), and a deep S wave reaching the next row's line (it
    widens into its own row's line) keep their ink."""
    page = _page()
    _spike(page, 200, 60, 5, 4.0)  # 55 px = 14 mm R wave
    _spike(page, 300, 60, 160, 5.0)  # an S wave from row 60 down to the next line
    bars = bar_mask(page, None, 0, 400, 3.0, PX_PER_MM)
    assert not bars.any()


def test_the_path_runs_on_along_the_line_across_a_faint_bar():
    """As on ecg00030: the bar's middle is too faint for the binary image (only the darkness
    map has it), so its first piece in the band is too short to look like a line."""
    page = _page()
    dark = page.astype(np.float32)
    dark[60:161, 100:102] = 0.15
    page[60:100, 100:102] = True
    page[125:161, 100:102] = True
    path = trace_path(page, 10, 390, 0, 140, 60.0, 50.0, 6, dark)
    near = np.abs(path.x_px - 101) <= 3
    assert near.any() and np.abs(path.y_px[near] - 60.0).max() < 3.0
    assert path.y_px.max() < 65.0  # was: down the bar's first piece to row 100


@pytest.fixture(scope="module")
def ecg00030(scans_dir):
    from ecgviewer.digitize import digitize

    return digitize(scans_dir / "ecg00030.jpg")


@pytest.mark.data
def test_the_bar_between_avr_and_avl_is_not_traced_on_a_phone_photo(ecg00030):
    dig = ecg00030
    assert dig.layout.name == "3x4+1"
    leads = {lead.name: lead for lead in dig.leads[:12]}
    for name in ("aVR", "aVL"):
        lead = leads[name]
        assert lead.signal_mv.size / lead.fs_hz > 2.0
        assert np.abs(lead.signal_mv).max() < 0.9, name  # was 1.4 (aVR) and 2.9 (aVL)
    # the QRS strokes of the big precordial leads stay (they are near-vertical too)
    assert leads["V1"].signal_mv.min() < -2.0
    assert leads["V2"].signal_mv.min() < -2.0
    assert leads["V3"].signal_mv.min() < -3.0
