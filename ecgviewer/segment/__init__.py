"""Learned trace segmenter (issue 18): per-pixel trace, grid and marks probabilities of a page.

>>> from ecgviewer.segment import segment_page
>>> result = segment_page(image_rgb, px_per_mm=None)  # doctest: +SKIP
>>> result.trace_prob.shape == image_rgb.shape[:2]  # doctest: +SKIP

The only part of the core besides ``ecgviewer.rhythm`` that imports torch.
"""

from ecgviewer.segment.infer import SegmentationResult, get_model, segment_page
from ecgviewer.segment.model import CLASS_NAMES, SegmenterConfig, TraceSegmenter

__all__ = [
    "CLASS_NAMES",
    "SegmentationResult",
    "SegmenterConfig",
    "TraceSegmenter",
    "get_model",
    "segment_page",
]
