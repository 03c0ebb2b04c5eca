"""Another row's deep wave is cut where it meets this row's line, not where one of its strokes
has a gap (issue 20).

ecg00047 (a phone photo of a 3x4+1 page): V3's deep S waves reach the rhythm strip (lead II)
at its QRS complexes. Their thin strokes have gaps, and a row where one stroke is missing
looked like the wave's narrowest point (its tip), so the strip was cut too high and read
V3's strokes as 2.1 mV R waves; lead II's own R waves are about 0.8 mV (the grid's II).
"""

from __future__ import annotations

import pytest


@pytest.mark.data
def test_the_rhythm_strip_is_cut_below_v3s_broken_strokes(scans_dir):
    from ecgviewer.digitize import digitize

    dig = digitize(scans_dir / "ecg00047.jpg")
    assert dig.layout.name == "3x4+1"
    strip = dig.leads[-1]
    grid_ii = next(lead for lead in dig.leads[:12] if lead.name == "II")
    v3 = next(lead for lead in dig.leads if lead.name == "V3")
    assert strip.name == "II" and strip.signal_mv.size / strip.fs_hz > 9.0
    assert grid_ii.signal_mv.max() < 1.2  # the same lead, printed in the grid
    assert strip.signal_mv.max() < 1.6  # was 2.1: V3's strokes
    assert v3.signal_mv.min() < -2.5  # V3 keeps its S waves
