"""Per-pixel trace, grid and marks probabilities of a page image.

The page is resampled to the network's 8 px/mm (the scale comes from ``px_per_mm``, a dpi, or
is estimated from the image assuming the page is about 280 mm wide), white-balanced once for
the whole page, run in one pass by the inference form of the network (BatchNorm folded,
channels-last: :class:`~ecgviewer.segment.model.InferenceSegmenter`; deterministic,
``torch.inference_mode``, explicit thread count) and resampled back to the input's pixels.
Pages longer than :data:`MAX_TILE_PX` at 8 px/mm run in overlapping tiles blended with linear
ramps; one pass is both faster and free of the small differences tiles leave at their seams.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from ecgviewer.errors import ImageTooSmallError
from ecgviewer.segment.model import InferenceSegmenter, TraceSegmenter
from ecgviewer.segment.preprocess import normalise, paper_white
from ecgviewer.segment.weights import PX_PER_MM, default_weights_path, load_weights

ASSUMED_PAGE_WIDTH_MM = 280.0
MAX_TILE_PX = 3072  # one pass up to 384 mm at 8 px/mm (A4 to Legal); peak 0.25 GB for A4, 0.55 GB max
TILE_OVERLAP_PX = 96


@dataclass(frozen=True)
class SegmentationResult:
    """Probabilities (float32 H×W, 0..1) at the input image's resolution."""

    trace_prob: np.ndarray
    grid_prob: np.ndarray
    marks_prob: np.ndarray  # calibration pulse, separator ticks, printed text and labels
    px_per_mm: float  # scale of the input image that was assumed or given
    px_per_mm_estimated: bool


_cache: dict[tuple[str, float], InferenceSegmenter] = {}
_lock = threading.Lock()


def get_model(path: str | Path | None = None) -> InferenceSegmenter:
    """The network from ``path`` (default ``models/segmenter.pt``, checked against its card),
    loaded once per file, in its inference form."""
    path = Path(path) if path else default_weights_path()
    key = (str(path.resolve()), path.stat().st_mtime if path.is_file() else -1.0)
    with _lock:
        if key not in _cache:
            _cache[key] = InferenceSegmenter(load_weights(path)[0])
        return _cache[key]


def input_scale(shape_hw: tuple[int, int], px_per_mm: float | None,
                dpi: float | None) -> tuple[float, bool]:
    """(px/mm of the image, whether it was estimated from the image size)."""
    if px_per_mm is not None and px_per_mm > 0:
        return float(px_per_mm), False
    if dpi is not None and dpi > 0:
        return float(dpi) / 25.4, False
    return max(shape_hw) / ASSUMED_PAGE_WIDTH_MM, True


def tile_starts(n_px: int, tile_px: int, overlap_px: int) -> list[int]:
    """Start offsets of tiles of ``tile_px`` covering ``n_px`` with at least ``overlap_px``."""
    if n_px <= tile_px:
        return [0]
    count = math.ceil((n_px - overlap_px) / (tile_px - overlap_px))
    return [round(v) for v in np.linspace(0, n_px - tile_px, count)]


def _tile_size(n_px: int, multiple: int, max_tile: int, overlap: int) -> int:
    """Smallest tile (a multiple of ``multiple``) that covers ``n_px`` in as few tiles as
    ``max_tile`` would."""
    if n_px <= max_tile:
        return n_px
    count = math.ceil((n_px - overlap) / (max_tile - overlap))
    size = math.ceil((n_px + (count - 1) * overlap) / count / multiple) * multiple
    return min(size, max_tile)


def _ramp(n: int, start: int, total: int, overlap: int) -> np.ndarray:
    """Blend weights along one axis: rise over the overlap except at the page's edges."""
    w = np.ones(n, np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    if start > 0:
        w[:overlap] = ramp
    if start + n < total:
        w[n - overlap :] = np.minimum(w[n - overlap :], ramp[::-1])
    return w


def predict_normalised(net: TraceSegmenter | InferenceSegmenter, x: np.ndarray,
                       max_tile: int = MAX_TILE_PX, overlap: int = TILE_OVERLAP_PX) -> np.ndarray:
    """Probabilities (C×H×W) of a normalised 4×H×W page, tiled when larger than ``max_tile``."""
    return _probabilities(net, x, max_tile, overlap)[0].numpy()


@torch.inference_mode()
def _probabilities(net: TraceSegmenter | InferenceSegmenter, x: np.ndarray, max_tile: int,
                   overlap: int = TILE_OVERLAP_PX) -> torch.Tensor:
    """:func:`predict_normalised` as a 1×C×H×W tensor (channels-last from the inference form)."""
    _, h, w = x.shape
    m = net.multiple
    ph, pw = math.ceil(h / m) * m, math.ceil(w / m) * m
    xt = torch.from_numpy(x)[None]
    if (ph, pw) != (h, w):
        xt = F.pad(xt, (0, pw - w, 0, ph - h), mode="replicate")
    th, tw = _tile_size(ph, m, max_tile, overlap), _tile_size(pw, m, max_tile, overlap)
    if (th, tw) == (ph, pw):
        return net(xt).sigmoid_()[..., :h, :w]
    acc = torch.zeros((net.config.n_classes, ph, pw))
    weight = torch.zeros((1, ph, pw))
    for y0 in tile_starts(ph, th, overlap):
        wy = _ramp(th, y0, ph, overlap)
        for x0 in tile_starts(pw, tw, overlap):
            wx = _ramp(tw, x0, pw, overlap)
            prob = torch.sigmoid(net(xt[..., y0 : y0 + th, x0 : x0 + tw]))[0]
            wt = torch.from_numpy(np.outer(wy, wx))[None]
            acc[:, y0 : y0 + th, x0 : x0 + tw] += prob * wt
            weight[:, y0 : y0 + th, x0 : x0 + tw] += wt
    return (acc / weight)[None, :, :h, :w]


def segment_page(
    image_rgb: np.ndarray,
    px_per_mm: float | None = None,
    *,
    dpi: float | None = None,
    threads: int = 2,
    max_tile: int = MAX_TILE_PX,
    weights: str | Path | None = None,
) -> SegmentationResult:
    """Trace/grid/marks probabilities of an RGB (or grey) page image, at its own resolution."""
    img = np.asarray(image_rgb)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = np.ascontiguousarray(img[..., :3]).astype(np.uint8, copy=False)
    h, w = img.shape[:2]
    if min(h, w) < 16:
        raise ImageTooSmallError(f"image {w}×{h} is too small to segment")
    scale, estimated = input_scale((h, w), px_per_mm, dpi)
    net = get_model(weights)
    f = PX_PER_MM / scale
    sw, sh = max(round(w * f), 32), max(round(h * f), 32)
    page = img if (sw, sh) == (w, h) else np.asarray(
        Image.fromarray(img).resize((sw, sh), Image.Resampling.BILINEAR))
    m = net.multiple  # pad the uint8 page (edge replicate commutes with the per-pixel normalise)
    padded = np.pad(page, ((0, -sh % m), (0, -sw % m), (0, 0)), mode="edge")
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        with torch.inference_mode():
            out = _probabilities(net, normalise(padded, paper_white(page)), max_tile)
            out = out[..., :sh, :sw]
            if (sw, sh) != (w, h):
                out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            out = out[0].clamp_(0.0, 1.0).numpy()
    finally:
        torch.set_num_threads(previous)
    return SegmentationResult(
        trace_prob=np.ascontiguousarray(out[0]),
        grid_prob=np.ascontiguousarray(out[1]),
        marks_prob=np.ascontiguousarray(out[2]),
        px_per_mm=scale,
        px_per_mm_estimated=estimated,
    )
