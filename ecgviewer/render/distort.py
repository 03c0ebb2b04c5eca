"""Scan and photo degradations of a rendered page, seeded so they are reproducible.

Order (as a page goes through a scanner or camera): rotation of the sheet, uneven lighting,
optical blur, sensor noise, greyscale conversion, JPEG compression.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from ecgviewer.render.style import Distortions


def lighting_field(shape_hw: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative illumination field in ``[1 - strength, 1]`` (H×W float32)."""
    h, w = shape_hw
    coarse = rng.random((4, 4)).astype(np.float32)
    gx, gy = rng.normal(0.0, 1.0, 2)
    yy, xx = np.mgrid[0:4, 0:4].astype(np.float32) / 3.0
    coarse += 0.7 * (gx * xx + gy * yy)
    coarse -= coarse.min()
    coarse /= max(float(coarse.max()), 1e-6)
    field = Image.fromarray(coarse, mode="F").resize((w, h), Image.Resampling.BICUBIC)
    f = np.clip(np.asarray(field, dtype=np.float32), 0.0, 1.0)
    return 1.0 - strength * f


def apply_distortions(
    image_rgb: np.ndarray,
    distortions: Distortions,
    rng: np.random.Generator,
    fill_rgb: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Return a degraded copy (uint8 H×W×3); the clean preset returns the image unchanged."""
    d = distortions
    if d.is_clean:
        return image_rgb
    img = Image.fromarray(image_rgb, "RGB")
    if d.rotation_deg:
        img = img.rotate(
            d.rotation_deg, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=fill_rgb
        )
    arr = np.asarray(img, dtype=np.float32)
    if d.lighting_strength > 0:
        arr = arr * lighting_field(arr.shape[:2], d.lighting_strength, rng)[..., None]
    if d.blur_sigma_px > 0:
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
        arr = np.asarray(img.filter(ImageFilter.GaussianBlur(d.blur_sigma_px)), dtype=np.float32)
    if d.noise_std > 0:
        arr = arr + rng.normal(0.0, d.noise_std, arr.shape[:2])[..., None].astype(np.float32)
    out = np.clip(arr + 0.5, 0, 255).astype(np.uint8)
    if d.greyscale:
        grey = np.asarray(Image.fromarray(out, "RGB").convert("L"))
        out = np.repeat(grey[..., None], 3, axis=2)
    if d.jpeg_quality is not None:
        buf = io.BytesIO()
        Image.fromarray(out, "RGB").save(buf, format="JPEG", quality=int(d.jpeg_quality))
        buf.seek(0)
        out = np.asarray(Image.open(buf).convert("RGB"))
    return np.ascontiguousarray(out)
