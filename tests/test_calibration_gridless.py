"""Scale on pages without a grid: a weak "grid" (one axis only, or no 1 mm lines) that
disagrees with a believable dpi must not override it; a real grid must still beat a wrong dpi."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from ecgviewer.digitize.calibration import calibrate, reconcile_grid
from ecgviewer.digitize.grid import GridMeasurement, measure_grid
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.io.signals import read_cinc_mat
from ecgviewer.rhythm.training import image_data


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("A00043", 37),  # tinted paper's texture: a 2.76 px "grid" along x only (was 139.7 s)
        ("A00298", 262),  # textured paper: a 5 mm-like period along y only (was 26.2 s of 30)
    ],
)
def test_gridless_strip_reads_at_the_stated_dpi(cinc_dir, name, index):
    """CinC 2017 records printed on the rhythm benchmark's varied paper with no grid, told
    203.2 dpi (8 px/mm): the record must read back as long as it was printed."""
    record = read_cinc_mat(cinc_dir / f"{name}.mat")
    trip = image_data.print_and_read(record, seed=image_data.record_seed(2017, index))
    assert "grid=none" in trip.tags
    assert trip.duration_s == pytest.approx(trip.printed_s, rel=0.02)


def test_real_grid_beats_a_wrong_stated_dpi(scans_dir):
    """ecg00012.jpg says 600 dpi (23.6 px/mm) but its grid, seen on both axes with its 1 mm
    lines, is 14 px/mm (a 12-lead page 10 s wide): the grid wins."""
    path = scans_dir / "ecg00012.jpg"
    if not path.exists():
        pytest.skip(f"{path} missing")
    with Image.open(path) as im:
        dpi = float(im.info["dpi"][0])
        rgb = np.asarray(im.convert("RGB"))
    grid = measure_grid(rgb)
    assert grid.found and grid.fine_lines and grid.both_axes
    assert reconcile_grid(grid, dpi) is grid
    cal, _ = calibrate(grid, None, DigitizeSettings(), dpi=dpi)
    assert cal.source == "grid" and cal.px_per_mm_x == pytest.approx(14.0, rel=0.03)


class TestWeakGridAgainstDpi:
    strong = GridMeasurement(2.76, 2.76, True, 0.7, 2.76)
    one_axis = replace(strong, both_axes=False)

    def test_one_axis_period_far_from_a_believable_dpi_is_not_a_grid(self):
        cal, warnings = calibrate(self.one_axis, None, DigitizeSettings(), dpi=203.2)
        assert cal.source == "dpi" and cal.px_per_mm_x == pytest.approx(8.0)
        assert not cal.grid_found and any("one axis only" in w for w in warnings)
        gone = reconcile_grid(self.one_axis, 203.2)
        assert not gone.found and gone.px_per_mm_x == 0.0 and "one axis only" in gone.notes

    def test_what_still_counts_as_a_grid(self):
        # seen on both axes with 1 mm lines: the grid wins over any dpi
        assert calibrate(self.strong, None, DigitizeSettings(), dpi=203.2)[0].source == "grid"
        # a camera's or screenshot's 72/96 dpi means nothing
        assert calibrate(self.one_axis, None, DigitizeSettings(), dpi=96)[0].source == "grid"
        # a one-axis pitch within printing tolerance of the dpi is kept
        near = replace(self.one_axis, px_per_mm_x=7.7, px_per_mm_y=7.7, small_box_px=7.7)
        assert calibrate(near, None, DigitizeSettings(), dpi=203.2)[0].source == "grid"
        assert reconcile_grid(near, 203.2) is near
        # ... but a coarse one 15 % off is not (A00298's textured paper)
        coarse = replace(near, px_per_mm_x=9.2, px_per_mm_y=9.2, small_box_px=9.2)
        coarse = replace(coarse, fine_lines=False)
        assert calibrate(coarse, None, DigitizeSettings(), dpi=203.2)[0].source == "dpi"
