"""Hostile and odd input files: each gives its typed error with a one-line reason, or loads.

The per-file time bound is a hang guard only (a generous limit on a worker thread), not a
speed assertion; speed and memory live in benchmarks/bench_bad_files.py.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from badfiles import make_corpus

from ecgviewer import errors
from ecgviewer.errors import EcgViewerError, NoTraceFoundError
from ecgviewer.io.images import count_pages, load_image

HANG_GUARD_S = 20.0
_CORPUS_DIR = Path(tempfile.mkdtemp(prefix="ecgviewer-badfiles-"))
atexit.register(shutil.rmtree, _CORPUS_DIR, ignore_errors=True)
CORPUS = make_corpus(_CORPUS_DIR)  # made at collection so the ids read as file names


def _guarded(fn, *args, **kw):
    """Run ``fn`` on a daemon thread; fail (not hang) if it takes longer than the guard.

    A daemon thread, not an executor: a stuck call must not block pytest from exiting.
    """
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kw)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    if worker.is_alive():
        pytest.fail(f"{fn.__name__}{args} still running after {HANG_GUARD_S:g} s (hang?)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _outcome(f):
    try:
        return _guarded(load_image, f.path, page=f.page), None
    except EcgViewerError as exc:
        return None, exc


class TestLoadCorpus:
    @pytest.mark.parametrize("f", CORPUS, ids=[f.name for f in CORPUS])
    def test_expected_outcome(self, f):
        im, exc = _outcome(f)
        if f.expect is None:
            assert exc is None, f"{f.name} ({f.note}) should load, got {exc!r}"
            assert im.rgb.dtype == np.uint8 and im.rgb.ndim == 3 and im.rgb.shape[2] == 3
            if f.shape is not None:
                assert im.rgb.shape[:2] == f.shape
        else:
            assert exc is not None, f"{f.name} ({f.note}) should fail, loaded {im.rgb.shape}"
            assert type(exc) is getattr(errors, f.expect), f"{f.name}: {exc!r}"
            reason = str(exc)
            assert reason and "\n" not in reason and len(reason) < 300
            assert f.name in reason, "the reason names the file"
            assert "Traceback" not in reason

    @pytest.mark.parametrize("f", [f for f in CORPUS if f.expect is None], ids=lambda f: f.name)
    def test_count_pages_agrees_with_load(self, f):
        n = _guarded(count_pages, f.path)
        assert n == load_image(f.path, page=f.page).n_pages


def _digitize():
    try:
        from ecgviewer.digitize import digitize
    except ImportError:
        pytest.skip("ecgviewer.digitize.digitize not available yet")
    return digitize


class TestNoEcgPages:
    """Pages that load but hold no ECG: NoTraceFoundError or a result with warnings."""

    @pytest.mark.parametrize(
        "f",
        [
            pytest.param(f, id=f.name)
            for f in CORPUS
            if f.page_kind is not None
        ],
    )
    def test_digitize_fails_cleanly(self, f):
        digitize = _digitize()
        from ecgviewer.digitize.types import DigitizeSettings

        image = load_image(f.path).rgb
        try:
            result = _guarded(digitize, image, DigitizeSettings())
        except NoTraceFoundError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        # no exception: the result must admit it found nothing trustworthy
        assert result.warnings, f"{f.name}: digitize returned a result without any warning"
        for lead in result.leads:
            assert len(lead.signal_mv) == len(lead.valid_mask)
            assert np.isfinite(lead.signal_mv[lead.valid_mask]).all()


def _strip_variants(folder: Path) -> dict[str, dict]:
    """The bundled rendered CinC strip re-saved in every odd format we accept.

    Returns {file name: load_image keyword arguments}.
    """
    from PIL import Image

    from ecgviewer.paths import resources_dir

    src = Image.open(resources_dir() / "samples" / "cinc2017_A00004_strip.png").convert("RGB")
    rgb = np.asarray(src)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side, displayed upright
    pal = src.quantize(64)
    blank = Image.fromarray(np.full((300, 300, 3), 255, np.uint8))
    writers = {
        "ref.png": (lambda p: src.save(p), {}),
        "q85.jpg": (lambda p: src.save(p, quality=85), {}),
        "cmyk.jpg": (lambda p: src.convert("CMYK").save(p, quality=90), {}),
        "grey16.tif": (
            lambda p: Image.fromarray(np.asarray(src.convert("L")).astype(np.uint16) * 257).save(p),
            {},
        ),
        "palette_alpha.png": (lambda p: pal.save(p, transparency=pal.getpixel((5, 5))), {}),
        "palette.gif": (lambda p: src.save(p), {}),
        "exif6.jpg": (
            lambda p: src.rotate(90, expand=True).save(p, quality=92, exif=exif.tobytes()),
            {},
        ),
        "page.pdf": (lambda p: src.save(p, resolution=100.0), {"pdf_dpi": 100}),
        "page_200dpi.pdf": (lambda p: src.save(p, resolution=100.0), {"pdf_dpi": 200}),
        "page2.tif": (
            lambda p: blank.save(p, save_all=True, append_images=[Image.fromarray(rgb)]),
            {"page": 1},
        ),
    }
    for name, (write, _) in writers.items():
        write(folder / name)
    return {name: kw for name, (_, kw) in writers.items()}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strip-variants")
    return folder, _strip_variants(folder)


class TestOddFormatsDigitizeAlike:
    """Format handling must not change what is digitised: each variant of a rendered strip
    with known ground truth digitises to the truth (first 10 s row)."""

    @pytest.mark.parametrize(
        "name",
        [
            "ref.png",
            "q85.jpg",
            "cmyk.jpg",
            "grey16.tif",
            "palette_alpha.png",
            "palette.gif",
            "exif6.jpg",
            "page.pdf",
            "page_200dpi.pdf",
            "page2.tif",
        ],
    )
    def test_variant_matches_truth(self, variants, name):
        digitize = _digitize()
        from ecgviewer.digitize.pipeline import digitization_to_record
        from ecgviewer.digitize.types import DigitizeSettings
        from ecgviewer.io.signals import Record, read_wfdb
        from ecgviewer.paths import resources_dir
        from ecgviewer.scoring import score_digitization

        folder, kwargs = variants
        image = load_image(folder / name, **kwargs[name])
        got = digitization_to_record(_guarded(digitize, image, DigitizeSettings()))
        truth = read_wfdb(resources_dir() / "samples" / "cinc2017_A00004_strip_truth.hea")
        assert got.duration_s == pytest.approx(truth.duration_s, rel=0.02)

        def first_row(r):
            return Record(r.signal_mv[: int(10 * r.fs_hz)], r.fs_hz, r.lead_names)

        score = score_digitization(first_row(truth), first_row(got)).leads[0]
        # measured 2026-11-25: r = 0.976 (PDF at 200 dpi) .. 0.994 (PNG), coverage 1.00
        assert score.pearson_r > 0.95 and score.coverage > 0.9, score
