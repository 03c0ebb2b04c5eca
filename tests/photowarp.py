"""A known "phone photo" warp of a rendered page (perspective + paper curl + a desk around it)
and the position error of a rectification against it. Shared by tests/test_dewarp.py and
benchmarks/bench_dewarp.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.geometry import _homography as homography  # the pipeline's own solve

DESK_RGB = (70, 78, 92)


@dataclass(frozen=True)
class PhotoWarp:
    """Backward mapping photo pixel (X, Y) → page pixel (x, y): a homography (the page's
    corners seen in perspective, with a desk margin around them) then a curl (horizontal
    lines bow by ``curl_mm``, vertical lines wave by ``wave_mm``)."""

    page_hw: tuple[int, int]
    photo_hw: tuple[int, int]
    matrix: np.ndarray  # 3×3 photo → flat page pixels
    px_per_mm: float
    curl_mm: float
    wave_mm: float

    def __call__(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.matrix @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
        xh, yh = p[0] / p[2], p[1] / p[2]
        h, w = self.page_hw
        xp = xh + self.wave_mm * self.px_per_mm * np.sin(2 * np.pi * yh / h)
        yp = yh - self.curl_mm * self.px_per_mm * ((2 * xh / w - 1) ** 2 - 1 / 3)
        return xp.reshape(xs.shape), yp.reshape(xs.shape)


def photo_warp(page_rgb: np.ndarray, px_per_mm: float, seed: int = 0, perspective: float = 0.06,
               curl_mm: float = 3.0, wave_mm: float = 1.5, margin: float = 0.06
               ) -> tuple[np.ndarray, PhotoWarp]:
    """The photo (uint8, bluish cast, desk colour outside the sheet) and its mapping."""
    rng = np.random.default_rng(seed)
    h, w = page_rgb.shape[:2]
    ph, pw = round(h * (1 + 2 * margin)), round(w * (1 + 2 * margin))
    corners_page = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    jitter = rng.uniform(-1, 1, (4, 2)) * perspective * np.array([w, h])
    corners_photo = corners_page + np.array([margin * w, margin * h]) + jitter
    matrix = homography(corners_photo, corners_page)
    warp = PhotoWarp((h, w), (ph, pw), matrix, px_per_mm, curl_mm, wave_mm)
    ys, xs = np.mgrid[0:ph, 0:pw].astype(float)
    xp, yp = warp(xs, ys)
    cast = np.array([0.92, 0.96, 1.0])
    out = np.empty((ph, pw, 3), np.uint8)
    for c in range(3):
        chan = ndimage.map_coordinates(page_rgb[:, :, c].astype(np.float32), [yp, xp], order=1,
                                       mode="constant", cval=-1.0)
        chan = np.where(chan < 0, DESK_RGB[c], chan * cast[c])
        out[:, :, c] = np.clip(chan + 0.5, 0, 255).astype(np.uint8)
    return out, warp


def five_mm_only(page_rgb: np.ndarray, px_per_mm: float, rgb=(235, 140, 140)) -> np.ndarray:
    """A copy of a page rendered without grid (``grid="none"``) with only 5 mm lines drawn,
    one pixel wide, as on some printers' paper."""
    img = page_rgb.copy()
    h, w = img.shape[:2]
    colour = np.array(rgb, np.uint8)
    for x in np.round(np.arange(0, w, 5 * px_per_mm)).astype(int):
        img[:, x] = np.minimum(img[:, x], colour)
    for y in np.round(np.arange(0, h, 5 * px_per_mm)).astype(int):
        img[y] = np.minimum(img[y], colour)
    return img


def traced_region_px(rendered) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) page pixels around the lead boxes of a render: where the traces are."""
    boxes = rendered.layout.boxes
    return (min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes),
            max(b.y1 for b in boxes))


def position_error_mm(result, warp: PhotoWarp, region_px=None) -> np.ndarray:
    """Per mesh node of a :class:`~ecgviewer.digitize.dewarp.RectifiedPage` inside the page
    (inside ``region_px`` = (x0, y0, x1, y1) page pixels when given):
    distance (mm) between where the rectified image puts that paper point (output pixel /
    ``px_per_mm``) and where it truly is, after removing the mean offset (the rectification
    does not know the page's origin)."""
    if result.source_xy_of_output is None:
        h, w = result.image_rgb.shape[:2]
        gy, gx = np.mgrid[0 : h : result.mesh_step_px, 0 : w : result.mesh_step_px]
        src = np.stack([gx, gy], axis=-1).astype(float)
    else:
        src = result.source_xy_of_output
        rows, cols = src.shape[:2]
        oh, ow = result.image_rgb.shape[:2]
        gy, gx = np.meshgrid(np.minimum(np.arange(rows) * result.mesh_step_px, oh),
                             np.minimum(np.arange(cols) * result.mesh_step_px, ow), indexing="ij")
    xp, yp = warp(src[..., 0], src[..., 1])
    h, w = warp.page_hw
    x0, y0, x1, y1 = region_px if region_px is not None else (0, 0, w - 1, h - 1)
    inside = (xp > x0) & (xp < x1) & (yp > y0) & (yp < y1)
    true = np.stack([xp[inside], yp[inside]], axis=1) / warp.px_per_mm
    claimed = np.stack([gx[inside], gy[inside]], axis=1) / result.px_per_mm
    d = true - claimed
    d -= d.mean(axis=0)
    return np.hypot(d[:, 0], d[:, 1])
