"""The learned trace segmenter: shipped weights, determinism, tiling, accuracy on a real record."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ecgviewer.errors import ModelError  # noqa: E402
from ecgviewer.segment import infer  # noqa: E402
from ecgviewer.segment.model import InferenceSegmenter, TraceSegmenter, count_parameters  # noqa: E402
from ecgviewer.segment.preprocess import normalise, paper_white  # noqa: E402
from ecgviewer.segment.weights import default_weights_path, load_weights  # noqa: E402

# Measured on PTB-XL 00290 (a validation record) at 200 dpi, 3x4+1, red grid: see
# models/SEGMENTER_CARD.md. The bars sit below the measurement; a random network scores ~0.
MIN_TRACE_DICE = 0.80
MAX_GRID_CALLED_TRACE = 0.02


@pytest.fixture(scope="module")
def net() -> TraceSegmenter:
    return load_weights()[0]


def test_shipped_weights_load_and_are_small(net):
    path = default_weights_path()
    assert path.stat().st_size <= 10 * 1024 * 1024
    assert count_parameters(net) <= 2_000_000
    assert not net.training


def test_missing_or_bad_weights_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_weights(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_weights(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(ModelError, match="not trace segmenter"):
        load_weights(other)


def test_weights_that_do_not_match_their_card_are_refused(tmp_path):
    """A corrupted or swapped weight file beside its card is refused, not run."""
    import shutil

    copy = tmp_path / "segmenter.pt"
    shutil.copy(default_weights_path(), copy)
    shutil.copy(default_weights_path().with_suffix(".json"), copy.with_suffix(".json"))
    load_weights(copy)  # an intact copy loads
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="do not match their card"):
        load_weights(copy)


def _page(seed: int = 0, shape=(300, 420)) -> np.ndarray:
    """A cheap synthetic page: pink grid, a dark wavy trace."""
    h, w = shape
    img = np.full((h, w, 3), 250, np.uint8)
    img[::8] = (240, 190, 200)
    img[:, ::8] = (240, 190, 200)
    x = np.arange(w)
    rng = np.random.default_rng(seed)
    y = (h / 2 + 30 * np.sin(x / 17.0) + rng.normal(0, 2, w)).astype(int)
    for dy in (-1, 0, 1):
        img[np.clip(y + dy, 0, h - 1), x] = (20, 20, 20)
    return img


def test_inference_is_deterministic():
    page = _page()
    a = infer.segment_page(page, px_per_mm=8.0, threads=1)
    b = infer.segment_page(page, px_per_mm=8.0, threads=1)
    assert a.trace_prob.shape == page.shape[:2] and a.trace_prob.dtype == np.float32
    assert np.array_equal(a.trace_prob, b.trace_prob)
    assert np.array_equal(a.marks_prob, b.marks_prob)


def test_tiled_matches_untiled(net):
    page = _page(1, shape=(480, 640))
    x = normalise(page)
    whole = infer.predict_normalised(net, x, max_tile=1024)
    tiled = infer.predict_normalised(net, x, max_tile=256, overlap=96)
    diff = np.abs(whole - tiled)
    assert diff.mean() < 0.01
    assert np.quantile(diff, 0.999) < 0.2


def _real_page_8px_per_mm(scans_dir) -> np.ndarray:
    """A real scan (12.3 px/mm) resampled to the network's 8 px/mm: 2060×1028 px."""
    from PIL import Image

    from ecgviewer.io.images import load_image

    img = load_image(scans_dir / "ecg00001.png").rgb
    size = (round(img.shape[1] * 8 / 12.3), round(img.shape[0] * 8 / 12.3))
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR))


def test_inference_form_runs_a_real_page_in_one_pass(net, scans_dir):
    """The inference form (BatchNorm folded, stride-4 stem, transposed-conv head,
    channels-last) gives the trained network's probabilities on a whole real page to float
    rounding, in one pass: no tile seams (tiles of 1024 px differed by up to 0.2 here)."""
    page = _real_page_8px_per_mm(scans_dir)
    x = normalise(page)
    reference = infer.predict_normalised(net, x, max_tile=4096)  # trained net, untiled
    fast = infer.predict_normalised(InferenceSegmenter(net), x)  # default tiling
    assert np.abs(fast - reference).max() < 1e-4  # measured 4e-6


def test_normalise_by_table_equals_the_formula(scans_dir):
    """The table look-up normalisation is the formula, bit for bit, on a real colour scan,
    and comes channels-last (what the inference network reads without a copy)."""
    from ecgviewer.io.images import load_image

    img = load_image(scans_dir / "ecg00030.jpg").rgb
    white = paper_white(img)
    x = np.clip(img.astype(np.float32) * (1.0 / 255.0) / white, 0.0, 1.5)
    expected = np.concatenate([(x.transpose(2, 0, 1) - 0.75) * 4.0,
                               ((1.0 - x.min(axis=2)) - 0.25)[None] * 4.0])
    got = normalise(img)
    assert np.array_equal(got, expected)
    assert torch.from_numpy(got)[None].is_contiguous(memory_format=torch.channels_last)


def test_scale_is_resampled_back_to_the_input():
    page = _page(2, shape=(200, 300))
    res = infer.segment_page(page, px_per_mm=4.0, threads=1)  # upsampled x2 inside
    assert res.trace_prob.shape == (200, 300)
    est = infer.segment_page(page, threads=1)
    assert est.px_per_mm_estimated and est.px_per_mm == pytest.approx(300 / 280.0)


@pytest.mark.data
def test_real_record_trace_overlap(ptbxl_dir):
    from ecgviewer.io.signals import read_wfdb
    from ecgviewer.render import RenderStyle, render_ecg

    record = read_wfdb(ptbxl_dir / "records500" / "00000" / "00290_hr.hea")
    style = RenderStyle(layout="3x4+1", dpi=200.0, grid="red")
    page = render_ecg(record, style).image_rgb
    bare = replace(style, grid="none", calibration_pulse=False, lead_labels=False,
                   separators=False)
    alpha = (255.0 - render_ecg(record, bare).image_rgb.mean(axis=2)) / (255.0 - 18.0)
    true = alpha >= 0.25
    grid_px = (page.min(axis=2) < 235) & (render_ecg(record, replace(style, grid="none"))
                                          .image_rgb.min(axis=2) > 250)
    res = infer.segment_page(page, dpi=200.0, threads=2)
    pred = res.trace_prob >= 0.5
    dice = 2 * np.sum(pred & true) / (np.sum(pred) + np.sum(true))
    assert dice >= MIN_TRACE_DICE, f"trace Dice {dice:.3f}"
    assert np.mean(pred[grid_px]) <= MAX_GRID_CALLED_TRACE
