"""How straight and even a page's printed grid is: an evaluation of photo rectification
(:mod:`ecgviewer.digitize.dewarp`), from the local grid measured in tiles
(:func:`~ecgviewer.digitize.gridfield.measure_tiles`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ecgviewer.digitize.gridfield import (
    HEAVY_MM,
    TileField,
    global_vectors,
    grid_signal,
    measure_tiles,
    orient_field,
)


@dataclass(frozen=True)
class Straightness:
    """How far the grid of an image is from straight, parallel, evenly spaced lines, from the
    local line directions and pitches of :func:`measure_tiles`.

    ``bow_mm``: largest deviation of a grid line from its own straight fit, found by
    integrating the local slopes along each row (column) of tiles; ``tilt_spread_deg``:
    spread of the mean line direction between tile rows (columns), which perspective
    creates; ``tilt_deg``: the mean tilt of the horizontal lines; ``pitch_spread``:
    relative spread (95th / 5th percentile − 1) of the local 5 mm pitch."""

    bow_mm: float
    tilt_spread_deg: float
    tilt_deg: float
    pitch_spread: float
    tiles: int


def _tile_grids(field: TileField):
    """Per-tile slope of the horizontal and the vertical lines and the 5 mm pitch, as 2-D
    arrays (tile rows × tile columns; NaN without evidence; 3×3 median against outliers)."""
    c = field.centres_xy
    xs, ys = np.unique(c[:, 0]), np.unique(c[:, 1])
    sh = np.full((ys.size, xs.size), np.nan)
    sv, pitch = sh.copy(), sh.copy()
    i, j = np.searchsorted(ys, c[:, 1]), np.searchsorted(xs, c[:, 0])
    ok_u, ok_v = field.weight_u > 0, field.weight_v > 0
    sh[i[ok_v], j[ok_v]] = -field.kv[ok_v, 0] / field.kv[ok_v, 1]  # dy/dx of a horizontal line
    sv[i[ok_u], j[ok_u]] = -field.ku[ok_u, 1] / field.ku[ok_u, 0]  # dx/dy of a vertical line
    pitch[i[ok_u], j[ok_u]] = 1.0 / np.hypot(*field.ku[ok_u].T)
    med = lambda a: ndimage.generic_filter(a, np.nanmedian, size=3, mode="nearest")  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods stay NaN
        return xs, ys, med(sh), med(sv), pitch


def _bows(slopes: np.ndarray, pos: np.ndarray) -> tuple[list[float], list[float]]:
    """For each row of ``slopes`` (local dy/dx sampled at ``pos``): the peak-to-peak
    residual (px) of the integrated line from its straight fit, and the row's mean angle."""
    bows, angles = [], []
    for row in slopes:
        ok = np.isfinite(row)
        if ok.sum() < 4:
            continue
        x, s = pos[ok], row[ok]
        y = np.concatenate([[0.0], np.cumsum(0.5 * (s[1:] + s[:-1]) * np.diff(x))])
        res = y - np.polyval(np.polyfit(x, y, 1), x)
        bows.append(float(np.ptp(res)))
        angles.append(float(np.degrees(np.arctan(np.mean(s)))))
    return bows, angles


def grid_straightness(img_rgb: np.ndarray, px_per_mm_guess: float | None = None,
                      mask: np.ndarray | None = None) -> Straightness | None:
    """Measure the :class:`Straightness` of an image's grid, in tiles wholly inside ``mask``
    when given (None when no grid is found)."""
    sig = grid_signal(img_rgb)
    vec = global_vectors(sig, px_per_mm_guess or max(sig.shape) / 270.0, mask)
    if vec is None:
        return None
    field = orient_field(measure_tiles(sig, *vec, mask), *vec)
    xs, ys, sh, sv, pitch = _tile_grids(field)
    bh, ah = _bows(sh, xs)
    bv, av = _bows(sv.T, ys)
    if not (bh or bv):
        return None
    px_per_mm = float(np.nanmedian(pitch)) / HEAVY_MM
    lo, hi = np.nanpercentile(pitch, [5, 95])
    spread = [float(np.ptp(a)) for a in (ah, av) if len(a) >= 2]
    return Straightness(
        bow_mm=max(bh + bv) / px_per_mm,
        tilt_spread_deg=max(spread) if spread else float("nan"),
        tilt_deg=float(np.mean(ah)) if ah else float("nan"),
        pitch_spread=float(hi / lo - 1.0),
        tiles=int(np.sum((field.weight_u > 0) & (field.weight_v > 0))),
    )
