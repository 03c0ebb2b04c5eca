"""What callers that cache the pipeline's stages (the GUI) share with the pipeline itself.

* which settings the slow stage (:func:`~ecgviewer.digitize.pipeline.prepare_page`) reads:
  :data:`PREPARE_FIELDS`, so a cached prepared page is re-used exactly while they are unchanged;
* how a crop is fitted to the page (:func:`clip_crop`);
* how untraced samples of a lead become gaps (:func:`signal_with_gaps`).

Only numpy and the result types: cheap to import.
"""

from __future__ import annotations

import numpy as np

from ecgviewer.digitize.types import CropBox, DigitizeSettings, Lead

# The settings prepare_page reads (rotation, perspective, dpi fallback). It sees no others, so
# changing any other setting re-runs only the fast crop/binarise/trace stage.
PREPARE_FIELDS = ("rotation_deg", "correct_perspective", "dpi")
MIN_CROP_PX = 8  # a crop narrower or lower than this cannot hold a trace


def prepare_settings(settings: DigitizeSettings) -> DigitizeSettings:
    """``settings`` with every field outside :data:`PREPARE_FIELDS` at its default: all that
    the slow stage may read."""
    return DigitizeSettings(**{f: getattr(settings, f) for f in PREPARE_FIELDS})


def prepare_key(settings: DigitizeSettings) -> tuple:
    """The part of ``settings`` a prepared page depends on (see :data:`PREPARE_FIELDS`)."""
    return tuple(getattr(settings, f) for f in PREPARE_FIELDS)


def clip_crop(crop: CropBox | None, width: int, height: int, min_px: int = 0) -> CropBox:
    """``crop`` (None: the whole page) inside a ``width``×``height`` page with its corners in
    order, grown to at least ``min_px`` a side where the page allows (a live preview of a crop
    being dragged uses :data:`MIN_CROP_PX`; the pipeline rejects a smaller crop instead)."""
    if crop is None:
        return CropBox(0, 0, width, height)
    x0, x1 = sorted((int(np.clip(crop.x0, 0, width)), int(np.clip(crop.x1, 0, width))))
    y0, y1 = sorted((int(np.clip(crop.y0, 0, height)), int(np.clip(crop.y1, 0, height))))
    x0 = min(x0, max(width - min_px, 0))
    y0 = min(y0, max(height - min_px, 0))
    x1 = min(max(x1, x0 + min_px), width)
    y1 = min(max(y1, y0 + min_px), height)
    return CropBox(x0, y0, x1, y1)


def signal_with_gaps(lead: Lead, min_gap_s: float = 0.0) -> np.ndarray:
    """The lead's samples (mV) with untraced ones (``valid_mask`` False) as NaN: all of them by
    default; with ``min_gap_s``, only stretches longer than that or touching either end (shorter
    ones keep the values bridged across them)."""
    sig = np.array(lead.signal_mv, dtype=np.float64, copy=True)
    invalid = ~np.asarray(lead.valid_mask, bool)
    if invalid.shape != sig.shape or not invalid.any():
        return sig
    if min_gap_s <= 0:
        sig[invalid] = np.nan
        return sig
    edges = np.diff(np.concatenate([[0], invalid.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    min_len = min_gap_s * lead.fs_hz
    for a, b in zip(starts, ends):
        if b - a > min_len or a == 0 or b == sig.size:
            sig[a:b] = np.nan
    return sig
