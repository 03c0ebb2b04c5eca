"""Paper wrinkles: undo the fine local displacement of a wrinkled sheet, measured on its grid.

A wrinkled or crumpled sheet lies a fraction of a millimetre off flat, and the displacement
changes every centimetre or so: it moves the trace and the grid together (the benchmark's
"wrinkles" pages: 0.4-0.75 mm), shifting QRS complexes by 15-30 ms and costing about 10 dB,
yet it is far too fine for the photo geometry's smooth fit (:mod:`ecgviewer.digitize.dewarp`
reads 0.1-0.2 mm of non-linearity there and leaves the page alone).

The printed 1 mm grid measures it. Demodulating the grid signal at the grid's own pitch along x
(the vertical lines) and along y (the horizontal lines) and averaging over a 5 mm box (which
nulls the bold 5 mm lines' other harmonics) gives a local phase per axis; unwrapped over the
page and less its affine part (pitch and rotation are the grid and deskew steps' business) it
is the local displacement in pixels. The trace's own ink is left out of the average
(normalised convolution), else every QRS stroke reads as a grid line moved by half a
millimetre. The page is resampled only when the displacement is clearly there over most of
it (median at least :data:`MIN_MEDIAN_SHIFT_MM`: flat renders read 0.005 mm, rotated or
kit-like pages 0.006-0.02 mm, wrinkled ones 0.13-0.18 mm), changes from point to point (a
crease's smooth bend, which flattening did not help, does not) and is smooth (phase noise on a
grid too faint or too coarse to measure is not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.restoration import unwrap_phase

from ecgviewer.digitize.gridfield import grid_signal

BOX_MM = 5.0  # the demodulated grid is averaged over this box: one period of the bold lines
WORK_PX_PER_MM = 4.0  # the field is measured on a copy reduced to about this scale
FIELD_STEP_PX = 8  # ...and kept every this many pixels of that copy (2 mm)
MIN_PAPER_SHARE = 0.3  # a field point needs this share of paper (not ink) in its box...
MIN_AMPLITUDE_SHARE = 0.3  # ...and a grid response at least this share of the page's median
MIN_MEDIAN_SHIFT_MM = 0.06  # undo only a displacement whose median over the grid is this large
MIN_MEDIAN_SHIFT_PX = 0.75  # ...and this many pixels (a scan's grid lines sit on whole pixels)
MIN_RIPPLE_MM = 0.004  # ...that changes from point to point (median step): wrinkles 0.008-0.011
# mm, a flat page or a crease's smooth bend 0.0005-0.0016 mm
MAX_TORN_SHARE = 0.02  # ...and is smooth: at most this share of steps over 1/8 mm (phase noise)
INK_GROWTH_MM = 0.3  # ink (trace, text) grown by this much is left out of the grid's average


@dataclass(frozen=True)
class GridDisplacement:
    """Where the grid lies off a flat lattice: ``dx_px``/``dy_px`` (full-resolution pixels,
    image = flat + displacement) sampled every ``step_px`` pixels; ``valid`` where measured."""

    dx_px: np.ndarray
    dy_px: np.ndarray
    valid: np.ndarray
    step_px: float

    @property
    def median_shift_px(self) -> float:
        """Median displacement length over the measured points (0 when none)."""
        if not self.valid.any():
            return 0.0
        return float(np.median(np.hypot(self.dx_px, self.dy_px)[self.valid]))

    def steps_px(self) -> np.ndarray:
        """Differences between neighbouring measured points, both fields, both directions."""
        v = self.valid
        out = [np.zeros(0)]
        for f in (self.dx_px, self.dy_px):
            out.append(np.abs(np.diff(f, axis=1))[v[:, 1:] & v[:, :-1]])
            out.append(np.abs(np.diff(f, axis=0))[v[1:] & v[:-1]])
        return np.concatenate(out)

    def is_wrinkled(self, px_per_mm: float) -> bool:
        """Whether the page is clearly and smoothly wrinkled (the module's docstring)."""
        steps = self.steps_px()
        return (
            steps.size > 0
            and self.median_shift_px >= max(MIN_MEDIAN_SHIFT_MM * px_per_mm, MIN_MEDIAN_SHIFT_PX)
            and float(np.median(steps)) >= MIN_RIPPLE_MM * px_per_mm
            and float(np.mean(steps > px_per_mm / 8)) <= MAX_TORN_SHARE
        )


def _box(a: np.ndarray, n: int) -> np.ndarray:
    return ndimage.uniform_filter(a, n, mode="nearest")


def _box_sampled(a: np.ndarray, n: int) -> np.ndarray:
    """``_box(a, n)`` kept every :data:`FIELD_STEP_PX` pixels (filtered one axis at a time,
    each subsampled before the next: a quarter of the work)."""
    s = slice(None, None, FIELD_STEP_PX)
    rows = ndimage.uniform_filter1d(a, n, axis=0, mode="nearest")[s]
    return ndimage.uniform_filter1d(rows, n, axis=1, mode="nearest")[:, s]


def _axis_phase(on_paper: np.ndarray, weight: np.ndarray, period_px: float, axis: int, box: int):
    """(phase, amplitude) of the grid signal ``on_paper`` (zero on ink) at ``period_px`` along
    ``axis`` (1 = x), averaged over the paper of a ``box``-wide square (``weight``: its
    share, :func:`_box_sampled`), every :data:`FIELD_STEP_PX` pixels."""
    angle = 2 * np.pi * np.arange(on_paper.shape[axis]) / period_px
    shape = (1, -1) if axis == 1 else (-1, 1)
    re = _box_sampled(on_paper * np.cos(angle).astype(np.float32).reshape(shape), box) / weight
    im = _box_sampled(on_paper * -np.sin(angle).astype(np.float32).reshape(shape), box) / weight
    return np.arctan2(im, re), np.hypot(re, im)


def _largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of ``mask`` (all False when empty)."""
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _without_affine(d: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``d`` less its least-squares plane over ``valid``."""
    yy, xx = np.nonzero(valid)
    a = np.stack([np.ones(yy.size), xx, yy], axis=1)
    coef = np.linalg.lstsq(a, d[valid], rcond=None)[0]
    gy, gx = np.mgrid[0 : d.shape[0], 0 : d.shape[1]]
    return d - (coef[0] + coef[1] * gx + coef[2] * gy)


def grid_displacement(
    image_rgb: np.ndarray, ink: np.ndarray, px_per_mm_x: float, px_per_mm_y: float
) -> GridDisplacement:
    """The grid's local displacement on a page (see the module's docstring); ``ink``: the
    page's trace and text (bool, image size), left out of the grid's average."""
    f = max(1, int(min(px_per_mm_x, px_per_mm_y) // WORK_PX_PER_MM))
    grow = max(1, round(INK_GROWTH_MM * min(px_per_mm_x, px_per_mm_y)))
    grown = ndimage.binary_dilation(ink, iterations=grow)
    signal = grid_signal(image_rgb)
    paper = (~grown).astype(np.float32)
    if f > 1:  # area-average to the working scale
        h, w = (signal.shape[0] // f) * f, (signal.shape[1] // f) * f
        signal = signal[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3), dtype=np.float32)
        paper = paper[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3), dtype=np.float32)
    ppm = 0.5 * (px_per_mm_x + px_per_mm_y) / f
    signal = signal - _box(signal, int(2 * ppm) | 1)
    box = max(3, round(BOX_MM * ppm))
    cover = _box_sampled(paper, box)
    on_paper, weight = signal * paper, cover + np.float32(1e-6)
    fields, valid = [], None
    for axis, period in ((1, px_per_mm_x / f), (0, px_per_mm_y / f)):
        phase, amp = _axis_phase(on_paper, weight, period, axis, box)
        ok = cover > MIN_PAPER_SHARE
        ok &= amp > MIN_AMPLITUDE_SHARE * (np.median(amp[ok]) if ok.any() else np.inf)
        valid = ok if valid is None else valid & ok
        fields.append((phase, period))
    valid = _largest_region(valid)  # islands unwrap on their own: one could be 1 mm off
    shifts = []
    for phase, period in fields:
        if valid.sum() < 3:
            shifts.append(np.zeros(phase.shape))
            continue
        unwrapped = unwrap_phase(np.ma.masked_array(phase, mask=~valid)).filled(0.0)
        d = -np.asarray(unwrapped) * period / (2 * np.pi) * f
        shifts.append(np.where(valid, _without_affine(d, valid), 0.0))
    return GridDisplacement(shifts[0], shifts[1], valid, float(FIELD_STEP_PX * f))


def undo_displacement(image_rgb: np.ndarray, disp: GridDisplacement) -> np.ndarray:
    """The page (uint8 H×W×C) resampled flat: each output pixel takes the image at itself +
    displacement (bilinear; the field itself interpolated from its coarse samples)."""
    h, w = image_rgb.shape[:2]
    fh, fw = disp.dx_px.shape
    # field sample i sits at pixel i * step: a separable linear interpolation to every pixel
    ys = np.clip(np.arange(h, dtype=np.float32) / np.float32(disp.step_px), 0, fh - 1)
    xs = np.clip(np.arange(w, dtype=np.float32) / np.float32(disp.step_px), 0, fw - 1)
    coords = []
    for field, grid in ((disp.dy_px, np.arange(h)[:, None]), (disp.dx_px, np.arange(w)[None, :])):
        rows = _lerp_axis(field.astype(np.float32), ys, axis=0)
        coords.append(_lerp_axis(rows, xs, axis=1) + grid.astype(np.float32))
    out = np.empty_like(image_rgb)
    for c in range(image_rgb.shape[2]):
        ndimage.map_coordinates(
            image_rgb[..., c], coords, output=out[..., c], order=1, mode="nearest",
            prefilter=False,
        )
    return out


def _lerp_axis(a: np.ndarray, at: np.ndarray, axis: int) -> np.ndarray:
    """``a`` linearly interpolated at fractional indices ``at`` along ``axis``."""
    i0 = np.floor(at).astype(int)
    i1 = np.minimum(i0 + 1, a.shape[axis] - 1)
    t = (at - i0).astype(np.float32)
    shape = (-1, 1) if axis == 0 else (1, -1)
    lo, hi = np.take(a, i0, axis=axis), np.take(a, i1, axis=axis)
    return lo + (hi - lo) * t.reshape(shape)


def flatten_wrinkles(
    image_rgb: np.ndarray, ink: np.ndarray, px_per_mm_x: float, px_per_mm_y: float
) -> tuple[np.ndarray, float]:
    """``(page, median displacement px)``: the page flattened where its grid says it is
    wrinkled (:meth:`GridDisplacement.is_wrinkled`), else the page itself.

    The 5 mm average reads a ripple 1-1.5 cm long at 55-65 % of its size; measuring the
    residual again on the flattened page and undoing the sum read the benchmark's wrinkled
    pages 0.5-1.2 dB worse (the resampled grid is softer), so one pass it is."""
    disp = grid_displacement(image_rgb, ink, px_per_mm_x, px_per_mm_y)
    if not disp.is_wrinkled(0.5 * (px_per_mm_x + px_per_mm_y)):
        return image_rgb, disp.median_shift_px
    return undo_displacement(image_rgb, disp), disp.median_shift_px
