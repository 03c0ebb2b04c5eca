"""ecgviewer.io.images: every supported format decodes to the right pixels, on white."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from badfiles import bomb_png_bytes, ecg_like_rgb, make_corpus
from PIL import Image, ImageFile

from ecgviewer.errors import (
    EcgViewerError,
    ImageTooLargeError,
    UnreadableImageError,
)
from ecgviewer.io.images import count_pages, load_image


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    files = make_corpus(tmp_path_factory.mktemp("corpus"))
    return {f.name: f for f in files}


@pytest.fixture(scope="module")
def ecg():
    return ecg_like_rgb()


def _load(corpus, name, **kw):
    f = corpus[name]
    return load_image(f.path, page=f.page, **kw)


class TestPixels:
    def test_png_is_pixel_exact(self, corpus, ecg):
        im = _load(corpus, "ok.png")
        assert im.rgb.dtype == np.uint8 and im.rgb.shape == (600, 1000, 3)
        assert np.array_equal(im.rgb, ecg)
        assert (im.page, im.n_pages, im.format) == (0, 1, "PNG")

    def test_content_decides_format_not_extension(self, corpus, ecg):
        im = _load(corpus, "png_named.jpg")
        assert im.format == "PNG" and np.array_equal(im.rgb, ecg)

    def test_bmp(self, corpus, ecg):
        assert np.array_equal(_load(corpus, "ok.bmp").rgb, ecg)

    @pytest.mark.parametrize("name", ["deep16.tif", "deep16.png", "float32.tif"])
    def test_deep_grey_keeps_absolute_scale(self, corpus, ecg, name):
        im = _load(corpus, name)
        grey = im.rgb[:, :, 0].astype(int)
        assert np.abs(grey - ecg[:, :, 0]).max() <= 1
        assert np.array_equal(im.rgb[:, :, 0], im.rgb[:, :, 2])

    def test_float_outside_unit_range_is_stretched_monotonically_nan_white(self, corpus, ecg):
        im = _load(corpus, "float_wide.tif")
        grey = im.rgb[:, :, 0]
        assert grey[0, 0] == 255  # NaN → paper, not ink
        src = ecg[:, :, 0].astype(int).ravel()[1:]
        out = grey.astype(int).ravel()[1:]
        order = np.argsort(src, kind="stable")
        assert np.all(np.diff(out[order]) >= 0)
        assert out.min() == 0 and out.max() == 255
        assert any("stretched" in w for w in im.warnings)

    def test_multipage_tiff_selects_page(self, corpus):
        assert count_pages(corpus["multipage.tif"].path) == 3
        im = _load(corpus, "multipage.tif")
        assert im.rgb.shape == (600, 500, 3) and (im.page, im.n_pages) == (2, 3)

    def test_cmyk_jpeg_converted(self, corpus, ecg):
        im = _load(corpus, "cmyk.jpg")
        assert im.rgb.shape == ecg.shape
        assert np.abs(im.rgb.astype(int) - ecg).mean() < 8
        # the dark trace stays dark, the paper stays light
        ink = ecg[:, :, 0] < 100
        assert im.rgb[ink].mean() < 80 and im.rgb[~ink].mean() > 200

    @pytest.mark.parametrize("name", ["palette_alpha.png", "rgba_transparent.png"])
    def test_transparency_composited_on_white(self, corpus, ecg, name):
        im = _load(corpus, name)
        ink = ecg[:, :, 0] < 100
        assert (im.rgb[~ink] == 255).all(), "transparent background must become white paper"
        assert im.rgb[ink].max() <= 20

    def test_animated_gif_first_frame(self, corpus, ecg):
        im = _load(corpus, "animated.gif")
        ink = im.rgb[:, :, 0] < 100
        src = ecg[:, :, 0] < 100
        assert (ink & src).sum() > 0.9 * src.sum()
        assert count_pages(corpus["animated.gif"].path) == 1
        assert im.warnings and "first" in im.warnings[0]

    def test_exif_orientation_honoured(self, corpus, ecg):
        im = _load(corpus, "exif_rotated.jpg")
        assert im.rgb.shape == (1000, 600, 3)
        ink = im.rgb.max(axis=2) < 90
        upright = np.rot90(ecg[:, :, 0] < 100, k=-1)  # orientation 6: rotate 90° CW to display
        wrong = np.rot90(ecg[:, :, 0] < 100, k=1)
        assert (ink & upright).sum() > 0.8 * upright.sum()
        assert (ink & wrong).sum() < 0.2 * wrong.sum()


class TestPdf:
    def test_page_rendered_at_requested_dpi_on_white(self, corpus, ecg):
        f = corpus["two_pages.pdf"]  # saved at 100 dpi, 1000×600 px = 10×6 in
        assert count_pages(f.path) == 2
        im = load_image(f.path, page=1, pdf_dpi=100)
        assert (im.format, im.dpi, im.page, im.n_pages) == ("PDF", 100.0, 1, 2)
        assert im.rgb.shape == (600, 1000, 3)
        # page 2 holds the image rotated by 180°
        assert np.abs(im.rgb.astype(int) - ecg[::-1, ::-1]).mean() < 10
        assert np.abs(im.rgb.astype(int) - ecg).mean() > 15

    def test_default_dpi_is_the_scanned_pages_own(self, corpus):
        # an image saved as PDF at 100 dpi renders at 100 dpi unless a dpi is asked for
        im = load_image(corpus["two_pages.pdf"].path)
        assert im.rgb.shape == (600, 1000, 3) and im.dpi == 100.0
        im = load_image(corpus["two_pages.pdf"].path, pdf_dpi=200)
        assert im.rgb.shape == (1200, 2000, 3) and im.dpi == 200.0

    def test_blank_pdf_page_is_white_not_black(self, tmp_path):
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument.new()
        doc.new_page(612, 792)
        doc.save(str(tmp_path / "blank.pdf"))
        doc.close()
        im = load_image(tmp_path / "blank.pdf", pdf_dpi=72)
        assert im.rgb.shape == (792, 612, 3) and (im.rgb == 255).all()

    def test_concurrent_loads_from_threads_agree(self, corpus):
        """pdfium is not thread-safe; the module serialises it (GUI workers + batch threads)."""
        from concurrent.futures import ThreadPoolExecutor

        path = corpus["two_pages.pdf"].path
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda i: load_image(path, page=i % 2, pdf_dpi=60), range(8)))
        for i, im in enumerate(results):
            assert np.array_equal(im.rgb, results[i % 2].rgb)
        assert not np.array_equal(results[0].rgb, results[1].rgb)

    @pytest.mark.parametrize("dpi", [0, -5, float("nan"), float("inf")])
    def test_invalid_dpi_is_a_typed_error(self, corpus, dpi):
        with pytest.raises(EcgViewerError):
            load_image(corpus["two_pages.pdf"].path, pdf_dpi=dpi)


class TestMetadataAndLimits:
    def test_dpi_read_from_file(self, tmp_path, ecg):
        Image.fromarray(ecg).save(tmp_path / "a.png", dpi=(300, 300))
        assert load_image(tmp_path / "a.png").dpi == pytest.approx(300, abs=0.1)
        Image.fromarray(ecg).save(tmp_path / "b.tif", dpi=(150, 150))
        assert load_image(tmp_path / "b.tif").dpi == pytest.approx(150)

    def test_pixel_budget_is_a_parameter(self, corpus):
        with pytest.raises(ImageTooLargeError, match="MP"):
            _load(corpus, "ok.png", max_pixels=500_000)
        assert _load(corpus, "ok.png", max_pixels=600_000).rgb.shape == (600, 1000, 3)

    def test_truncated_stays_an_error_even_if_pil_was_told_otherwise(self, corpus):
        old = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            with pytest.raises(UnreadableImageError, match="truncated"):
                _load(corpus, "truncated.png")
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = old

    @pytest.mark.parametrize("page", [1.5, "0", None])
    def test_page_must_be_whole(self, corpus, page):
        with pytest.raises(EcgViewerError, match="whole number"):
            load_image(corpus["ok.png"].path, page=page)

    def test_numpy_arguments_accepted(self, corpus):
        im = load_image(corpus["two_pages.pdf"].path, page=np.int64(1), pdf_dpi=np.float32(50))
        assert (im.page, im.dpi) == (1, 50.0)

    def test_nul_byte_in_name(self, tmp_path):
        with pytest.raises(UnreadableImageError, match="cannot access"):
            load_image(str(tmp_path / "a\x00b.png"))

    def test_missing_file(self, tmp_path):
        with pytest.raises(UnreadableImageError, match="no such file"):
            load_image(tmp_path / "nope.png")

    def test_bomb_never_allocates(self, tmp_path):
        """Load a 100 MP and a 40 GP bomb in a child capped at 1 GiB of address space."""
        for side, full in ((10_000, True), (200_000, False)):
            p = tmp_path / f"bomb{side}.png"
            p.write_bytes(bomb_png_bytes(side, side, full=full))
            code = textwrap.dedent(
                f"""
                import resource
                resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
                from ecgviewer.io.images import load_image
                from ecgviewer.errors import ImageTooLargeError
                try:
                    load_image({str(p)!r})
                except ImageTooLargeError as e:
                    print("refused:", e)
                """
            )
            env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
            out = subprocess.run(
                [sys.executable, "-c", code],
                check=False,
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )
            assert out.returncode == 0, out.stderr[-2000:]
            assert out.stdout.startswith("refused:")


@pytest.mark.data
class TestRealScans:
    def test_every_real_scan_loads(self, scans_dir):
        paths = sorted(
            p for p in scans_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
        )
        assert len(paths) >= 50
        for p in paths:
            im = load_image(p)
            assert im.rgb.dtype == np.uint8 and im.rgb.ndim == 3 and im.rgb.shape[2] == 3, p
            assert min(im.rgb.shape[:2]) >= 64 and im.n_pages == 1, p
            assert im.rgb.std() > 5, f"{p.name} decoded to a flat image"
