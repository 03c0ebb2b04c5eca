"""Property tests: random damage, crops, thresholds, rotations and calibrations never raise
anything but EcgViewerError subclasses, and results keep their invariants.

Example counts are small so the file runs in seconds; to hunt bugs, multiply them:
``ECGVIEWER_HYPOTHESIS_SCALE=20 python -m pytest tests/test_properties.py``.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from badfiles import ecg_like_rgb
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from ecgviewer.digitize.types import CropBox, DigitizeSettings
from ecgviewer.errors import EcgViewerError, NoTraceFoundError
from ecgviewer.io.images import MIN_SIDE_PX, load_image

_SCALE = int(os.environ.get("ECGVIEWER_HYPOTHESIS_SCALE", "1"))
FAST = settings(
    max_examples=25 * _SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SLOW = settings(
    max_examples=12 * _SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _encode(rgb: np.ndarray, fmt: str, mode: str) -> bytes:
    im = Image.fromarray(rgb)
    if mode == "L":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("P")
    elif mode == "RGBA":
        im = im.convert("RGBA")
    if fmt == "JPEG" and im.mode in ("P", "RGBA"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


class TestLoadImage:
    @FAST
    @given(
        h=st.integers(1, 300),
        w=st.integers(1, 300),
        fmt=st.sampled_from(["PNG", "JPEG", "BMP", "TIFF", "GIF"]),
        mode=st.sampled_from(["RGB", "L", "P", "RGBA"]),
        seed=st.integers(0, 2**16),
    )
    def test_intact_files_load_with_their_size_or_are_refused_for_size(
        self, tmp_path, h, w, fmt, mode, seed
    ):
        rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
        p = tmp_path / f"x.{fmt.lower()}"
        p.write_bytes(_encode(rgb, fmt, mode))
        big_enough = min(h, w) >= MIN_SIDE_PX and max(h, w) / min(h, w) <= 60
        try:
            im = load_image(p)
        except EcgViewerError as exc:
            assert not big_enough, f"{h}×{w} {fmt}/{mode} refused: {exc}"
            return
        assert big_enough
        assert im.rgb.shape == (h, w, 3) and im.rgb.dtype == np.uint8
        if fmt in ("PNG", "BMP", "TIFF") and mode == "RGB":
            assert np.array_equal(im.rgb, rgb)

    @FAST
    @given(
        fmt=st.sampled_from(["PNG", "JPEG", "BMP", "TIFF", "GIF"]),
        cut=st.floats(0.0, 1.0),
        flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=8),
    )
    def test_damaged_files_load_or_raise_typed_errors(self, tmp_path, fmt, cut, flips):
        data = bytearray(_encode(ecg_like_rgb(120, 200), fmt, "RGB"))
        for where, xor in flips:
            data[int(where * (len(data) - 1))] ^= xor
        data = bytes(data[: max(0, int(cut * len(data)))]) if cut < 1.0 else bytes(data)
        p = tmp_path / "d.img"
        p.write_bytes(data)
        try:
            im = load_image(p)
        except EcgViewerError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        assert im.rgb.dtype == np.uint8 and im.rgb.ndim == 3 and im.rgb.shape[2] == 3

    @FAST
    @given(page=st.integers(-5, 5), dpi=st.one_of(st.floats(-10, 3000), st.just(float("nan"))))
    def test_page_and_dpi_arguments(self, tmp_path, page, dpi):
        p = tmp_path / "two.pdf"
        if not p.exists():
            ecg = Image.fromarray(ecg_like_rgb(200, 300))
            ecg.save(p, "PDF", resolution=100.0, save_all=True, append_images=[ecg])
        try:
            im = load_image(p, page=page, pdf_dpi=dpi, max_pixels=20_000_000)
        except EcgViewerError:
            return
        assert 0 <= page < 2 and dpi > 0
        # pdfium rounds the page size to whole pixels its own way: allow one pixel
        assert abs(im.rgb.shape[0] - 2 * dpi) <= 1 and abs(im.rgb.shape[1] - 3 * dpi) <= 1


# --------------------------------------------------------------------------- digitize


def _digitize():
    try:
        from ecgviewer.digitize import digitize
    except ImportError:
        pytest.skip("ecgviewer.digitize.digitize not available yet")
    return digitize


@pytest.fixture(scope="module")
def small_scan(scans_dir):
    """The smallest real scan (a 640 px wide BMP strip), so each example takes < 1 s."""
    return load_image(scans_dir / "ecg00019.bmp").rgb


@pytest.fixture(scope="module")
def rendered_strip():
    """The bundled rendered CinC strip (in the repository, so this runs without the data)."""
    from ecgviewer.paths import resources_dir

    return load_image(resources_dir() / "samples" / "cinc2017_A00004_strip.png").rgb


crops = st.one_of(
    st.none(),
    st.builds(
        CropBox,
        x0=st.integers(-50, 700),
        y0=st.integers(-50, 350),
        x1=st.integers(-50, 700),
        y1=st.integers(-50, 350),
    ),
)
settings_strategy = st.builds(
    DigitizeSettings,
    crop=crops,
    rotation_deg=st.one_of(st.none(), st.floats(-20, 20)),
    binarize_method=st.sampled_from(["auto", "otsu", "modified_otsu", "adaptive", "manual"]),
    threshold=st.one_of(st.none(), st.floats(0.0, 1.0)),
    paper_speed_mm_s=st.sampled_from([25.0, 50.0, 12.5]),
    gain_mm_mv=st.sampled_from([5.0, 10.0, 20.0]),
    px_per_mm=st.one_of(st.none(), st.floats(0.5, 40.0)),
    dpi=st.one_of(st.none(), st.floats(20.0, 1200.0)),
    layout=st.sampled_from(["auto", "single", "3x4", "3x4+1", "6x2", "12x1"]),
    output_fs_hz=st.sampled_from([100.0, 250.0, 500.0, 1000.0]),
    correct_perspective=st.booleans(),
)


def _check_invariants(result, image: np.ndarray, s: DigitizeSettings | None = None) -> None:
    h, w = result.image_rgb.shape[:2]
    c = result.crop
    assert 0 <= c.x0 < c.x1 <= w and 0 <= c.y0 < c.y1 <= h
    assert result.binary.shape == (c.height, c.width) and result.binary.dtype == bool
    cal = result.calibration
    assert cal.px_per_mm_x > 0 and cal.px_per_mm_y > 0
    assert np.isfinite([cal.px_per_mm_x, cal.px_per_mm_y]).all()
    for lead in result.leads:
        assert lead.fs_hz > 0
        assert len(lead.signal_mv) == len(lead.valid_mask)
        assert lead.valid_mask.dtype == bool
        assert np.isfinite(lead.signal_mv[lead.valid_mask]).all()
        assert 0.0 <= lead.quality <= 1.0
        assert np.isfinite(lead.start_s)
    assert all(isinstance(msg, str) and "\n" not in msg for msg in result.warnings)
    if s is not None:  # the user's choices are honoured, not silently replaced
        assert cal.paper_speed_mm_s == s.paper_speed_mm_s
        # a gain given is kept; none given: a standard one (the pulse's, else 10)
        assert cal.gain_mm_mv in ((s.gain_mm_mv,) if s.gain_mm_mv else (5.0, 10.0, 20.0))
        assert all(lead.fs_hz == s.output_fs_hz for lead in result.leads)


def _run(digitize, image, s):
    """The result, or None after a typed error (``--hypothesis-show-statistics`` counts them)."""
    try:
        result = digitize(image, s)
    except NoTraceFoundError as exc:
        assert str(exc) and "\n" not in str(exc)
        event("NoTraceFoundError")
        return None
    except EcgViewerError as exc:
        event(type(exc).__name__)
        return None
    event(f"result with {len(result.leads)} lead(s)")
    return result


class TestDigitize:
    @pytest.mark.data
    @SLOW
    @given(s=settings_strategy)
    def test_real_scan_random_settings(self, small_scan, s):
        result = _run(_digitize(), small_scan, s)
        if result is not None:
            _check_invariants(result, small_scan, s)

    @SLOW
    @given(s=settings_strategy)
    def test_rendered_strip_random_settings(self, rendered_strip, s):
        result = _run(_digitize(), rendered_strip, s)
        if result is not None:
            _check_invariants(result, rendered_strip, s)

    @SLOW
    @given(
        x0=st.integers(0, 600), y0=st.integers(0, 250), w=st.integers(1, 640), h=st.integers(1, 300)
    )
    @pytest.mark.data
    def test_random_crops_of_real_scan(self, small_scan, x0, y0, w, h):
        assume(x0 < small_scan.shape[1] and y0 < small_scan.shape[0])
        s = DigitizeSettings(crop=CropBox(x0, y0, x0 + w, y0 + h), correct_perspective=False)
        result = _run(_digitize(), small_scan, s)
        if result is not None:
            _check_invariants(result, small_scan, s)
            assert result.crop.x0 >= x0 and result.crop.x1 <= x0 + w


@pytest.fixture(scope="module")
def strip_at_defaults(rendered_strip):
    from ecgviewer.digitize import digitize

    return digitize(rendered_strip, DigitizeSettings())


class TestMetamorphic:
    """Changing only the paper speed or gain rescales time or amplitude by exactly that ratio."""

    @settings(
        max_examples=4 * _SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(speed=st.sampled_from([12.5, 50.0, 100.0]), gain=st.sampled_from([2.5, 5.0, 20.0]))
    def test_speed_and_gain_rescale(self, rendered_strip, strip_at_defaults, speed, gain):
        base = strip_at_defaults
        s = DigitizeSettings(paper_speed_mm_s=speed, gain_mm_mv=gain)
        other = _digitize()(rendered_strip, s)
        b, o = base.leads[0], other.leads[0]
        assert o.duration_s == pytest.approx(b.duration_s * 25.0 / speed, rel=0.01)
        # same page columns → compare the overlapping valid samples after time rescaling
        n = min(len(b.signal_mv), len(o.signal_mv))
        idx_o = np.arange(n)
        idx_b = np.round(idx_o * speed / 25.0).astype(int)
        keep = idx_b < len(b.signal_mv)
        idx_o, idx_b = idx_o[keep], idx_b[keep]
        m = o.valid_mask[idx_o] & b.valid_mask[idx_b]
        assert m.sum() > 100
        ratio = np.std(o.signal_mv[idx_o][m]) / np.std(b.signal_mv[idx_b][m])
        assert ratio == pytest.approx(10.0 / gain, rel=0.03)
