"""What the GUI shares with the pipeline: the slow stage's settings, crop clipping, gaps as NaN,
the live-preview rule and the one Otsu."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgviewer.digitize.binarize import (
    AUTO_THRESHOLD,
    binarize,
    binarize_preview,
    darkness_as_probability,
    modified_otsu_threshold,
    otsu_threshold,
)
from ecgviewer.digitize.stages import (
    MIN_CROP_PX,
    PREPARE_FIELDS,
    clip_crop,
    prepare_key,
    prepare_settings,
    signal_with_gaps,
)
from ecgviewer.digitize.types import BINARIZE_METHODS, CropBox, DigitizeSettings, Lead


def test_prepare_settings_keep_only_the_prepare_fields():
    s = DigitizeSettings(rotation_deg=2.0, correct_perspective=False, dpi=150.0, threshold=0.4)
    kept = prepare_settings(s)
    assert prepare_key(kept) == prepare_key(s) == (2.0, False, 150.0)
    others = [f.name for f in dataclasses.fields(DigitizeSettings) if f.name not in PREPARE_FIELDS]
    assert all(getattr(kept, f) == getattr(DigitizeSettings(), f) for f in others)


class TestClipCrop:
    def test_whole_page_when_none(self):
        assert clip_crop(None, 80, 100) == CropBox(0, 0, 80, 100)

    def test_clipped_and_put_in_order(self):
        assert clip_crop(CropBox(-10, 50, 500, 90), 80, 100) == CropBox(0, 50, 80, 90)
        assert clip_crop(CropBox(60, 90, 10, 20), 80, 100) == CropBox(10, 20, 60, 90)

    def test_tiny_crop_kept_tiny_or_grown_for_a_preview(self):
        tiny = CropBox(70, 95, 71, 96)
        assert clip_crop(tiny, 80, 100) == CropBox(70, 95, 71, 96)
        assert clip_crop(tiny, 80, 100, MIN_CROP_PX) == CropBox(70, 92, 78, 100)


def _lead(valid: list[bool]) -> Lead:
    n = len(valid)
    return Lead("II", np.arange(n, dtype=float), 100.0, 0.0, np.asarray(valid), 1.0)


class TestSignalWithGaps:
    def test_every_untraced_sample_by_default(self):
        sig = signal_with_gaps(_lead([True, False, True, True, False]))
        assert np.array_equal(np.isnan(sig), [False, True, False, False, True])
        assert sig[0] == 0.0 and sig[3] == 3.0

    def test_short_inner_gaps_kept_with_a_minimum(self):
        valid = [False] + [True] * 3 + [False] * 3 + [True] * 3 + [False] * 8 + [True] * 2 + [False]
        sig = signal_with_gaps(_lead(valid), min_gap_s=0.05)  # 5 samples at 100 Hz
        gaps = np.isnan(sig)
        assert gaps[0] and gaps[-1]  # touching the ends
        assert not gaps[4:7].any()  # 3 samples: bridged
        assert gaps[10:18].all()  # 8 samples: a gap

    def test_all_valid_is_a_copy(self):
        lead = _lead([True] * 4)
        sig = signal_with_gaps(lead)
        sig[0] = 9.0
        assert lead.signal_mv[0] == 0.0


class TestPreviewAndOtsu:
    def test_others_preview_as_themselves(self):
        d = np.random.default_rng(1).random((60, 80)).astype(np.float32)
        for method in BINARIZE_METHODS:
            if method != "auto":
                expected = binarize(d, method, 0.4).binary
                assert np.array_equal(binarize_preview(d, method, 0.4), expected)

    def test_auto_previews_the_plain_probability_threshold(self):
        rng = np.random.default_rng(0)
        p = rng.random((60, 80)).astype(np.float32) ** 4
        preview = binarize_preview(p, "auto", 0.3)
        assert np.array_equal(preview, p > 0.3)
        assert np.array_equal(binarize_preview(p, "auto"), p > AUTO_THRESHOLD)
        assert not (binarize(p, "auto", 0.3).binary & ~preview).any()  # only specks removed

    def test_darkness_fallback_puts_the_classical_threshold_at_one_half(self):
        rng = np.random.default_rng(2)
        d = (rng.random((120, 160)) ** 6).astype(np.float32)
        d[60, 10:150] = 0.9  # a trace
        p = darkness_as_probability(d)
        assert p.min() >= 0 and p.max() <= 1
        assert np.array_equal(p > AUTO_THRESHOLD, d > modified_otsu_threshold(d))
        order = np.argsort(d.ravel(), kind="stable")
        assert (np.diff(p.ravel()[order]) >= 0).all()  # monotone: the slider still works

    @pytest.mark.parametrize("split", [0.25, 0.5, 0.8])
    def test_otsu_splits_two_classes_between_them(self, split):
        d = np.r_[np.full(500, split - 0.2), np.full(300, split + 0.15)].astype(np.float32)
        t = otsu_threshold(d)
        assert split - 0.2 < t <= split + 0.15
        assert t * 256 == round(t * 256)  # a bin edge: ``d > t`` splits between bins


def test_adaptive_preview_reuses_the_local_contrast_and_matches_binarize():
    """Moving the adaptive slider re-uses the cached local contrast of the same crop (a new view
    of the same map each time), and always shows exactly binarize's pixels."""
    from ecgviewer.digitize import binarize as b

    rng = np.random.default_rng(3)
    page = (rng.random((300, 400)) ** 4).astype(np.float32)
    calls = []
    real = b.local_contrast
    b.local_contrast = lambda d: calls.append(d.shape) or real(d)
    try:
        for t in (0.05, 0.1, 0.2):
            crop = page[20:280, 10:390]  # what the GUI passes: a fresh view per preview
            expected = b.binarize(crop, "adaptive", t).binary
            assert (b.binarize_preview(crop, "adaptive", t) == expected).all()
        other = page[0:150, 0:200]
        assert (
            b.binarize_preview(other, "adaptive", 0.1) == b.binarize(other, "adaptive", 0.1).binary
        ).all()
    finally:
        b.local_contrast = real
    previews = [s for s in calls if s in ((260, 380), (150, 200))]
    # binarize itself computes the contrast on every call (4), the previews only once per crop (2)
    assert previews.count((260, 380)) == 3 + 1 and previews.count((150, 200)) == 1 + 1
