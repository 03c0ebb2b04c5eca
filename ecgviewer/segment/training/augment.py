"""Geometric and photometric augmentation of a page, evaluated only inside sampled windows.

A :class:`PageWarp` places the flat page (8 px/mm layers: trace, marks, grid, distractors) on a
canvas: scale, rotation, perspective (phone photos up to about 30 degrees of tilt), curl (a
smooth displacement field), optionally a crease (a held-out style), a desk around the sheet or
a partial sheet. Windows of the canvas are then sampled with ``grid_sample`` (all layers with
the same warp, so masks stay exact) and photometry is applied: uneven light and shadows,
wrinkle texture, colour cast, moire, blur, low resolution, sensor noise, greyscale and JPEG.
Canvas-wide effects are smooth fields over the whole canvas, so a window sees its part of them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter
from scipy import ndimage
from torch.nn import functional as F


class CoarseField:
    """A smooth random field in [0, 1] over the canvas, from a ``cells``-wide lattice."""

    def __init__(self, canvas_wh: tuple[int, int], cells: int, rng: np.random.Generator):
        w, h = canvas_wh
        self.ch = max(2, round(cells * h / max(w, 1)))
        self.cw = cells
        lattice = rng.random((self.ch, self.cw)).astype(np.float32)
        lattice -= lattice.min()
        self.lattice = lattice / max(float(lattice.max()), 1e-6)
        self.sx, self.sy = (self.cw - 1) / max(w - 1, 1), (self.ch - 1) / max(h - 1, 1)

    def at(self, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        coords = np.stack([yy * self.sy, xx * self.sx])
        v = ndimage.map_coordinates(self.lattice, coords, order=3, mode="nearest")
        return np.clip(v, 0.0, 1.0).astype(np.float32)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3×3 matrix mapping the four ``src`` points (x, y) onto ``dst``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    p = np.linalg.solve(np.asarray(rows, np.float64), np.asarray(rhs, np.float64))
    return np.append(p, 1.0).reshape(3, 3)


@dataclass
class PageWarp:
    """Where the flat page (``w``×``h``) lands on a canvas, and the canvas-wide light."""

    canvas_wh: tuple[int, int]
    to_page: np.ndarray  # canvas -> page homography
    to_canvas: np.ndarray  # page -> canvas
    curl: tuple[CoarseField, CoarseField] | None
    curl_amp_px: float
    crease: tuple[np.ndarray, np.ndarray, float, float] | None  # point, normal, shift, soft
    photo: bool
    light: CoarseField
    light_strength: float
    shadow: tuple[float, float, float, float, float] | None  # x, y, angle, softness, depth
    cast: np.ndarray
    desk: np.ndarray


def make_warp(page_wh: tuple[int, int], rng: np.random.Generator, photo: bool,
              crease: bool) -> PageWarp:
    """Draw a random placement of the page on a canvas (see the module docstring)."""
    w, h = page_wh
    scale = rng.uniform(0.72, 1.3) if photo else rng.uniform(0.85, 1.18)
    sw, sh = w * scale, h * scale
    top = 0.14 if (photo and rng.random() < 0.65) else 0.02
    margins = rng.uniform(0.0, top, 4) * (sw, sh, sw, sh)
    if rng.random() < 0.2:  # partial sheet: one side cut off
        k = int(rng.integers(4))
        margins[k] = -rng.uniform(0.05, 0.3) * (sw if k % 2 == 0 else sh)
    canvas = (int(max(sw + margins[0] + margins[2], 600)), int(max(sh + margins[1] + margins[3], 600)))
    corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64)
    ang = np.deg2rad(rng.normal(0, 4.0) if photo else rng.normal(0, 1.0))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    centre = np.array([sw / 2, sh / 2])
    corners = (corners - centre) @ rot.T + centre + margins[:2]
    if photo:  # perspective: converging sides, up to ~30 degrees of tilt
        jitter = rng.uniform(0.0, 0.11)
        corners += rng.uniform(-jitter, jitter, (4, 2)) * (sw, sh)
    page_corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    curl = None
    if photo and rng.random() < 0.7:
        curl = (CoarseField(canvas, 4, rng), CoarseField(canvas, 4, rng))
    crease_p = None
    if crease:
        p0 = rng.uniform(0.2, 0.8, 2) * canvas
        theta = rng.uniform(0, np.pi) if rng.random() < 0.5 else float(rng.choice([0.0, np.pi / 2]))
        crease_p = (p0, np.array([np.cos(theta), np.sin(theta)]), rng.uniform(1.0, 4.0),
                    rng.uniform(2.0, 6.0))
    shadow = None
    if photo and rng.random() < 0.35:
        shadow = (*(rng.uniform(0, 1, 2) * canvas), rng.uniform(0, 2 * np.pi),
                  rng.uniform(5, 80), rng.uniform(0.2, 0.55))
    desk = np.asarray(rng.choice([[0.45, 0.3, 0.18], [0.2, 0.2, 0.2], [0.6, 0.6, 0.58],
                                  [0.85, 0.85, 0.85], [0.3, 0.35, 0.45], [0.05, 0.05, 0.05]]))
    return PageWarp(
        canvas_wh=canvas,
        to_page=_homography(corners, page_corners),
        to_canvas=_homography(page_corners, corners),
        curl=curl,
        curl_amp_px=float(rng.uniform(2.0, 22.0)),
        crease=crease_p,
        photo=photo,
        light=CoarseField(canvas, 3, rng),
        light_strength=float(rng.uniform(0.0, 0.55 if photo else 0.2)),
        shadow=shadow,
        cast=(rng.uniform(0.85, 1.12, 3) if photo else np.ones(3)).astype(np.float32),
        desk=(desk * rng.uniform(0.7, 1.2)).astype(np.float32),
    )


def _crease_dist(warp: PageWarp, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    p0, normal, _, _ = warp.crease
    return ((xx - p0[0]) * normal[0] + (yy - p0[1]) * normal[1]).astype(np.float32)


def source_coords(warp: PageWarp, xx: np.ndarray, yy: np.ndarray):
    """Page (x, y) to sample for canvas pixels (``xx``, ``yy``)."""
    m = warp.to_page
    den = m[2, 0] * xx + m[2, 1] * yy + m[2, 2]
    sx = (m[0, 0] * xx + m[0, 1] * yy + m[0, 2]) / den
    sy = (m[1, 0] * xx + m[1, 1] * yy + m[1, 2]) / den
    if warp.curl is not None:
        sx = sx + warp.curl_amp_px * (warp.curl[0].at(xx, yy) - 0.5)
        sy = sy + warp.curl_amp_px * (warp.curl[1].at(xx, yy) - 0.5)
    if warp.crease is not None:
        _, normal, shift, soft = warp.crease
        step = shift * np.tanh(_crease_dist(warp, xx, yy) / soft)
        sx, sy = sx + step * normal[0], sy + step * normal[1]
    return sx.astype(np.float32), sy.astype(np.float32)


def page_to_canvas(warp: PageWarp, x: float, y: float) -> tuple[float, float]:
    v = warp.to_canvas @ np.array([x, y, 1.0])
    return float(v[0] / v[2]), float(v[1] / v[2])


def sample_layers(layers: torch.Tensor, warp: PageWarp, x0: int, y0: int, size: int):
    """Warped layers (C, size, size) of the canvas window at (x0, y0) + canvas coordinates."""
    _, h, w = layers.shape
    yy, xx = np.mgrid[y0 : y0 + size, x0 : x0 + size].astype(np.float32)
    sx, sy = source_coords(warp, xx, yy)
    grid = torch.from_numpy(np.stack([sx / (w - 1) * 2 - 1, sy / (h - 1) * 2 - 1], -1))[None]
    with torch.no_grad():
        out = F.grid_sample(layers[None], grid, mode="bilinear", padding_mode="zeros",
                            align_corners=True)
    return out[0].numpy(), xx, yy


def light_window(img: np.ndarray, warp: PageWarp, xx, yy, rng: np.random.Generator) -> np.ndarray:
    """Canvas light (illumination, shadow, crease shading, cast) on a window; plus local
    texture (wrinkle ripples, moire)."""
    img = img * (1.0 - warp.light_strength * warp.light.at(xx, yy))[..., None]
    if warp.shadow is not None:
        x, y, ang, soft, depth = warp.shadow
        d = (xx - x) * np.cos(ang) + (yy - y) * np.sin(ang)
        img = img * (1 - depth / (1 + np.exp(-np.clip(d / soft, -50, 50))))[..., None]
    if warp.crease is not None:
        d = _crease_dist(warp, xx, yy)
        sigma = 3.0
        line = np.exp(-(d**2) / (2 * sigma**2))
        side = 1 - 0.08 / (1 + np.exp(-np.clip(d / 30.0, -50, 50)))
        img = img * ((1 - 0.2 * line) * side)[..., None]
    h, w = xx.shape
    if rng.random() < 0.25:  # wrinkle texture: fine shading ripples
        ripple = CoarseField((w, h), int(rng.integers(10, 40)), rng).at(xx - xx[0, 0], yy - yy[0, 0])
        img = img * (1 + rng.uniform(0.03, 0.1) * (ripple - 0.5))[..., None]
    if rng.random() < 0.08:  # moire
        ang, period = rng.uniform(0, np.pi), rng.uniform(2.5, 7.0)
        wave = np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * 2 * np.pi / period)
        img = img * (1 + rng.uniform(0.02, 0.07) * wave)[..., None]
    return img * warp.cast


def degrade(img: np.ndarray, rng: np.random.Generator, photo: bool) -> np.ndarray:
    """Optics and sensor on a float window; returns uint8 H×W×3."""
    u8 = Image.fromarray(np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8), "RGB")
    w, h = u8.size
    if rng.random() < 0.3:  # low resolution, then back up
        f = rng.uniform(0.35, 0.8)
        small = u8.resize((max(int(w * f), 16), max(int(h * f), 16)), Image.Resampling.BILINEAR)
        u8 = small.resize((w, h), Image.Resampling.BILINEAR)
    sigma = rng.uniform(0.0, 1.6 if photo else 1.0)
    if sigma > 0.2:
        u8 = u8.filter(ImageFilter.GaussianBlur(sigma))
    arr = np.asarray(u8, np.float32)
    noise = rng.uniform(0.0, 10.0)
    if noise > 0.5:
        arr = arr + rng.normal(0, noise, arr.shape[:2])[..., None].astype(np.float32)
        if photo:
            arr = arr + rng.normal(0, noise / 3, arr.shape).astype(np.float32)
    out = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.2:
        out = out.convert("L").convert("RGB")
    if rng.random() < 0.55:
        buf = io.BytesIO()
        out.save(buf, format="JPEG", quality=int(rng.integers(30, 95)))
        buf.seek(0)
        out = Image.open(buf).convert("RGB")
    return np.asarray(out, np.uint8)
