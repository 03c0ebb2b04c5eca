"""A multi-row single-lead strip whose last row ends early is a strip, not a 3x4+1 page: the
rhythm strip of a 3x4+1 is as wide as the rows above it."""

from __future__ import annotations

import pytest

from ecgviewer.digitize.binarize import binarize, darkness_as_probability
from ecgviewer.digitize.layout import detect_layout
from ecgviewer.digitize.preprocess import trace_darkness
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.io.signals import read_signal
from ecgviewer.render import RenderStyle, render_ecg


@pytest.mark.data
def test_four_rows_with_a_short_last_row_read_as_one_strip(cinc_dir):
    """CinC A00001 (30 s) in 9 s rows: three full rows and a 3 s one. Regular beats line up
    across rows by chance, and four rows used to be taken for 3x4+1 whatever their widths (a
    36 s strip on a dark blue grid read as twelve 2.5 s leads)."""
    record = read_signal(cinc_dir / "A00001.mat")
    page = render_ecg(record, RenderStyle(dpi=100, layout="single", row_seconds=9.0), seed=1)
    assert len({b.row for b in page.layout.boxes}) == 4
    binary = binarize(darkness_as_probability(trace_darkness(page.image_rgb)), "auto").binary
    found = detect_layout(binary, page.calibration, DigitizeSettings())
    assert found.layout.name == "single"
    assert len(found.layout.boxes) == 4
