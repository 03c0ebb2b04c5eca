"""Photo geometry: find the sheet, undo perspective and paper curl with a smooth mapping fitted
to the printed grid, so that the grid becomes straight and uniform (a flat millimetre grid).

:func:`rectify_page` is the entry point. It

1. finds the sheet (:func:`find_sheet`: the largest bright region and its quadrilateral, also
   when a side leaves the frame), used as the region where the grid is measured and as a
   perspective-only fallback;
2. measures the grid's local 5 mm wave vectors in tiles (:mod:`ecgviewer.digitize.gridfield`)
   and fits a low-order polynomial mapping image pixels → paper millimetres to them;
3. leaves the image untouched when that mapping is affine within :data:`FLAT_MM` over the page
   (a flat scan or a render: rotation is the deskew step's job; a quick check on a quarter of
   the tiles recognises most of them), else resamples the page so that every millimetre of
   paper gets the same number of pixels (one bilinear mesh warp).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from ecgviewer.digitize import gridfield as gf
from ecgviewer.digitize.binarize import otsu_threshold
from ecgviewer.digitize.geometry import correct_perspective
from ecgviewer.digitize.preprocess import as_rgb_uint8

FLAT_MM = 0.5  # a page whose grid is within this of an affine map is left alone (scans: < 0.4)
# the quick check (side-by-side tiles) calls a page flat below this fraction of FLAT_MM: on the
# 52 real scans and renders it reads <= 0.44 mm where the full check reads <= 0.39 mm, and >= 0.9
# mm on every page the full check bends (>= 1.1 mm)
QUICK_FLAT_FRACTION = 0.5
_WORK_LONG_SIDE_PX = 1800  # the grid is measured on a copy at most this long
_SHEET_LONG_SIDE_PX = 480
_ASSUMED_SHEET_MM = 270.0  # long side of the printed grid area, for the first scale guess
_MESH_CELL_PX = 32
_MIN_TILES = 12


@dataclass(frozen=True)
class Sheet:
    """The photographed sheet. ``corners_xy`` (TL, TR, BR, BL; pixels, may lie outside the
    frame where the sheet leaves it), ``sides_seen`` (top, right, bottom, left: the side is
    the paper's edge, not the frame's), ``mask`` (bool, image size) and a confidence 0..1."""

    corners_xy: np.ndarray
    sides_seen: tuple[bool, bool, bool, bool]
    mask: np.ndarray
    confidence: float
    area_fraction: float

    @property
    def found(self) -> bool:
        return self.confidence >= 0.5


@dataclass(frozen=True)
class RectifiedPage:
    """A page resampled onto a flat, uniform millimetre grid (or passed through unchanged).

    ``source_xy_of_output`` maps output pixels to input pixels on a coarse mesh (every
    ``mesh_step_px`` output pixels; None when unchanged); ``local_px_per_mm`` is the input
    image's scale on that mesh (sqrt of the area scale), ``px_per_mm`` the output's uniform
    scale (from the grid; None when the grid was not measured)."""

    image_rgb: np.ndarray
    changed: bool
    method: str  # "none", "grid", "sheet"
    px_per_mm: float | None
    local_px_per_mm: np.ndarray | None
    source_xy_of_output: np.ndarray | None
    valid_mask: np.ndarray | None  # output pixels that show the input (not fill)
    mesh_step_px: int
    nonlinearity_mm: float  # largest departure of the grid from an affine map (cubic fit)
    fit_residual: float  # RMS relative residual of the local grid pitch after the fit
    evidence_fraction: float  # tiles of the sheet with both grid line families found
    confidence: float
    sheet: Sheet | None
    warnings: tuple[str, ...] = ()


# --- sheet --------------------------------------------------------------------------------


def _small_grey(img: np.ndarray) -> tuple[np.ndarray, int]:
    factor = max(1, int(np.ceil(max(img.shape[:2]) / _SHEET_LONG_SIDE_PX)))
    small = img[::factor, ::factor].astype(np.float32)
    grey = small.mean(axis=2) / 255.0
    return ndimage.median_filter(grey, size=5), factor


def _fit_line(pts: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Total-least-squares line ``n·p = d`` through points, trimmed twice at 2.5 robust σ."""
    keep = np.ones(len(pts), bool)
    n, d = np.array([0.0, 1.0]), 0.0
    for _ in range(3):
        if keep.sum() < 5:
            return None
        p = pts[keep]
        m = p.mean(axis=0)
        _, _, vt = np.linalg.svd(p - m, full_matrices=False)
        n = vt[1]
        d = float(n @ m)
        r = np.abs(pts @ n - d)
        keep = r <= max(2.5 * 1.4826 * float(np.median(r[keep])), 1.0)
    return n, d


def _intersect(l1, l2) -> np.ndarray | None:
    a = np.array([l1[0], l2[0]])
    if abs(np.linalg.det(a)) < 1e-6:
        return None
    return np.linalg.solve(a, np.array([l1[1], l2[1]]))


def find_sheet(image_rgb: np.ndarray) -> Sheet | None:
    """The largest bright region (Otsu on a median-filtered small grey copy) and the
    quadrilateral of its four sides, each a line fitted to its boundary away from the frame.

    Returns None when nothing stands out (paper fills the frame, or no contrast). Confidence:
    the share of the four sides that are the paper's own edge, times how well the
    quadrilateral's area agrees with the region's, times the paper/background contrast."""
    from skimage.measure import label

    img = as_rgb_uint8(image_rgb)
    grey, factor = _small_grey(img)
    sh, sw = grey.shape
    if min(sh, sw) < 32 or float(np.ptp(grey)) < 0.15:
        return None
    labels = label(grey > otsu_threshold(grey), connectivity=1)
    if labels.max() == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    region = ndimage.binary_fill_holes(labels == int(np.argmax(sizes)))
    region = ndimage.binary_opening(region, iterations=2)
    frac = float(region.mean())
    if frac < 0.2 or frac > 0.97:
        return None
    contrast = float(grey[region].mean() - grey[~region].mean())
    if contrast < 0.08:
        return None
    quad, seen = _region_quad(region)
    if quad is None:
        return None
    area = 0.5 * abs(float(np.dot(quad[:, 0], np.roll(quad[:, 1], -1))
                           - np.dot(quad[:, 1], np.roll(quad[:, 0], -1))))
    clip_area = float(region.sum())
    agree = float(np.clip(1.0 - 4.0 * abs(min(area, 1.2 * clip_area) / clip_area - 1.0), 0, 1))
    conf = (sum(seen) / 4.0) * agree * float(np.clip(contrast / 0.2, 0, 1))
    mask = gf.smooth_mask(region, img.shape[:2])
    corners = (quad + 0.5) * factor - 0.5
    return Sheet(corners, seen, mask, float(conf), frac)


def _region_quad(region: np.ndarray):
    """Corners (TL, TR, BR, BL) and which sides are seen, from the region's boundary."""
    sh, sw = region.shape
    edge = region ^ ndimage.binary_erosion(region)
    ys, xs = np.nonzero(edge)
    pts = np.stack([xs, ys], axis=1).astype(float)
    on_frame = (xs <= 1) | (ys <= 1) | (xs >= sw - 2) | (ys >= sh - 2)
    s, d = pts.sum(axis=1), pts[:, 0] - pts[:, 1]
    c0 = np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]])
    frame_lines = [(np.array([0.0, 1.0]), 0.0), (np.array([1.0, 0.0]), sw - 1.0),
                   (np.array([0.0, 1.0]), sh - 1.0), (np.array([1.0, 0.0]), 0.0)]
    lines, seen = [], []
    for k in range(4):  # top (TL-TR), right (TR-BR), bottom (BR-BL), left (BL-TL)
        a, b = c0[k], c0[(k + 1) % 4]
        seg = b - a
        length = float(np.hypot(*seg))
        if length < 4:
            return None, None
        t = ((pts - a) @ seg) / length**2
        dist = np.abs((pts - a) @ np.array([-seg[1], seg[0]])) / length
        sel = (t > 0.1) & (t < 0.9) & (dist < 0.08 * max(sh, sw)) & ~on_frame
        line = _fit_line(pts[sel]) if sel.sum() >= 0.3 * 0.8 * length else None
        seen.append(line is not None)
        lines.append(line if line is not None else frame_lines[k])
    quad = []
    for k in range(4):
        p = _intersect(lines[(k - 1) % 4], lines[k])
        if p is None:
            return None, None
        quad.append(p)
    return np.array(quad), tuple(seen)


# --- grid mapping ---------------------------------------------------------------------------


def _downscale(img: np.ndarray) -> tuple[np.ndarray, int]:
    """Block-mean copy (PIL's reduce) whose long side is at most :data:`_WORK_LONG_SIDE_PX`."""
    f = max(1, int(np.ceil(max(img.shape[:2]) / _WORK_LONG_SIDE_PX)))
    if f == 1:
        return img, 1
    h, w = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    return np.asarray(Image.fromarray(np.ascontiguousarray(img[:h, :w])).reduce(f)), f


@dataclass(frozen=True)
class GridMap:
    """A fitted pixel → mm mapping (full-resolution pixels), where it is supported (the
    corners of the tiles with evidence) and its quality."""

    mapping: gf.FieldMap | gf.PolyMap  # the polynomial alone when the quick check found it flat
    support_xy: np.ndarray  # K×2 pixels: corners of the tiles with evidence
    frame_xy: np.ndarray  # K×2 pixels: those tiles grown by a quarter tile, inside the image
    fit_residual: float
    evidence_fraction: float
    n_tiles: int
    bend_mm: float  # a cubic fit's largest departure from affine over the tiles with evidence


def _grid_map(field: gf.TileField, f: int, shape_hw, local: bool) -> GridMap | None:
    """The mapping fitted to a tile field of the working image (block size ``f``): the
    polynomial, corrected tile by tile when ``local``; None with too few tiles."""
    both = (field.weight_u > 0) & (field.weight_v > 0)
    good = int(both.sum())
    if good < _MIN_TILES:
        return None
    # full-resolution pixels: block (i, j) is centred on f·i + (f-1)/2; vectors scale 1/f
    full = gf.TileField(field.centres_xy * f + 0.5 * (f - 1), field.ku / f, field.kv / f,
                        field.weight_u, field.weight_v, field.tile_px * f)
    poly, rms = gf.fit_polymap(full, 4 if good >= 80 else 3 if good >= 30 else 2)
    mapping = gf.fit_field_map(full, poly) if local else poly
    offsets = np.array([(sx, sy) for sx in (-1, 1) for sy in (-1, 1)]) * full.tile_px
    support = (full.centres_xy[both][None] + 0.5 * offsets[:, None]).reshape(-1, 2)
    frame = (full.centres_xy[both][None] + 0.75 * offsets[:, None]).reshape(-1, 2)
    frame = np.clip(frame, 0, np.array([shape_hw[1] - 1, shape_hw[0] - 1]))
    centres = full.centres_xy[both]
    bend = nonlinearity_mm(gf.fit_polymap(full, 3)[0], centres[:, 0], centres[:, 1])[0]
    return GridMap(mapping, support, frame, rms, field.evidence_fraction, good, bend)


def fit_grid_map(img: np.ndarray, mask: np.ndarray | None, px_per_mm_guess: float,
                 flat_mm: float = 0.0) -> GridMap | None:
    """Measure the grid in tiles of a working copy and fit the mapping (None: no grid).

    With ``flat_mm`` > 0, a quick check first measures side-by-side tiles (a quarter of the
    work) and stops there when the page bends less than :data:`QUICK_FLAT_FRACTION` of
    ``flat_mm``: a flat scan or render, which will not be warped. Otherwise the tiles overlap
    by half, and a second pass re-measures every tile around the first fit's local vectors,
    unless the page bends less than ``flat_mm``.

    The bend is judged on a cubic fit at the tiles' centres: low order and no extrapolation,
    so that measurement noise on a flat page (±0.15 mm) does not pass for a bend."""
    work, f = _downscale(img)
    signal = gf.grid_signal(work)
    wmask = None if mask is None else mask[f // 2 :: f, f // 2 :: f][: work.shape[0], : work.shape[1]]
    vectors = gf.global_vectors(signal, px_per_mm_guess / f, wmask)
    if vectors is None:
        return None
    ku0, kv0 = vectors
    if flat_mm > 0:
        quick = gf.measure_tiles(signal, ku0, kv0, wmask, overlap=False)
        result = _grid_map(gf.orient_field(quick, ku0, kv0), f, img.shape, local=False)
        if result is not None and result.bend_mm < QUICK_FLAT_FRACTION * flat_mm:
            return result
    result, predict = None, None
    for _ in range(2):  # the second pass searches each tile around the first fit's vectors
        field = gf.orient_field(gf.measure_tiles(signal, ku0, kv0, wmask, predict), ku0, kv0)
        fitted = _grid_map(field, f, img.shape, local=True)
        if fitted is None:
            break
        result = fitted
        if result.bend_mm < flat_mm:
            break
        predict = _predictor(result.mapping, f)
    return result


def _predictor(mapping: gf.FieldMap, f: int):
    """Expected 5 mm wave vectors (working-image pixels) at working-image points."""

    def predict(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        jac = mapping.jacobian(centres[:, 0] * f + 0.5 * (f - 1), centres[:, 1] * f + 0.5 * (f - 1))
        return jac[:, 0, :] * f / gf.HEAVY_MM, jac[:, 1, :] * f / gf.HEAVY_MM

    return predict


def nonlinearity_mm(mapping: gf.FieldMap, xs: np.ndarray, ys: np.ndarray
                    ) -> tuple[float, np.ndarray]:
    """Largest distance (mm) between the mapping and its best affine fit over the points, and
    that affine fit (3×2: [x, y, 1] @ A = (u, v))."""
    u, v = mapping(xs, ys)
    a = np.stack([xs, ys, np.ones_like(xs)], axis=1)
    coef, *_ = np.linalg.lstsq(a, np.stack([u, v], axis=1), rcond=None)
    dev = np.hypot(*(a @ coef - np.stack([u, v], axis=1)).T)
    return float(np.max(dev)), coef


def _output_frame(mapping, xs, ys, px_per_mm):
    u, v = mapping(xs, ys)
    u0, u1, v0, v1 = float(u.min()), float(u.max()), float(v.min()), float(v.max())
    out_w = int(np.ceil((u1 - u0) * px_per_mm)) + 1
    out_h = int(np.ceil((v1 - v0) * px_per_mm)) + 1
    return (u0, v0), (out_h, out_w)


def warp_to_grid(img: np.ndarray, mapping: gf.FieldMap, origin_mm, out_hw, px_per_mm: float,
                 affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample so that output pixel (i, j) shows paper point origin + (j, i)/px_per_mm; one
    PIL mesh transform (bilinear within cells of :data:`_MESH_CELL_PX`). Returns the image,
    the source (x, y) of every mesh node (rows × cols × 2) and the coverage (0..1, float32:
    how much of each output pixel comes from the image). Cells touching a node whose inverse
    did not converge, and whatever falls outside the image, are filled by
    :func:`_fill_paper`: the surrounding paper's colour and shading, so no edge appears."""
    out_h, out_w = out_hw
    step = _MESH_CELL_PX
    gy = np.append(np.arange(0, out_h, step), out_h)
    gx = np.append(np.arange(0, out_w, step), out_w)
    jj, ii = np.meshgrid(gx, gy)
    u = origin_mm[0] + jj / px_per_mm
    v = origin_mm[1] + ii / px_per_mm
    lin = affine[:2].T  # (u, v) = lin @ (x, y) + affine[2]: Newton starts from its inverse
    rel = np.stack([u - affine[2, 0], v - affine[2, 1]], axis=-1)
    start = rel @ np.linalg.inv(lin).T
    x, y = mapping.inverse(u, v, start[..., 0], start[..., 1])
    fu, fv = mapping(x, y)
    h, w = img.shape[:2]
    converged = np.hypot(fu - u, fv - v) < 0.05
    src = np.stack([x, y], axis=-1)
    far = (-10.0 * w, -10.0 * h)
    mesh = []
    for r in range(len(gy) - 1):
        for c in range(len(gx) - 1):
            box = (int(gx[c]), int(gy[r]), int(gx[c + 1]), int(gy[r + 1]))
            if converged[r : r + 2, c : c + 2].all():
                q = (src[r, c], src[r + 1, c], src[r + 1, c + 1], src[r, c + 1])
            else:
                q = (far, far, far, far)
            mesh.append((box, tuple(float(t) for p in q for t in p)))
    rgba = Image.fromarray(img).convert("RGBA")  # alpha 255: the image; 0: fill
    out = np.asarray(rgba.transform((out_w, out_h), Image.Transform.MESH, mesh,
                                    resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0, 0)))
    coverage = out[:, :, 3].astype(np.float32) * np.float32(1.0 / 255.0)
    return _fill_paper(out[:, :, :3], coverage), src, coverage


def _fill_paper(rgb: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Complete partly covered pixels (colour × coverage, as PIL blends with a zero fill)
    with a smooth extension of the covered paper: a normalised Gaussian of the covered
    colours on a copy 8× smaller, so that shading continues and no step edge appears. Only
    the uncovered pixels (a border, usually) are touched."""
    todo = np.nonzero(coverage < 0.999)
    if todo[0].size == 0:
        return rgb
    step = 8
    small_c = coverage[::step, ::step]
    small = rgb[::step, ::step].astype(np.float32)
    num = np.stack([ndimage.gaussian_filter(small[:, :, k], 6.0) for k in range(3)], axis=2)
    den = ndimage.gaussian_filter(small_c, 6.0)[:, :, None]
    paper = num / np.maximum(den, 1e-3)
    seen = small_c > 0.99  # where even the blur sees no paper: the covered pixels' median
    if seen.any():
        paper = np.where(den > 0.05, paper, np.median(small[seen], axis=0))
    iy, ix = todo
    fill = paper[iy // step, ix // step] * (1.0 - coverage[iy, ix])[:, None]
    out = rgb.copy()
    out[iy, ix] = np.clip(rgb[iy, ix] + fill + 0.5, 0, 255).astype(np.uint8)
    return out


def _local_scale(mapping: gf.FieldMap, src: np.ndarray) -> np.ndarray:
    jac = mapping.jacobian(src[..., 0], src[..., 1])
    det = np.abs(jac[..., 0, 0] * jac[..., 1, 1] - jac[..., 0, 1] * jac[..., 1, 0])
    return 1.0 / np.sqrt(np.maximum(det, 1e-12))


def _scale_guess(img: np.ndarray, sheet: Sheet | None) -> float:
    long_px = max(img.shape[:2])
    if sheet is not None and sheet.found:
        c = sheet.corners_xy
        long_px = max(np.hypot(*(c[1] - c[0])), np.hypot(*(c[3] - c[0])))
    return float(long_px) / _ASSUMED_SHEET_MM


def rectify_page(image_rgb: np.ndarray, *, px_per_mm_guess: float | None = None,
                 flat_mm: float = FLAT_MM) -> RectifiedPage:
    """Straighten a photographed page onto a flat millimetre grid (see the module doc).

    ``px_per_mm_guess`` only settles the 1 mm / 5 mm ambiguity (default: the sheet's long side
    or the image's over :data:`_ASSUMED_SHEET_MM`). Never fails: when the grid cannot be
    used the sheet's quadrilateral is (perspective only), else the image comes back
    unchanged with a warning."""
    img = as_rgb_uint8(image_rgb)
    sheet = find_sheet(img)
    mask = sheet.mask if sheet is not None and sheet.found else None
    gmap = fit_grid_map(img, mask, px_per_mm_guess or _scale_guess(img, sheet), flat_mm)
    if gmap is None:
        return _sheet_only(img, sheet, ["no grid found to rectify the page with"])
    xs, ys = gmap.support_xy[:, 0], gmap.support_xy[:, 1]
    bend_mm = gmap.bend_mm
    affine = nonlinearity_mm(gmap.mapping, xs, ys)[1]
    jac = gmap.mapping.jacobian(xs, ys)
    det = np.abs(jac[..., 0, 0] * jac[..., 1, 1] - jac[..., 0, 1] * jac[..., 1, 0])
    px_per_mm = float(np.median(1.0 / np.sqrt(det)))
    confidence = float(gmap.evidence_fraction * np.clip(1.0 - gmap.fit_residual / 0.15, 0, 1))
    common = dict(px_per_mm=px_per_mm, nonlinearity_mm=bend_mm, fit_residual=gmap.fit_residual,
                  evidence_fraction=gmap.evidence_fraction, confidence=confidence, sheet=sheet,
                  mesh_step_px=_MESH_CELL_PX)
    unchanged = dict(local_px_per_mm=None, source_xy_of_output=None, valid_mask=None)
    if bend_mm < flat_mm:
        return RectifiedPage(img, False, "none", **unchanged, **common)
    origin, out_hw = _output_frame(gmap.mapping, *gmap.frame_xy.T, px_per_mm)
    if out_hw[0] * out_hw[1] > 2.0 * img.shape[0] * img.shape[1]:
        return RectifiedPage(img, False, "none", **unchanged, **common, warnings=(
            "grid mapping implausible (the page would grow); left unchanged",))
    out, src, coverage = warp_to_grid(img, gmap.mapping, origin, out_hw, px_per_mm, affine)
    return RectifiedPage(out, True, "grid", local_px_per_mm=_local_scale(gmap.mapping, src),
                         source_xy_of_output=src, valid_mask=coverage > 0.5,
                         **common)


def _sheet_only(img: np.ndarray, sheet: Sheet | None, warnings: list[str]) -> RectifiedPage:
    """Perspective-only rectification from the sheet's four seen sides, or the image as is."""
    base = dict(px_per_mm=None, local_px_per_mm=None, source_xy_of_output=None,
                valid_mask=None, mesh_step_px=_MESH_CELL_PX, nonlinearity_mm=0.0,
                fit_residual=float("inf"), evidence_fraction=0.0, sheet=sheet)
    if sheet is None or not (sheet.found and all(sheet.sides_seen)):
        return RectifiedPage(img, False, "none", confidence=0.0, warnings=tuple(warnings), **base)
    from skimage.transform import ProjectiveTransform, warp

    tl, tr, br, bl = sheet.corners_xy
    out_w = round(0.5 * (np.hypot(*(tr - tl)) + np.hypot(*(br - bl))))
    out_h = round(0.5 * (np.hypot(*(bl - tl)) + np.hypot(*(br - tr))))
    dst = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], float)
    transform = ProjectiveTransform.from_estimate(dst, sheet.corners_xy)
    out = warp(img, transform, output_shape=(out_h, out_w), order=1,
               cval=1.0, preserve_range=True)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    warnings.append("perspective corrected from the sheet's outline only")
    return RectifiedPage(out, True, "sheet", confidence=sheet.confidence,
                         warnings=tuple(warnings), **base)


_PIPELINE_MIN_CONFIDENCE = 0.6
_PIPELINE_MIN_EVIDENCE = 0.85


def correct_page_geometry(image_rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    """The pipeline's perspective step: :func:`rectify_page` when it bends the page (a photo)
    with grid evidence in most tiles and a consistent fit, else the sheet-outline
    perspective correction of :func:`~ecgviewer.digitize.geometry.correct_perspective`
    (which leaves a flat scan alone). Returns (image, whether it was changed)."""
    img = as_rgb_uint8(image_rgb)
    result = rectify_page(img)
    if (result.changed and result.method == "grid"
            and result.confidence >= _PIPELINE_MIN_CONFIDENCE
            and result.evidence_fraction >= _PIPELINE_MIN_EVIDENCE):
        return result.image_rgb, True
    return correct_perspective(img)
