"""Photo geometry (ecgviewer.digitize.dewarp): a known perspective + curl warp of a rendered
page is undone to within a measured tolerance, a clean render passes through unchanged, and
a real phone photo gets a plausible scale and a straighter grid."""

from __future__ import annotations

import numpy as np
import pytest
from photowarp import five_mm_only, photo_warp, position_error_mm, traced_region_px

from ecgviewer.digitize import gridfield
from ecgviewer.digitize.dewarp import (
    FLAT_MM,
    QUICK_FLAT_FRACTION,
    find_sheet,
    fit_grid_map,
    rectify_page,
)
from ecgviewer.digitize.straightness import grid_straightness
from ecgviewer.io.signals import read_wfdb
from ecgviewer.render import RenderStyle, render_ecg

DPI = 100.0


@pytest.fixture(scope="module")
def clean_page(ptbxl_dir):
    record = read_wfdb(ptbxl_dir / "records500" / "00000" / "00001_hr")
    return render_ecg(record, RenderStyle(layout="3x4+1", dpi=DPI, grid="red"))


@pytest.fixture(scope="module")
def warped(clean_page):
    photo, warp = photo_warp(clean_page.image_rgb, DPI / 25.4, seed=0)
    return photo, warp, rectify_page(photo)


def test_clean_render_passes_through_unchanged(clean_page):
    result = rectify_page(clean_page.image_rgb)
    assert not result.changed and result.method == "none"
    assert np.array_equal(result.image_rgb, clean_page.image_rgb)
    assert result.nonlinearity_mm < 0.2  # measured 0.07 mm: the skip threshold is 0.5
    assert result.px_per_mm == pytest.approx(DPI / 25.4, rel=0.005)


def test_synthetic_photo_sheet_found(warped):
    photo, warp, _ = warped
    sheet = find_sheet(photo)
    assert sheet is not None and sheet.found and all(sheet.sides_seen)
    # the true corners: photo points that map onto the page's corners
    h, w = warp.page_hw
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    xs, ys = np.meshgrid(np.arange(photo.shape[1], step=2.0), np.arange(photo.shape[0], step=2.0))
    xp, yp = warp(xs, ys)
    for (cx, cy), found in zip(corners, sheet.corners_xy):
        k = np.argmin(np.hypot(xp - cx, yp - cy))
        assert np.hypot(xs.flat[k] - found[0], ys.flat[k] - found[1]) < 0.02 * max(w, h)


def test_partial_sheet_leaving_the_frame(warped, clean_page):
    photo, warp, _ = warped
    crop = np.ascontiguousarray(photo[:, : int(0.85 * photo.shape[1])])  # right edge cut off
    sheet = find_sheet(crop)
    assert sheet is not None and sheet.found
    assert sheet.sides_seen == (True, False, True, True)  # top, right (the frame's), bottom, left
    result = rectify_page(crop)
    err = position_error_mm(result, warp, traced_region_px(clean_page))
    assert result.changed and np.percentile(err, 95) < 0.4  # measured 0.16 mm


def test_synthetic_warp_is_undone(warped, clean_page):
    photo, warp, result = warped
    assert result.changed and result.method == "grid"
    assert result.evidence_fraction > 0.8
    err = position_error_mm(result, warp, traced_region_px(clean_page))
    # measured: median 0.05 mm, 95th percentile 0.16 mm, max 0.38 mm (page curled by 3 mm,
    # perspective moving corners by up to 6 % of the page)
    assert np.median(err) < 0.15
    assert np.percentile(err, 95) < 0.4
    before = grid_straightness(photo)
    after = grid_straightness(result.image_rgb, mask=result.valid_mask)
    assert before.bow_mm > 1.0 and after.bow_mm < 0.6  # measured 3.5 -> 0.37 (edges extrapolated)
    assert after.pitch_spread < 0.02
    assert result.local_px_per_mm.shape == result.source_xy_of_output.shape[:2]


@pytest.mark.parametrize("name", ["ecg00047.jpg"])
def test_real_photo_straightened(scans_dir, name):
    from ecgviewer.io.images import load_image

    img = load_image(scans_dir / name).rgb
    result = rectify_page(img)
    assert result.changed and result.method == "grid"
    # ~1200 px across a ~260 mm printout
    assert 3.5 < result.px_per_mm < 5.5
    assert result.evidence_fraction > 0.8
    before = grid_straightness(img)
    after = grid_straightness(result.image_rgb, mask=result.valid_mask)
    assert after.tilt_spread_deg < 0.5 * before.tilt_spread_deg
    assert after.pitch_spread < before.pitch_spread


def test_five_mm_only_grid(ptbxl_dir):
    record = read_wfdb(ptbxl_dir / "records500" / "00000" / "00002_hr")
    dpi = 120.0
    rendered = render_ecg(record, RenderStyle(layout="3x4+1", dpi=dpi, grid="none"))
    page = five_mm_only(rendered.image_rgb, dpi / 25.4)
    flat = rectify_page(page)
    assert not flat.changed and flat.px_per_mm == pytest.approx(dpi / 25.4, rel=0.005)
    photo, warp = photo_warp(page, dpi / 25.4, seed=5)
    result = rectify_page(photo)
    assert result.changed
    err = position_error_mm(result, warp, traced_region_px(rendered))
    assert np.median(err) < 0.15 and np.percentile(err, 95) < 0.4  # measured 0.05 / 0.16


@pytest.mark.parametrize("name", ["ecg00003.png", "ecg00013.jpg"])
def test_flat_scan_stops_at_the_quick_check(scans_dir, name):
    """A flat real scan is recognised from side-by-side tiles alone (no local field map)."""
    from ecgviewer.io.images import load_image

    img = load_image(scans_dir / name).rgb
    gmap = fit_grid_map(img, None, max(img.shape[:2]) / 270.0, FLAT_MM)
    assert isinstance(gmap.mapping, gridfield.PolyMap)
    assert gmap.bend_mm < QUICK_FLAT_FRACTION * FLAT_MM  # measured 0.07 / 0.09 mm
    assert not rectify_page(img).changed


def test_bent_scan_is_not_taken_for_flat(scans_dir):
    """The real page closest to the quick check's threshold (a bent greyscale scan: quick
    check 0.91 mm, full check 1.14 mm) is still measured in full and straightened."""
    from ecgviewer.io.images import load_image

    img = load_image(scans_dir / "ecg00005.jpg").rgb
    result = rectify_page(img)
    assert result.changed and result.method == "grid"
    assert result.nonlinearity_mm > 2 * FLAT_MM  # measured 1.14 mm


def test_fast_medians_equal_numpy():
    """The tile statistics' medians are numpy's, bit for bit (NaN = no tile)."""
    import warnings

    from scipy import ndimage

    rng = np.random.default_rng(3)
    for _ in range(50):
        win = (rng.random(rng.integers(1, 9, 2)) ** 3).astype(np.float32)
        assert gridfield._median(win) == np.median(win)
        grid = rng.normal(size=rng.integers(1, 10, 2))
        grid[rng.random(grid.shape) < rng.random()] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = ndimage.generic_filter(grid, np.nanmedian, size=3, mode="constant", cval=np.nan)
        assert np.array_equal(gridfield._nanmedian_3x3(grid), ref, equal_nan=True)
