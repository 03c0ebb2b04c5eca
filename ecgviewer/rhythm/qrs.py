"""QRS detection and the heart rate and RR irregularity read from it.

Beats are found in three steps: peaks of the band-passed QRS energy above a share of the
*typical* beat's energy (the median over 2 s windows of each window's highest energy, so one
burst of artefact cannot hide the beats around it), then every candidate is aligned to the
record's median beat (its template) by cross-correlation, which puts the beat mark on the same
point of every QRS (a biphasic QRS no longer gives its R to one beat and its S to the next),
and candidates that neither look like the median beat nor are as large as it (T waves, noise,
a step where a digitised row starts) are dropped.

The irregularity is the RMSSD (root mean square of the successive RR differences) divided by
the mean RR, computed without the differences far larger than the typical one (beyond three
robust standard deviations, as HRV practice drops ectopic and artefact beats). One missed or
extra beat in a regular rhythm makes two or three large differences that the plain RMSSD
turns into 20-60 %; they are set aside, while atrial fibrillation, where most differences
are large, stays high. It is not reported (None) when the beats are too few or too
inconsistent to trust (see :func:`assess_rr`). An interval whose span holds a stretch of
untraced samples long enough to hide a QRS (a gap in a digitised trace) is no RR interval: a
beat may be missing there, so it counts neither for the rate nor as a missed beat, and no
successive difference is taken across it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

MIN_RR_S = 0.25  # 240 bpm
MAX_RR_S = 2.5  # 24 bpm; longer intervals are treated as gaps, not beats
REF_WINDOW_S = 2.0  # windows whose highest energy gives the typical beat's energy
THRESHOLD = 0.12  # candidate energy, share of the typical beat's
STRONG = 0.4  # candidates at least this strong make the template; weaker ones must match it
HALF_QRS_S = 0.1  # half-width of the beat template
SEARCH_S = 0.06  # how far the template may move a candidate
MIN_BEATS_FOR_TEMPLATE = 3
MIN_RR_FOR_IRREGULARITY = 4
MAX_SUSPECT_SHARE = 0.25  # more RR intervals than this look like detection errors: no value
MIN_HIDING_GAP_S = 0.05  # an untraced stretch this long can hide (most of) a QRS


@dataclass(frozen=True)
class RRAssessment:
    """Rate and irregularity of a beat sequence, and why the irregularity is withheld."""

    heart_rate_bpm: float | None
    irregularity: float | None  # RMSSD without outliers / mean RR; None when not trustworthy
    n_rr: int  # RR intervals between MIN_RR_S and MAX_RR_S
    rmssd_ratio: float | None  # the plain RMSSD / mean RR, for reference
    suspect_share: float  # share of the intervals that look like a missed or an extra beat
    reason: str = ""  # why ``irregularity`` (or also the rate) is None; empty when it is given
    n_across_gaps: int = 0  # intervals left out because a gap in the trace lies within them

    @property
    def beats_consistent(self) -> bool:
        """False when too many intervals look like a missed or an extra beat."""
        return self.suspect_share <= MAX_SUSPECT_SHARE

    def summary(self) -> dict:
        """What a reader is told besides the values (``RhythmResult.extra`` keys): how many
        intervals the rate rests on, how many were left out across gaps, and the reason."""
        return {
            "n_rr": self.n_rr,
            "rr_across_gaps": self.n_across_gaps,
            "rr_reason": self.reason,
            "beats_consistent": self.beats_consistent,
        }


def _bandpass(x: np.ndarray, fs_hz: float, lo: float, hi: float) -> np.ndarray:
    hi = min(hi, 0.45 * fs_hz)
    sos = butter(2, [lo / (fs_hz / 2), hi / (fs_hz / 2)], btype="bandpass", output="sos")
    return sosfiltfilt(sos, x, padlen=min(x.size - 1, int(fs_hz)))


def _energy(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """Smoothed squared slope of the 5-15 Hz band: high over a QRS, low over P and T."""
    e = np.gradient(_bandpass(x, fs_hz, 5.0, 15.0)) ** 2
    win = max(1, int(0.12 * fs_hz))
    return np.convolve(e, np.ones(win) / win, mode="same")


def _typical_energy(e: np.ndarray, fs_hz: float) -> float:
    """The median over 2 s windows (hop 1 s) of each window's highest energy: the energy of
    a typical beat, which a burst of artefact on a few windows does not move."""
    w = int(REF_WINDOW_S * fs_hz)
    if e.size <= w:
        return float(e.max(initial=0.0))
    hop = max(1, w // 2)
    maxima = [float(e[a : a + w].max()) for a in range(0, e.size - w + 1, hop)]
    maxima = [m for m in maxima if m > 0]
    return float(np.median(maxima)) if maxima else 0.0


def _windows(g: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    """(n, 2 half + 1) slices of ``g`` around ``centres`` (zero beyond the ends)."""
    padded = np.pad(g, half)
    idx = centres[:, None] + np.arange(2 * half + 1)[None, :]
    return padded[idx]


def _align(g: np.ndarray, cands: np.ndarray, strong: np.ndarray, fs_hz: float):
    """Align candidates to the median of the ``strong`` ones (the template): (beat marks,
    correlation with the template, peak-to-peak size relative to the median strong beat's)."""
    half, reach = max(2, int(HALF_QRS_S * fs_hz)), max(1, int(SEARCH_S * fs_hz))
    shifts = np.arange(-reach, reach + 1)
    pos = cands.copy()
    corr = np.ones(cands.size)
    template = None
    for _ in range(2):
        template = np.median(_windows(g, pos[strong], half), axis=0)
        t = template - template.mean()
        t /= np.linalg.norm(t) + 1e-12
        best = np.full(cands.size, -np.inf)
        best_pos = pos.copy()
        for s in shifts:
            w = _windows(g, np.clip(cands + s, 0, g.size - 1), half)
            w = w - w.mean(axis=1, keepdims=True)
            c = (w @ t) / (np.linalg.norm(w, axis=1) + 1e-12)
            better = c > best
            best[better], best_pos[better] = c[better], np.clip(cands + s, 0, g.size - 1)[better]
        pos, corr = best_pos, best
    size = np.ptp(_windows(g, pos, half), axis=1)
    rel = size / (np.median(size[strong]) + 1e-12)
    # the mark: the template's largest deflection, the same point of every beat
    mark = int(np.argmax(np.abs(template))) - half
    return np.clip(pos + mark, 0, g.size - 1), corr, rel


def _plausible(corr: np.ndarray, rel: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Strong candidates look like the median beat or are at least as large as it (an
    ectopic beat); weak ones must look like it closely; tiny deflections are never beats."""
    like = np.where(strong, (corr >= 0.5) | (rel >= 0.8), (corr >= 0.8) & (rel >= 0.5))
    return (rel >= 0.35) & like


def _refractory(pos: np.ndarray, score: np.ndarray, fs_hz: float) -> np.ndarray:
    """Of marks closer than ``MIN_RR_S``, keep the better scored; returns kept indices."""
    gap = MIN_RR_S * fs_hz
    kept_pos: list[int] = []  # sorted
    kept: list[int] = []
    for i in np.argsort(-score, kind="stable"):
        p = int(pos[i])
        k = bisect.bisect_left(kept_pos, p)
        near = [kept_pos[j] for j in (k - 1, k) if 0 <= j < len(kept_pos)]
        if all(abs(p - q) >= gap for q in near):
            kept_pos.insert(k, p)
            kept.append(int(i))
    return np.array(sorted(kept, key=lambda i: pos[i]), np.int64)


def detect_qrs(signal: np.ndarray, fs_hz: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Sample indices of the beats in one lead (any polarity). Invalid samples never hold beats."""
    x = np.nan_to_num(np.asarray(signal, np.float64))
    if x.size < int(fs_hz):
        return np.zeros(0, np.int64)
    e = _energy(x, fs_hz)
    if valid is not None:
        e = np.where(valid, e, 0.0)
    ref = _typical_energy(e, fs_hz)
    if ref <= 0:
        return np.zeros(0, np.int64)
    cands, props = find_peaks(e, height=THRESHOLD * ref, distance=int(MIN_RR_S * fs_hz))
    if cands.size < MIN_BEATS_FOR_TEMPLATE:
        return cands.astype(np.int64)
    strong = props["peak_heights"] >= STRONG * ref
    if np.count_nonzero(strong) < MIN_BEATS_FOR_TEMPLATE:
        strong = np.ones(cands.size, bool)
    g = _bandpass(x, fs_hz, 3.0, 30.0)
    pos, corr, rel = _align(g, cands, strong, fs_hz)
    keep = _plausible(corr, rel, strong)
    if valid is not None:
        keep &= np.asarray(valid, bool)[pos]
    pos, corr, rel = pos[keep], corr[keep], rel[keep]
    kept = _refractory(pos, corr * np.minimum(rel, 1.5), fs_hz)
    return np.unique(pos[kept]).astype(np.int64)


def _suspect_share(rr_all: np.ndarray, ok: np.ndarray) -> float:
    """Share of the counted intervals (``ok``) that look like a missed beat (about twice the
    median) or an extra one (two adjacent short intervals adding up to about the median)."""
    rr = rr_all[ok]
    med = float(np.median(rr))
    missed = (rr > 1.7 * med) & (rr < 2.3 * med)
    pair = rr_all[:-1] + rr_all[1:]
    short = np.minimum(rr_all[:-1], rr_all[1:]) < 0.7 * med
    extra = ok[:-1] & ok[1:] & short & (np.abs(pair - med) < 0.2 * med)
    n_extra = int(np.count_nonzero(extra)) * 2
    return min(1.0, (int(np.count_nonzero(missed)) + n_extra) / rr.size)


def _clipped_rmssd(d: np.ndarray, fs_hz: float) -> float:
    """RMSSD of the successive RR differences ``d`` (s) without those far larger than the
    typical one: beyond 3 robust standard deviations (median |d| / 0.6745) plus 3 samples.
    A missed or extra beat in a regular rhythm gives such outliers; in atrial fibrillation
    the typical difference is large itself, so nothing is set aside."""
    a = np.abs(d)
    limit = 3.0 * float(np.median(a)) / 0.6745 + 3.0 / fs_hz
    kept = d[a <= limit]
    return float(np.sqrt(np.mean(kept**2))) if kept.size else 0.0


def _across_gaps(peaks: np.ndarray, traced: np.ndarray | None, fs_hz: float) -> np.ndarray:
    """For each interval between successive ``peaks``: does it hold an untraced run of at
    least ``MIN_HIDING_GAP_S`` (where a beat may have been lost)?"""
    across = np.zeros(max(peaks.size - 1, 0), bool)
    if traced is None or across.size == 0:
        return across
    untraced = ~np.asarray(traced, bool)
    edges = np.diff(np.concatenate([[0], untraced.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long = stops - starts >= max(1, round(MIN_HIDING_GAP_S * fs_hz))
    for a, b in zip(starts[long], stops[long]):
        # intervals (peaks[k], peaks[k + 1]) that overlap the run [a, b)
        first = max(int(np.searchsorted(peaks, a, side="right")) - 1, 0)
        last = min(int(np.searchsorted(peaks, b, side="left")), peaks.size - 1)
        across[first:last] = True
    return across


def assess_rr(peaks: np.ndarray, fs_hz: float, traced: np.ndarray | None = None) -> RRAssessment:
    """Rate (median RR) and robust irregularity of beat marks, with the consistency check.
    ``traced`` (per sample, optional) marks the samples that hold signal: intervals across a
    gap in it are left out (see the module notes)."""
    peaks = np.sort(np.asarray(peaks, np.int64))
    if peaks.size < 3:
        return RRAssessment(None, None, 0, None, 0.0, "fewer than 3 beats found")
    rr_all = np.diff(peaks) / fs_hz
    across = _across_gaps(peaks, traced, fs_hz)
    ok = (rr_all >= MIN_RR_S) & (rr_all <= MAX_RR_S) & ~across
    rr, n_gap = rr_all[ok], int(np.count_nonzero(across))
    if rr.size < 2:
        why = "too few RR intervals" + (" outside the gaps in the trace" if n_gap else "")
        return RRAssessment(None, None, int(rr.size), None, 0.0, why, n_gap)
    hr = 60.0 / float(np.median(rr))
    d = np.diff(rr_all)[ok[:-1] & ok[1:]]  # successive differences of adjacent intervals only
    mean = float(np.mean(rr))
    plain = float(np.sqrt(np.mean(d**2))) / mean if d.size else None
    suspect = _suspect_share(rr_all, ok)
    a = RRAssessment(hr, None, int(rr.size), plain, suspect, "", n_gap)
    if rr.size < MIN_RR_FOR_IRREGULARITY or d.size < MIN_RR_FOR_IRREGULARITY - 1:
        gaps = " between the gaps in the trace" if n_gap else ""
        return replace(a, reason=f"too few beats to judge ({rr.size} RR intervals{gaps})")
    if not a.beats_consistent:
        return replace(a, reason="beat detection inconsistent (likely missed or extra beats)")
    return replace(a, irregularity=_clipped_rmssd(d, fs_hz) / mean)


def rate_and_irregularity(
    peaks: np.ndarray, fs_hz: float, traced: np.ndarray | None = None
) -> tuple[float | None, float | None]:
    """(median heart rate in bpm, RMSSD without outliers / mean RR). The rate is None under 3 beats;
    the irregularity also when the beats are too few or inconsistent (see :func:`assess_rr`)."""
    a = assess_rr(peaks, fs_hz, traced)
    return a.heart_rate_bpm, a.irregularity
