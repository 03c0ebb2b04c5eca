"""Paper wrinkles (issue 18): the grid's local displacement is measured, and a wrinkled page is
flattened before it is read; flat pages are left exactly as they are."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.digitize import DigitizeSettings, digitization_to_record, digitize
from ecgviewer.digitize.binarize import binarize
from ecgviewer.digitize.grid import measure_grid
from ecgviewer.digitize.preprocess import trace_darkness
from ecgviewer.digitize.wrinkles import (
    GridDisplacement,
    flatten_wrinkles,
    grid_displacement,
    undo_displacement,
)
from ecgviewer.io.signals import read_wfdb
from ecgviewer.render import RenderStyle, render_ecg
from ecgviewer.scoring import score_digitization

STEP_PX = 8.0


@pytest.fixture(scope="module")
def flat_page(ptbxl_dir):
    record = read_wfdb(ptbxl_dir / "records500" / "00000" / "00301_hr")
    return render_ecg(record, RenderStyle(dpi=200, grid="red"), seed=3)


def _wrinkle_field(shape_hw, amp_px: float = 2.0) -> GridDisplacement:
    """A known displacement (image = flat + field): ripples about 12 mm long, both axes."""
    fh, fw = int(shape_hw[0] // STEP_PX) + 1, int(shape_hw[1] // STEP_PX) + 1
    yy, xx = np.mgrid[0:fh, 0:fw] * STEP_PX / 7.874  # mm at 200 dpi
    dx = amp_px * np.sin(2 * np.pi * xx / 13.0 + 0.7) * np.cos(2 * np.pi * yy / 17.0)
    dy = amp_px * np.cos(2 * np.pi * xx / 11.0) * np.sin(2 * np.pi * yy / 14.0 + 0.3)
    return GridDisplacement(dx, dy, np.ones((fh, fw), bool), STEP_PX)


def _wrinkled(flat_rgb: np.ndarray, field: GridDisplacement) -> np.ndarray:
    """The flat page moved by ``field``: each pixel p shows the flat page at p - field(p)."""
    minus = GridDisplacement(-field.dx_px, -field.dy_px, field.valid, field.step_px)
    return undo_displacement(flat_rgb, minus)


def _ink(rgb: np.ndarray) -> np.ndarray:
    return binarize(trace_darkness(rgb), "modified_otsu").binary


def _at(field: GridDisplacement, step_px: float, shape_hw) -> tuple[np.ndarray, np.ndarray]:
    """``field`` sampled where a field of step ``step_px`` has its points."""
    ys = np.minimum(np.arange(shape_hw[0]) * step_px / field.step_px, field.dx_px.shape[0] - 1)
    xs = np.minimum(np.arange(shape_hw[1]) * step_px / field.step_px, field.dx_px.shape[1] - 1)
    iy, ix = np.rint(ys).astype(int), np.rint(xs).astype(int)
    return field.dx_px[np.ix_(iy, ix)], field.dy_px[np.ix_(iy, ix)]


def test_measures_a_known_displacement(flat_page):
    truth = _wrinkle_field(flat_page.image_rgb.shape[:2])
    page = _wrinkled(flat_page.image_rgb, truth)
    grid = measure_grid(page)
    disp = grid_displacement(page, _ink(page), grid.px_per_mm_x, grid.px_per_mm_y)
    tx, ty = _at(truth, disp.step_px, disp.dx_px.shape)
    inner = disp.valid.copy()
    inner[:3], inner[-3:], inner[:, :3], inner[:, -3:] = False, False, False, False
    assert inner.mean() > 0.5
    for got, want in ((disp.dx_px, tx), (disp.dy_px, ty)):
        err = (got - want)[inner]
        err -= np.median(err)  # the field is known up to its affine part
        assert np.corrcoef(got[inner], want[inner])[0, 1] > 0.9
        assert np.sqrt(np.mean(err**2)) < 0.6  # px, against a 2 px ripple
    assert disp.is_wrinkled(grid.px_per_mm_x)


def test_flat_page_is_left_alone(flat_page):
    rgb = flat_page.image_rgb
    grid = measure_grid(rgb)
    out, shift = flatten_wrinkles(rgb, _ink(rgb), grid.px_per_mm_x, grid.px_per_mm_y)
    assert out is rgb
    assert shift < 0.2


def test_wrinkled_page_reads_better_flattened(flat_page):
    page = _wrinkled(flat_page.image_rgb, _wrinkle_field(flat_page.image_rgb.shape[:2]))
    truth = flat_page.truth
    scores = []
    for geometry in (False, True):  # correct_perspective switches all page geometry off
        dig = digitize(page, DigitizeSettings(dpi=200, correct_perspective=geometry))
        est = digitization_to_record(dig, fs_hz=truth.fs_hz)
        scores.append(score_digitization(truth, est).mean_snr_db)
    as_is, flattened = scores
    assert flattened > as_is + 3.0, scores
    assert flattened > 15.0, scores
