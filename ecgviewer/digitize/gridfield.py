"""Local measurement of the printed grid and a smooth image → millimetre mapping fitted to it.

Why: a phone photo of an ECG is seen in perspective and the paper curls, so the grid's pitch
and direction change across the page. Each tile of the image shows the grid as a "cross" of
spectral peaks: the lines of one family (e.g. the vertical lines) give peaks at the harmonics
``n·k`` of their 5 mm wave vector ``k`` (cycles per pixel, perpendicular to the lines); the 5th
harmonic is the 1 mm lines when they are printed. The local wave vector is the gradient of the
paper coordinate: ``∇u = 5 mm · k_u`` and ``∇v = 5 mm · k_v``. A low-order 2-D polynomial
``u(x, y)``, ``v(x, y)`` is fitted to those gradients (weighted, robust least squares); it is
the mapping from image pixels to flat paper millimetres (up to a constant shift).

Only numpy/scipy: no OpenCV, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from ecgviewer.digitize.preprocess import channel_min, paper_background

HEAVY_MM = 5.0  # the period of the heavy grid lines: the lattice measured in every tile
_HARMONICS = (1, 2, 3, 4, 5)
_SEARCH_FRACTION = 0.3  # a harmonic is searched within this fraction of |k| of its prediction
_MIN_PEAK_SNR = 6.0
_FFT_BATCH = 32  # peak power over the median power of its ring: grid evidence


def newton_inverse(forward, jacobian, u, v, x0, y0, iterations: int):
    """Pixels (x, y) with ``forward(x, y) == (u, v)``, by Newton's method from (x0, y0) with the
    2×2 ``jacobian(x, y)`` (shape (..., 2, 2)); shared by the mappings below."""
    x, y = np.array(x0, float), np.array(y0, float)
    for _ in range(iterations):
        fu, fv = forward(x, y)
        jac = jacobian(x, y)
        det = jac[..., 0, 0] * jac[..., 1, 1] - jac[..., 0, 1] * jac[..., 1, 0]
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        ru, rv = u - fu, v - fv
        x = x + (jac[..., 1, 1] * ru - jac[..., 0, 1] * rv) / det
        y = y + (-jac[..., 1, 0] * ru + jac[..., 0, 0] * rv) / det
    return x, y


@dataclass(frozen=True)
class TileField:
    """Local 5 mm wave vectors measured in tiles (cycles per pixel, working-image pixels).

    ``ku`` belongs to the lines of constant paper x (the "vertical" lines), ``kv`` to those of
    constant paper y; a weight of 0 means no grid evidence for that family in that tile."""

    centres_xy: np.ndarray  # N×2 tile centres, pixels
    ku: np.ndarray  # N×2
    kv: np.ndarray  # N×2
    weight_u: np.ndarray  # N
    weight_v: np.ndarray  # N
    tile_px: int

    @property
    def evidence_fraction(self) -> float:
        """Fraction of tiles where both line families were found."""
        if self.weight_u.size == 0:
            return 0.0
        return float(np.mean((self.weight_u > 0) & (self.weight_v > 0)))


def grid_signal(img_rgb: np.ndarray) -> np.ndarray:
    """Float32 map, higher on grid lines: darkness of the darkest channel relative to the local
    paper brightness (flat under shadows and colour casts), with the darkest 1.5 % (trace ink,
    text) clipped so that the trace does not dominate a tile's spectrum."""
    value = channel_min(img_rgb).astype(np.float32) * np.float32(1.0 / 255.0)
    bg = paper_background(value)
    np.maximum(bg, np.float32(0.05), out=bg)
    dark = 1.0 - value / bg
    np.clip(dark, 0.0, 1.0, out=dark)
    cap = float(np.quantile(dark[::4, ::4], 0.985))
    if cap > 0:
        np.minimum(dark, np.float32(cap), out=dark)
    return dark


def _median(a: np.ndarray):
    """``np.median`` of a small array (same value, bit for bit), without its overhead: it is
    called for thousands of spectrum windows per page."""
    flat = a.ravel()
    k = flat.size // 2
    if flat.size % 2:
        return np.partition(flat, k)[k]
    part = np.partition(flat, (k - 1, k))
    return (part[k - 1] + part[k]) / 2


def _peak_near(power: np.ndarray, k_pred: np.ndarray, radius: float, nfft: int):
    """Sub-bin position (cycles/px) and SNR of the largest peak of an (fftshifted) power
    spectrum within ``radius`` of ``k_pred``; None when the window leaves the spectrum."""
    c = nfft // 2
    fx, fy = k_pred * nfft
    r = max(1.5, radius * nfft)
    x0, x1 = int(np.floor(c + fx - r)), int(np.ceil(c + fx + r)) + 1
    y0, y1 = int(np.floor(c + fy - r)), int(np.ceil(c + fy + r)) + 1
    if x0 < 1 or y0 < 1 or x1 > nfft - 1 or y1 > nfft - 1:
        return None
    win = power[y0:y1, x0:x1]
    iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
    py, px = y0 + iy, x0 + ix
    if not (y0 < py < y1 - 1 and x0 < px < x1 - 1):
        return None  # the maximum is on the window's edge: a neighbour's flank, not a peak
    lp = np.log(power[py - 1 : py + 2, px - 1 : px + 2] + 1e-12)
    dx = 0.5 * (lp[1, 0] - lp[1, 2]) / (lp[1, 0] - 2 * lp[1, 1] + lp[1, 2] - 1e-12)
    dy = 0.5 * (lp[0, 1] - lp[2, 1]) / (lp[0, 1] - 2 * lp[1, 1] + lp[2, 1] - 1e-12)
    k = np.array([px + min(max(dx, -0.5), 0.5) - c, py + min(max(dy, -0.5), 0.5) - c]) / nfft
    ring = _median(win) + 1e-12
    return k, float(power[py, px] / ring)


def _family_vector(power: np.ndarray, k0: np.ndarray, nfft: int) -> tuple[np.ndarray, float]:
    """Refine the 5 mm wave vector ``k0`` of one line family in one tile from its harmonics,
    each predicted from the estimate so far; returns (k, weight) with weight 0 when no
    harmonic stands out."""
    k = k0.copy()
    num = np.zeros(2)
    den = 0.0
    best_snr = 0.0
    for n in _HARMONICS:
        found = _peak_near(power, n * k, _SEARCH_FRACTION * float(np.hypot(*k)), nfft)
        if found is None:
            continue
        kn, snr = found
        if snr < _MIN_PEAK_SNR:
            continue
        w = n * n * np.log(snr)
        num += w * kn / n
        den += w
        k = num / den
        best_snr = max(best_snr, snr)
    if den == 0.0:
        return k0, 0.0
    return k, float(den)


def measure_tiles(
    signal: np.ndarray, ku0: np.ndarray, kv0: np.ndarray, mask: np.ndarray | None = None,
    predict=None, overlap: bool = True,
) -> TileField:
    """Local 5 mm wave vectors of both families in tiles about six heavy periods wide
    (overlapping by half, or side by side with ``overlap=False``: a quarter of the work;
    wholly inside ``mask`` when given), each searched around the global vectors
    ``ku0``/``kv0`` (cycles/px), or around ``predict(centres_xy) -> (ku, kv)`` (N×2 each)
    when given (a second pass from a first mapping follows strong local bends)."""
    period = 1.0 / max(float(np.hypot(*ku0)), float(np.hypot(*kv0)), 1e-6)
    tile = int(np.clip(round(6 * period), 64, 256))
    nfft = sfft.next_fast_len(int(1.5 * tile))
    h, w = signal.shape
    step = tile // 2 if overlap else tile
    corners = [
        (y, x)
        for y in range(0, max(1, h - tile + 1), step)
        for x in range(0, max(1, w - tile + 1), step)
        if y + tile <= h and x + tile <= w
        and (mask is None or mask[y : y + tile : tile - 1, x : x + tile : tile - 1].all())
    ]
    win = np.outer(np.hanning(tile), np.hanning(tile)).astype(np.float32)
    centres = np.array([(x + 0.5 * (tile - 1), y + 0.5 * (tile - 1)) for y, x in corners])
    centres = centres.reshape(-1, 2)
    n = len(corners)
    pu, pv = predict(centres) if predict is not None and n else (np.tile(ku0, (n, 1)),
                                                                  np.tile(kv0, (n, 1)))
    kus, kvs, wus, wvs = [], [], [], []
    for b0 in range(0, n, _FFT_BATCH):
        batch = corners[b0 : b0 + _FFT_BATCH]
        stack = np.stack([signal[y : y + tile, x : x + tile] for y, x in batch])
        stack = (stack - stack.mean(axis=(1, 2), keepdims=True)) * win
        spec = sfft.fft2(stack, s=(nfft, nfft), axes=(1, 2), workers=-1)
        powers = np.fft.fftshift(spec.real**2 + spec.imag**2, axes=(1, 2))
        for t, power in enumerate(powers, start=b0):
            ku, wu = _family_vector(power, pu[t], nfft)
            kv, wv = _family_vector(power, pv[t], nfft)
            kus.append(ku)
            kvs.append(kv)
            wus.append(wu)
            wvs.append(wv)
    as2 = lambda a: np.asarray(a, float).reshape(-1, 2)  # noqa: E731
    return TileField(centres, as2(kus), as2(kvs), np.asarray(wus, float),
                     np.asarray(wvs, float), tile)


def global_vectors(signal: np.ndarray, px_per_mm_guess: float, mask: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """The page's mean 5 mm wave vectors (ku along +x, kv along +y) from the mean power
    spectrum of tiles (inside ``mask`` when given), whitened so that a periodic peak counts by
    how far it stands out of its neighbourhood (not the desk's or the trace's broad power),
    read as the harmonic of the 5 mm lattice that fits both the comb of harmonics and the
    scale guess ``px_per_mm_guess`` (good to ±40 %)."""
    tile = int(np.clip(round(40 * px_per_mm_guess), 96, 384))
    h, w = signal.shape
    tile = min(tile, 1 << int(np.floor(np.log2(min(h, w)))))
    nfft = 1 << int(np.ceil(np.log2(tile)))
    win = np.outer(np.hanning(tile), np.hanning(tile)).astype(np.float32)
    acc = np.zeros((nfft, nfft))
    for y in np.linspace(0, h - tile, max(2, h // tile + 1)).astype(int):
        for x in np.linspace(0, w - tile, max(2, w // tile + 1)).astype(int):
            if mask is not None and mask[y : y + tile, x : x + tile].mean() < 0.9:
                continue
            t = signal[y : y + tile, x : x + tile]
            acc += np.abs(np.fft.fftshift(np.fft.fft2((t - t.mean()) * win, (nfft, nfft)))) ** 2
    if not acc.any():
        return None
    logp = np.log(acc + 1e-12 * acc.max() + 1e-30)
    white = logp - ndimage.uniform_filter(logp, size=9, mode="nearest")
    out = []
    for axis in (0, 1):
        k = _axis_peak(white, axis, px_per_mm_guess, nfft)
        if k is None:
            return None
        out.append(k)
    return out[0], out[1]


def _axis_peak(white: np.ndarray, axis: int, px_per_mm: float, nfft: int) -> np.ndarray | None:
    """5 mm wave vector of the family whose peaks lie within ±20° of the x (axis 0) or y
    (axis 1) frequency axis, from a whitened log power spectrum."""
    c = nfft // 2
    fy, fx = np.mgrid[-c : nfft - c, -c : nfft - c].astype(float) / nfft
    along, across = (fx, fy) if axis == 0 else (fy, fx)
    radius = np.hypot(fx, fy)
    f5 = 1.0 / (HEAVY_MM * px_per_mm)  # expected 5 mm fundamental
    sector = (along > 0) & (np.abs(across) < 0.36 * along) & (radius > 0.7 * f5)
    sector &= radius < min(5 * f5 / 0.7, 0.45)
    if not sector.any():
        return None
    p = np.where(sector, white, -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(p)), p.shape)
    k = np.array([fx[iy, ix], fy[iy, ix]])
    r = float(np.hypot(*k))
    best, best_score = None, -np.inf
    for n in range(1, 6):  # which harmonic of the 5 mm lattice the strongest peak is
        k5 = k / n
        ratio = np.log(float(np.hypot(*k5)) / f5)
        if abs(ratio) > np.log(1.7):
            continue
        comb = [_white_at(white, m * k5, nfft) for m in range(1, 6) if m * r / n < 0.45]
        score = float(np.mean(comb)) - 2.0 * ratio**2
        if score > best_score:
            best, best_score = k5, score
    return best


def _white_at(white: np.ndarray, k: np.ndarray, nfft: int) -> float:
    """Largest whitened power in the 3×3 bins around wave vector ``k``."""
    c = nfft // 2
    x, y = int(round(c + k[0] * nfft)), int(round(c + k[1] * nfft))
    if not (1 <= x < nfft - 1 and 1 <= y < nfft - 1):
        return 0.0
    return float(white[y - 1 : y + 2, x - 1 : x + 2].max())


# --- smooth mapping -------------------------------------------------------------------------


def _exponents(degree: int) -> list[tuple[int, int]]:
    return [(i, j) for d in range(degree + 1) for i in range(d + 1) for j in [d - i]]


@dataclass(frozen=True)
class PolyMap:
    """``(u, v) mm = poly(x̃, ỹ)`` with ``x̃ = (x - cx) / s``, ``ỹ = (y - cy) / s``: a smooth
    mapping from image pixels to paper millimetres."""

    degree: int
    centre_xy: tuple[float, float]
    scale_px: float
    coef_u: np.ndarray
    coef_v: np.ndarray

    def _norm(self, x, y):
        return (np.asarray(x, float) - self.centre_xy[0]) / self.scale_px, (
            np.asarray(y, float) - self.centre_xy[1]
        ) / self.scale_px

    def __call__(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        xn, yn = self._norm(x, y)
        basis = np.stack([xn**i * yn**j for i, j in _exponents(self.degree)], axis=-1)
        return basis @ self.coef_u, basis @ self.coef_v

    def jacobian(self, x, y) -> np.ndarray:
        """∂(u, v)/∂(x, y) in mm per pixel, shape (..., 2, 2)."""
        xn, yn = self._norm(x, y)
        dx, dy = _basis_derivatives(xn, yn, self.degree)
        dx /= self.scale_px
        dy /= self.scale_px
        jac = np.empty(xn.shape + (2, 2))
        jac[..., 0, 0], jac[..., 0, 1] = dx @ self.coef_u, dy @ self.coef_u
        jac[..., 1, 0], jac[..., 1, 1] = dx @ self.coef_v, dy @ self.coef_v
        return jac

    def inverse(self, u, v, x0, y0, iterations: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (x, y) that map onto (u, v), by Newton's method from (x0, y0)."""
        return newton_inverse(self, self.jacobian, u, v, x0, y0, iterations)


def _basis_derivatives(xn: np.ndarray, yn: np.ndarray, degree: int):
    ex = _exponents(degree)
    zero = np.zeros_like(xn)
    dx = np.stack([i * xn ** max(i - 1, 0) * yn**j if i else zero for i, j in ex], axis=-1)
    dy = np.stack([j * xn**i * yn ** max(j - 1, 0) if j else zero for i, j in ex], axis=-1)
    return dx, dy


def _fit_gradient(
    xn: np.ndarray, yn: np.ndarray, grad: np.ndarray, weight: np.ndarray, degree: int, s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (constant term 0) whose gradient matches ``grad`` (N×2, mm per px) in
    weighted robust least squares (three reweighting passes dropping > 3.5 robust sigmas).
    Returns (coefficients, per-tile residual in mm per px)."""
    dx, dy = _basis_derivatives(xn, yn, degree)
    a = np.concatenate([dx, dy], axis=0)[:, 1:] / s
    b = np.concatenate([grad[:, 0], grad[:, 1]])
    w = np.sqrt(np.concatenate([weight, weight]))
    keep = w > 0
    ridge = 1e-6 * np.eye(a.shape[1])
    coef = np.zeros(a.shape[1])
    for _ in range(3):
        aw, bw = a[keep] * w[keep, None], b[keep] * w[keep]
        coef = np.linalg.solve(aw.T @ aw + ridge * max(1.0, float(np.trace(aw.T @ aw))), aw.T @ bw)
        res = np.abs(a @ coef - b)
        sigma = 1.4826 * float(np.median(res[w > 0])) + 1e-9
        keep = (w > 0) & (res < 3.5 * sigma + 1e-6)
    res = np.abs(a @ coef - b)
    n = xn.size
    return np.concatenate([[0.0], coef]), np.hypot(res[:n], res[n:])


def fit_polymap(field: TileField, degree: int) -> tuple[PolyMap, float]:
    """Fit :class:`PolyMap` of ``degree`` to a tile field; returns it and the weighted RMS
    residual of the local grid pitch, relative (0.01 = 1 %)."""
    c = field.centres_xy
    cx, cy = float(np.mean(c[:, 0])), float(np.mean(c[:, 1]))
    s = float(max(np.ptp(c[:, 0]), np.ptp(c[:, 1]), 1.0)) / 2
    xn, yn = (c[:, 0] - cx) / s, (c[:, 1] - cy) / s
    cu, ru = _fit_gradient(xn, yn, HEAVY_MM * field.ku, field.weight_u, degree, s)
    cv, rv = _fit_gradient(xn, yn, HEAVY_MM * field.kv, field.weight_v, degree, s)
    mag_u = HEAVY_MM * np.hypot(*field.ku.T) + 1e-12
    mag_v = HEAVY_MM * np.hypot(*field.kv.T) + 1e-12
    rel = np.concatenate([ru / mag_u, rv / mag_v])
    wt = np.concatenate([field.weight_u, field.weight_v])
    ok = wt > 0
    rms = float(np.sqrt(np.average(rel[ok] ** 2, weights=wt[ok]))) if ok.any() else np.inf
    return PolyMap(degree, (cx, cy), s, cu, cv), rms


def orient_field(field: TileField, ku0: np.ndarray, kv0: np.ndarray) -> TileField:
    """Flip each tile's vectors to the sign of the global ones (a spectrum is symmetric)."""
    su = np.where(field.ku @ ku0 < 0, -1.0, 1.0)[:, None]
    sv = np.where(field.kv @ kv0 < 0, -1.0, 1.0)[:, None]
    return TileField(field.centres_xy, field.ku * su, field.kv * sv, field.weight_u,
                     field.weight_v, field.tile_px)


def smooth_mask(mask: np.ndarray, shape_hw: tuple[int, int]) -> np.ndarray:
    """A boolean mask resized (nearest) to ``shape_hw``."""
    zy, zx = shape_hw[0] / mask.shape[0], shape_hw[1] / mask.shape[1]
    out = ndimage.zoom(mask.astype(np.uint8), (zy, zx), order=0)
    full = np.zeros(shape_hw, np.uint8)
    hh, ww = min(out.shape[0], shape_hw[0]), min(out.shape[1], shape_hw[1])
    full[:hh, :ww] = out[:hh, :ww]
    return full.astype(bool)


# --- local correction -------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMap:
    """The polynomial mapping plus a correction ``(du, dv)`` mm sampled on the tile lattice
    (bilinear between tiles, constant beyond): follows folds and creases that a low-order
    polynomial cannot."""

    poly: PolyMap
    du: np.ndarray  # rows × cols, mm
    dv: np.ndarray
    origin_xy: tuple[float, float]  # centre of tile (0, 0), pixels
    step_px: float

    def _correction(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        coords = [(y - self.origin_xy[1]) / self.step_px, (x - self.origin_xy[0]) / self.step_px]
        cu = ndimage.map_coordinates(self.du, coords, order=1, mode="nearest")
        cv = ndimage.map_coordinates(self.dv, coords, order=1, mode="nearest")
        return cu, cv

    def __call__(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        u, v = self.poly(x, y)
        cu, cv = self._correction(x, y)
        return u + cu, v + cv

    def jacobian(self, x, y) -> np.ndarray:
        """∂(u, v)/∂(x, y), mm per pixel (central differences of the whole mapping)."""
        h = 0.25 * self.step_px
        x, y = np.asarray(x, float), np.asarray(y, float)
        ux1, vx1 = self(x + h, y)
        ux0, vx0 = self(x - h, y)
        uy1, vy1 = self(x, y + h)
        uy0, vy0 = self(x, y - h)
        jac = np.empty(x.shape + (2, 2))
        jac[..., 0, 0], jac[..., 0, 1] = (ux1 - ux0) / (2 * h), (uy1 - uy0) / (2 * h)
        jac[..., 1, 0], jac[..., 1, 1] = (vx1 - vx0) / (2 * h), (vy1 - vy0) / (2 * h)
        return jac

    def inverse(self, u, v, x0, y0, iterations: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (x, y) that map onto (u, v): Newton steps with the polynomial's Jacobian."""
        return newton_inverse(self, self.poly.jacobian, u, v, x0, y0, iterations)


def _integrate(gx: np.ndarray, gy: np.ndarray, wt: np.ndarray, step: float, smooth: float
               ) -> np.ndarray:
    """Least-squares surface (rows × cols) whose differences between neighbouring tiles match
    the mean of their gradients × ``step``, with a second-difference penalty ``smooth`` that
    fills tiles without evidence, and a zero mean (sparse normal equations)."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    rows, cols = wt.shape
    n = rows * cols
    idx = np.arange(n).reshape(rows, cols)
    blocks, rhs, wts = [], [], []
    for a, b, g in ((idx[:, :-1], idx[:, 1:], gx), (idx[:-1, :], idx[1:, :], gy)):
        a, b = a.ravel(), b.ravel()
        w = np.minimum(wt.ravel()[a], wt.ravel()[b])
        keep = w > 0
        a, b = a[keep], b[keep]
        m = a.size
        r = np.arange(m)
        blocks.append(sparse.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[r, r], np.r_[b, a])),
                                        shape=(m, n)))
        rhs.append(0.5 * (g.ravel()[a] + g.ravel()[b]) * step)
        wts.append(w[keep])
    for a, mid, b in ((idx[:, :-2], idx[:, 1:-1], idx[:, 2:]), (idx[:-2], idx[1:-1], idx[2:])):
        a, mid, b = a.ravel(), mid.ravel(), b.ravel()
        m = a.size
        r = np.arange(m)
        vals = np.r_[np.ones(m), -2 * np.ones(m), np.ones(m)]
        blocks.append(sparse.csr_matrix((vals, (np.r_[r, r, r], np.r_[a, mid, b])), shape=(m, n)))
        rhs.append(np.zeros(m))
        wts.append(np.full(m, smooth))
    blocks.append(sparse.csr_matrix(np.full((1, n), 1.0 / n)))
    rhs.append(np.zeros(1))
    wts.append(np.ones(1))
    mat = sparse.vstack(blocks).tocsr()
    w = sparse.diags(np.concatenate(wts))
    normal = (mat.T @ w @ mat).tocsc() + sparse.identity(n, format="csc") * 1e-9
    sol = spsolve(normal, mat.T @ (np.concatenate(wts) * np.concatenate(rhs)))
    return np.asarray(sol).reshape(rows, cols)


def _nanmedian_3x3(grid: np.ndarray) -> np.ndarray:
    """Median of the finite values in each 3×3 neighbourhood (NaN where there are none): the
    same values as ``generic_filter(grid, np.nanmedian, 3, mode="constant", cval=nan)``, as
    one sort instead of a Python call per tile."""
    h, w = grid.shape
    pad = np.pad(grid, 1, constant_values=np.nan)
    vals = np.sort(np.stack([pad[y : y + h, x : x + w] for y in range(3) for x in range(3)]), axis=0)
    n = np.isfinite(vals).sum(axis=0)
    lo = np.take_along_axis(vals, np.maximum((n - 1) // 2, 0)[None], axis=0)[0]
    hi = np.take_along_axis(vals, np.maximum(n // 2, 0)[None], axis=0)[0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def _consistent(res: np.ndarray, ok: np.ndarray, i: np.ndarray, j: np.ndarray, shape
                ) -> np.ndarray:
    """Tiles whose residual gradient agrees with the median of their 3×3 neighbours within
    4 robust sigmas: a strong but coherent bend is kept, a lone misread tile is not."""
    out = np.zeros(len(res), bool)
    if ok.sum() < 3:
        return ok.copy()
    dev = np.zeros(len(res))
    for comp in (0, 1):
        grid = np.full(shape, np.nan)
        grid[i[ok], j[ok]] = res[ok, comp]
        d = res[:, comp] - _nanmedian_3x3(grid)[i, j]
        dev += np.where(np.isfinite(d), d, 0.0) ** 2
    dev = np.sqrt(dev)
    sigma = 1.4826 * float(np.median(dev[ok])) + 1e-9
    out[ok] = dev[ok] < 4.0 * sigma
    return out


def fit_field_map(field: TileField, poly: PolyMap, smooth: float = 0.3) -> FieldMap:
    """Correct ``poly`` by integrating the tiles' residual gradients (outliers beyond 3.5
    robust sigmas and tiles without evidence are filled by the smoothness term)."""
    c = field.centres_xy
    xs, ys = np.unique(c[:, 0]), np.unique(c[:, 1])
    step = float(xs[1] - xs[0]) if xs.size > 1 else float(field.tile_px) / 2
    i, j = np.searchsorted(ys, c[:, 1]), np.searchsorted(xs, c[:, 0])
    jac = poly.jacobian(c[:, 0], c[:, 1])
    maps = []
    for row, k, w in ((0, field.ku, field.weight_u), (1, field.kv, field.weight_v)):
        res = HEAVY_MM * k - jac[:, row, :]
        ok = (w > 0) & _consistent(res, w > 0, i, j, (ys.size, xs.size))
        gx, gy, wt = (np.zeros((ys.size, xs.size)) for _ in range(3))
        gx[i[ok], j[ok]], gy[i[ok], j[ok]] = res[ok, 0], res[ok, 1]
        wt[i[ok], j[ok]] = w[ok] / float(np.median(w[ok])) if ok.any() else 0.0
        maps.append(_integrate(gx, gy, np.minimum(wt, 3.0), step, smooth))
    return FieldMap(poly, maps[0], maps[1], (float(xs[0]), float(ys[0])), step)
