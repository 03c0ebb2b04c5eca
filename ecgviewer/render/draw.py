"""Rasterising primitives: exact antialiased grid lines and thick antialiased polylines.

Pixel convention: pixel ``i`` covers ``[i - 0.5, i + 0.5)``, so its centre is at coordinate
``i``; a point ``u`` mm from the page's left edge lies at ``u * px_per_mm - 0.5``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def mm_to_px(u_mm: float | np.ndarray, px_per_mm: float) -> float | np.ndarray:
    return u_mm * px_per_mm - 0.5


def line_coverage_1d(n_px: int, centres_px: np.ndarray, width_px: float) -> np.ndarray:
    """Fraction (0..1) of each pixel covered by lines ``[c - w/2, c + w/2]`` along one axis.

    Exact box-filter antialiasing for axis-aligned lines, so grid pitch is exact in pixels.
    """
    width_px = max(width_px, 0.35)  # thinner lines would vanish; printers have a minimum too
    edges = np.arange(n_px + 1, dtype=np.float64) - 0.5
    cov = np.zeros(n_px, dtype=np.float64)
    half = width_px / 2.0
    for c in np.asarray(centres_px, dtype=np.float64):
        a, b = c - half, c + half
        i0 = max(int(np.floor(a + 0.5)), 0)
        i1 = min(int(np.floor(b + 0.5)), n_px - 1)
        if i1 < i0:
            continue
        lo = np.maximum(edges[i0 : i1 + 1], a)
        hi = np.minimum(edges[i0 + 1 : i1 + 2], b)
        cov[i0 : i1 + 1] += np.clip(hi - lo, 0.0, None)
    return np.clip(cov, 0.0, 1.0)


def supersample_factor(px_per_mm: float) -> int:
    """Supersampling for trace drawing: ~12-24 sub-pixels per mm, at most 4x."""
    return int(np.clip(round(24.0 / px_per_mm), 1, 4))


def polyline_mask(
    shape_hw: tuple[int, int],
    polylines: list[np.ndarray],
    width_px: float,
    factor: int,
) -> np.ndarray:
    """Antialiased coverage (float32 0..1) of thick polylines given as (n, 2) arrays of (x, y).

    Drawn at ``factor``x supersampling with a round brush (1-px lines at offsets within a
    disc, so joints at sharp QRS turns stay filled), then box-averaged down.
    """
    h, w = shape_hw
    big = Image.new("L", (w * factor, h * factor), 0)
    draw = ImageDraw.Draw(big)
    radius = max(width_px * factor / 2.0 - 0.5, 0.0)
    r_int = int(np.ceil(radius))
    offsets = [
        (dx, dy)
        for dy in range(-r_int, r_int + 1)
        for dx in range(-r_int, r_int + 1)
        if dx * dx + dy * dy <= radius * radius + 0.25
    ] or [(0, 0)]
    for pts in polylines:
        if len(pts) == 0:
            continue
        ss = (np.asarray(pts, dtype=np.float64) + 0.5) * factor - 0.5
        if len(ss) == 1:
            ss = np.vstack([ss, ss])
        for dx, dy in offsets:
            shifted = np.rint(ss + (dx, dy)).astype(np.int64)
            draw.line(shifted.ravel().tolist(), fill=255, width=1)
    if factor > 1:
        big = big.reduce(factor)
    return np.asarray(big, dtype=np.float32) / 255.0


def composite(image: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int]) -> None:
    """In place on a uint8 H×W×3 image: ``image = image * (1 - alpha) + colour * alpha``.

    Only pixels with visible alpha are touched (traces cover a few % of a page).
    """
    ys, xs = np.nonzero(alpha > 1.0 / 512.0)
    if ys.size == 0:
        return
    a = alpha[ys, xs].astype(np.float32)[:, None]
    px = image[ys, xs].astype(np.float32)
    px += a * (np.asarray(colour, dtype=np.float32) - px)
    image[ys, xs] = (px + 0.5).astype(np.uint8)


def composite_lines(
    image: np.ndarray,
    coverage: np.ndarray,
    colour: tuple[int, int, int],
    axis: int,
    span: slice,
) -> None:
    """In place: blend whole lines of pixels (columns if ``axis == 1``, rows if 0) with the
    1-D ``coverage`` along that axis, over ``span`` of the other axis.

    Compositing vertical then horizontal lines of one colour this way equals compositing
    their union coverage ``1 - (1 - cx)(1 - cy)``, at a fraction of the cost of a full page.
    """
    idx = np.flatnonzero(coverage > 1.0 / 512.0)
    if idx.size == 0:
        return
    col = np.asarray(colour, dtype=np.float32)
    if axis == 1:
        sub = image[span, idx].astype(np.float32)
        sub += coverage[idx].astype(np.float32)[None, :, None] * (col - sub)
        image[span, idx] = (sub + 0.5).astype(np.uint8)
    else:
        sub = image[idx, span].astype(np.float32)
        sub += coverage[idx].astype(np.float32)[:, None, None] * (col - sub)
        image[idx, span] = (sub + 0.5).astype(np.uint8)
