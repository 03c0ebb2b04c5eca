"""Page geometry: skew estimation and correction, and perspective correction of photos."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.binarize import otsu_threshold
from ecgviewer.digitize.preprocess import as_rgb_uint8, channel_min

_MAX_SKEW_DEG = 10.0


def _downscale_mean(a: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return a
    h, w = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _line_evidence(image_rgb: np.ndarray, target_px: int = 1000) -> np.ndarray:
    """Darkness of the darkest channel (grid lines and trace alike) on a block-averaged copy
    whose long side is about ``target_px``: enough to resolve 0.1° over the page width."""
    img = as_rgb_uint8(image_rgb)
    factor = max(1, int(np.ceil(max(img.shape[:2]) / target_px)))
    dark = 255.0 - channel_min(img).astype(np.float32)
    return _downscale_mean(dark, factor)


def _profile_sharpness(ys: np.ndarray, xs: np.ndarray, w: np.ndarray, angles_deg, n_rows: int):
    """Sum of squared row-projection bins after rotating points by each angle."""
    out = np.empty(len(angles_deg))
    for i, a in enumerate(angles_deg):
        t = np.tan(np.deg2rad(a))
        proj = ys - xs * t
        idx = np.clip((proj + n_rows).astype(np.intp), 0, 3 * n_rows - 1)
        prof = np.bincount(idx, weights=w, minlength=3 * n_rows)
        out[i] = np.dot(prof, prof)
    return out


def estimate_rotation_deg(image_rgb: np.ndarray) -> float:
    """The rotation in degrees that straightens the page: ``rotate_image(img,
    estimate_rotation_deg(img))`` makes grid lines and baselines horizontal/vertical.

    Found by maximising the sharpness (sum of squares) of the row and column projection
    profiles of the darkest ~10 % of pixels over ±10°, coarse to fine."""
    ev = _line_evidence(image_rgb)
    thr = float(np.quantile(ev, 0.9))
    ys, xs = np.nonzero(ev > max(thr, 5.0))
    if ys.size < 50:
        return 0.0
    w = ev[ys, xs].astype(np.float64)
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64)
    h, wd = ev.shape
    best = 0.0
    span, step = _MAX_SKEW_DEG, 0.5
    for _ in range(4):
        angles = np.arange(best - span, best + span + 1e-9, step)
        s_rows = _profile_sharpness(ys, xs, w, angles, h)
        s_cols = _profile_sharpness(xs, ys, w, -angles, wd)
        score = s_rows / s_rows.max() + s_cols / s_cols.max()
        best = float(angles[int(np.argmax(score))])
        span, step = step * 1.5, step / 5
    return float(best)


def rotate_image(image_rgb: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate counter-clockwise by ``angle_deg`` about the centre, same size, white fill."""
    img = as_rgb_uint8(image_rgb)
    if abs(angle_deg) < 1e-3:
        return img.copy()
    out = np.empty_like(img)
    for c in range(3):
        out[:, :, c] = ndimage.rotate(
            img[:, :, c], angle_deg, reshape=False, order=1, mode="constant", cval=255
        )
    return out


_PERSPECTIVE_SIDE_PX = 480  # long side of the copy the sheet is searched on


def _order_corners(pts: np.ndarray) -> np.ndarray:
    """(x, y) corners ordered top-left, top-right, bottom-right, bottom-left."""
    s = pts.sum(axis=1)
    d = pts[:, 0] - pts[:, 1]
    return np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]])


def _polygon_area(q: np.ndarray) -> float:
    x, y = q[:, 0], q[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def find_sheet_corners(image_rgb: np.ndarray) -> np.ndarray | None:
    """Corners (x, y in pixels, TL, TR, BR, BL) of a bright sheet photographed on a clearly
    darker background, or None when no such sheet stands out.

    Confident only when: the sheet (largest bright component, Otsu on a small copy) covers
    25–92 % of the frame, it is nearly a quadrilateral (quad and component areas agree within
    8 %), all four corners lie inside the frame (not cut by its edge), and the background is
    at least 0.15 darker than the sheet.
    """
    from skimage.measure import label

    img = as_rgb_uint8(image_rgb)
    h, w = img.shape[:2]
    factor = max(1, int(np.ceil(max(h, w) / _PERSPECTIVE_SIDE_PX)))
    small = img[::factor, ::factor].astype(np.float32)
    grey = (small[:, :, 0] + small[:, :, 1] + small[:, :, 2]) / (3 * 255.0)
    grey = ndimage.median_filter(grey, size=5)  # the grid and trace vanish, edges stay
    sh, sw = grey.shape
    if min(sh, sw) < 32 or grey.max() - grey.min() < 0.15:
        return None
    t = otsu_threshold(grey)
    labels = label(grey > t, connectivity=1)
    if labels.max() == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    sheet = ndimage.binary_fill_holes(labels == int(np.argmax(sizes)))
    frac = float(sheet.mean())
    if not 0.25 <= frac <= 0.92:
        return None
    if grey[sheet].mean() - grey[~sheet].mean() < 0.15:
        return None
    ys, xs = np.nonzero(sheet ^ ndimage.binary_erosion(sheet))
    quad = _order_corners(np.stack([xs, ys], axis=1).astype(np.float64))
    area = float(sheet.sum())
    if abs(_polygon_area(quad) / area - 1.0) > 0.08:
        return None
    margin = 0.01 * max(sh, sw)
    inside = (
        (quad[:, 0] > margin)
        & (quad[:, 0] < sw - 1 - margin)
        & (quad[:, 1] > margin)
        & (quad[:, 1] < sh - 1 - margin)
    )
    if not inside.all():
        return None
    return (quad + 0.5) * factor - 0.5


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3×3 matrix mapping four (x, y) points ``src`` onto ``dst`` (exact 8-equation solve)."""
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    coeffs = np.linalg.solve(np.array(a, float), np.array(b, float))
    return np.append(coeffs, 1.0).reshape(3, 3)


def correct_perspective(image_rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    """Find the paper quadrilateral of a photographed sheet and warp it to a rectangle.

    Returns ``(image, False)`` unchanged unless :func:`find_sheet_corners` is confident, so a
    scan (paper fills the frame) is never touched. The rectangle's sides are the mean lengths
    of the quad's opposite sides, so the pixel scale stays about the same.
    """
    from skimage.transform import ProjectiveTransform, warp

    img = as_rgb_uint8(image_rgb)
    quad = find_sheet_corners(img)
    if quad is None:
        return img, False
    tl, tr, br, bl = quad
    out_w = round(0.5 * (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)))
    out_h = round(0.5 * (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)))
    if min(out_w, out_h) < 64:
        return img, False
    dst = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], float)
    try:
        matrix = _homography(dst, quad)
    except np.linalg.LinAlgError:
        return img, False
    out = warp(
        img,
        ProjectiveTransform(matrix=matrix),
        output_shape=(out_h, out_w),
        order=1,
        cval=1.0,
        preserve_range=True,
    )
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), True
