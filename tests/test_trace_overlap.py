"""Another row's wave reaching into a row's band is not traced as that row's (issue 20).

On a 3x4+1 page V3's deep S waves land on the rhythm strip (lead II) at its QRS complexes:
the leads are recorded together. Traced column by column, the strip used to follow V3's
strokes up, and read 3 mV spikes that lead II does not have.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.data
def test_the_rhythm_strip_does_not_follow_v3_s_waves_on_a_phone_photo(scans_dir):
    """ecg00030 (a phone photo): V3's S waves reach about -4 mV and end on the rhythm strip;
    the strip's own R waves are about 0.6 mV high on every beat. The strip keeps its own
    waves, V3 keeps its S waves."""
    from ecgviewer.digitize import digitize

    dig = digitize(scans_dir / "ecg00030.jpg")
    assert dig.layout.name == "3x4+1"
    strip = dig.leads[-1]
    v3 = next(lead for lead in dig.leads if lead.name == "V3")
    assert strip.name == "II" and strip.signal_mv.size / strip.fs_hz > 9.0
    assert np.nanmax(strip.signal_mv) < 1.5  # was 3.0: V3's strokes
    assert np.nanmin(v3.signal_mv) < -3.0  # V3's own S waves are not cut


@pytest.mark.data
def test_waves_reaching_into_the_next_row_are_left_to_their_own_row(ptbxl_dir):
    """PTB-XL record 41 printed 3x4+1 at 20 mm/mV: QRS complexes of neighbouring rows reach
    into each other's bands and meet tip to tip. Against the true signals, the rhythm strip
    read 17.8 dB and V5 5.3 dB while the tracer followed the neighbours' strokes (22.9 and
    20.9 dB when it leaves them to their rows)."""
    from ecgviewer.digitize import DigitizeSettings, digitization_to_record, digitize
    from ecgviewer.io.signals import read_wfdb
    from ecgviewer.render import RenderStyle, render_ecg
    from ecgviewer.scoring import score_digitization

    rec = read_wfdb(ptbxl_dir / "records500" / "00000" / "00041_hr")
    style = RenderStyle(layout="3x4+1", gain_mm_mv=20)
    page = render_ecg(rec, style, seed=1)
    dig = digitize(page.image_rgb, DigitizeSettings(dpi=style.dpi, gain_mm_mv=20))
    score = score_digitization(page.truth, digitization_to_record(dig, fs_hz=rec.fs_hz))
    snr = {s.lead: s.snr_db for s in score.leads}
    assert snr["II"] >= 20.0  # the rhythm strip (10 s of lead II)
    assert snr["V5"] >= 14.0
