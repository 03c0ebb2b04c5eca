"""Digitisation accuracy: PhysioNet Challenge 2024 signal-to-noise ratio, with alignment.

The official metric (``compute_snr`` in ``helper_code.py`` and ``evaluate_model.py`` of
https://github.com/physionetchallenges/evaluation-2024) is, per record and lead,

    SNR = 10 * log10( sum(label**2) / sum((output - label)**2) )

after reordering the output's channels to the label's (missing channels are zeros),
trimming/zero-padding it to the label's length and replacing NaN by 0 in both signals; the
Challenge score is the mean over all (record, lead) pairs (``np.nanmean``). That exact
number is :func:`challenge_snr`.

:func:`score_digitization` is the aligned variant used in our benchmarks, because a
digitiser cannot know where on the record's time axis a paper segment starts to the sample,
nor the exact 0 mV level: per lead, the estimate (resampled to the reference fs) may be
shifted by up to ``max_shift_s`` (0.5 s) and offset vertically by the optimal constant (the
mean difference, clipped to ``max_offset_mv`` = 1 mV); the alignment with the highest SNR
wins. The SNR is computed over samples present in both (NaN = absent), then multiplied by
the fraction of the reference samples that the aligned estimate covers, so a lead traced
over half its length scores half. A lead missing from the estimate scores 0 dB (as zeros
do in the official metric). Pearson r and RMSE (µV) are reported after the same alignment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ecgviewer.io.signals import Record
from ecgviewer.paper.layouts import canonical_lead_name

MAX_SHIFT_S = 0.5
MAX_OFFSET_MV = 1.0
SNR_CAP_DB = 99.0  # identical signals score this, not infinity (keeps means finite)


@dataclass(frozen=True)
class LeadScore:
    """Agreement of one lead after alignment (``snr_db`` already scaled by ``coverage``)."""

    lead: str
    snr_db: float
    pearson_r: float
    rmse_uv: float
    coverage: float  # fraction of reference samples covered by the aligned estimate
    shift_s: float  # the estimate was moved later by this much
    offset_mv: float  # and up by this much
    n_ref: int  # reference samples present
    missing: bool = False  # no estimate for this lead at all


@dataclass(frozen=True)
class DigitizationScore:
    """Scores of one record: one :class:`LeadScore` per lead present in the reference."""

    record: str
    leads: tuple[LeadScore, ...]
    failed: bool = False  # the digitiser produced nothing for this record

    @property
    def mean_snr_db(self) -> float:
        return _nanmean([s.snr_db for s in self.leads])

    @property
    def mean_r(self) -> float:
        return _nanmean([s.pearson_r for s in self.leads])

    @property
    def mean_rmse_uv(self) -> float:
        return _nanmean([s.rmse_uv for s in self.leads])

    @property
    def n_missing(self) -> int:
        return sum(s.missing for s in self.leads)

    def lead(self, name: str) -> LeadScore:
        for s in self.leads:
            if s.lead.lower() == name.lower():
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class ScoreSummary:
    """Aggregate over records; SNR statistics are over all (record, lead) pairs."""

    n_records: int
    n_failed: int
    n_leads: int
    n_missing_leads: int
    mean_snr_db: float
    median_snr_db: float
    mean_r: float
    median_r: float
    mean_rmse_uv: float
    median_rmse_uv: float


def _nanmean(values) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _nanmedian(values) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(np.median(arr)) if arr.size else float("nan")


def resample_to(signal: np.ndarray, fs_in_hz: float, fs_out_hz: float, n_out: int) -> np.ndarray:
    """Linear interpolation of a 1-D signal onto ``n_out`` samples at ``fs_out_hz``; NaN gaps
    stay NaN (an output sample is valid only if both neighbours are)."""
    signal = np.asarray(signal, dtype=np.float64)
    if fs_in_hz == fs_out_hz:
        out = np.full(n_out, np.nan)
        n = min(n_out, signal.size)
        out[:n] = signal[:n]
        return out
    t_in = np.arange(signal.size) / fs_in_hz
    t_out = np.arange(n_out) / fs_out_hz
    valid = np.isfinite(signal)
    if not valid.any():
        return np.full(n_out, np.nan)
    filled = np.interp(t_in, t_in[valid], signal[valid])
    out = np.interp(t_out, t_in, filled, left=np.nan, right=np.nan)
    ok = np.interp(t_out, t_in, valid.astype(np.float64), left=0.0, right=0.0) > 1.0 - 1e-9
    out[~ok] = np.nan
    return out


def _match_leads(reference: Record, estimate: Record) -> dict[str, int | None]:
    """Reference lead name -> estimate column (by canonical name; one-lead records pair up)."""
    est_names = [canonical_lead_name(n).lower() for n in estimate.lead_names]
    out: dict[str, int | None] = {}
    for name in reference.lead_names:
        key = canonical_lead_name(name).lower()
        out[name] = est_names.index(key) if key in est_names else None
    if len(reference.lead_names) == 1 and out[reference.lead_names[0]] is None and est_names:
        counts = np.isfinite(estimate.signal_mv).sum(axis=0)
        out[reference.lead_names[0]] = int(np.argmax(counts))
    return out


def _aligned_stats(ref: np.ndarray, est: np.ndarray, shift: int) -> tuple:
    """SNR (unscaled), r, rmse, offset and overlap count with ``est`` moved by ``shift``."""
    n = ref.size
    moved = np.full(n, np.nan)
    if shift >= 0:
        moved[shift:] = est[: n - shift]
    else:
        moved[: n + shift] = est[-shift:]
    both = np.isfinite(ref) & np.isfinite(moved)
    count = int(both.sum())
    if count == 0:
        return -math.inf, math.nan, math.nan, 0.0, 0
    r_, e_ = ref[both], moved[both]
    offset = float(np.clip(np.mean(r_ - e_), -MAX_OFFSET_MV, MAX_OFFSET_MV))
    err = r_ - e_ - offset
    noise = float(np.sum(err**2))
    power = float(np.sum(r_**2))
    if noise <= power * 10 ** (-SNR_CAP_DB / 10):
        snr = SNR_CAP_DB
    elif power <= noise * 10 ** (-SNR_CAP_DB / 10):
        snr = -SNR_CAP_DB
    else:
        snr = 10 * math.log10(power / noise)
    rmse = math.sqrt(noise / count) * 1000.0
    sr, se = np.std(r_), np.std(e_)
    r = float(np.mean((r_ - r_.mean()) * (e_ - e_.mean())) / (sr * se)) if sr > 0 and se > 0 else math.nan
    return snr, r, rmse, offset, count


def _best_shift(ref: np.ndarray, est: np.ndarray, max_shift: int) -> int:
    """Shift (in samples) maximising the offset-corrected SNR, via FFT cross-correlations."""
    m_r = np.isfinite(ref).astype(np.float64)
    m_e = np.isfinite(est).astype(np.float64)
    a = np.where(m_r > 0, ref, 0.0)
    b = np.where(m_e > 0, est, 0.0)
    n = ref.size
    # correlate(x, y)[k + n - 1] = sum_j x[j + k] * y[j]  -> est moved later by k
    def corr(x, y):
        from scipy.signal import correlate  # lazy: keeps the CLI's start-up light

        full = correlate(x, y, mode="full", method="fft")
        return full[n - 1 - max_shift : n + max_shift]

    cnt = np.rint(corr(m_r, m_e))
    s_r, s_e = corr(a, m_e), corr(m_r, b)
    s_rr, s_ee, s_re = corr(a * a, m_e), corr(m_r, b * b), corr(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.clip((s_r - s_e) / cnt, -MAX_OFFSET_MV, MAX_OFFSET_MV)
        noise = s_rr - 2 * s_re + s_ee - 2 * off * (s_r - s_e) + off**2 * cnt
        snr = 10 * np.log10(s_rr / np.maximum(noise, 1e-12 * np.maximum(s_rr, 1e-30)))
    snr[cnt < 1] = -np.inf
    snr[~np.isfinite(snr)] = -np.inf
    # prefer the smallest shift among near-ties (flat signals)
    lags = np.arange(-max_shift, max_shift + 1)
    best = np.max(snr)
    near = np.flatnonzero(snr >= best - 1e-9)
    return int(lags[near[np.argmin(np.abs(lags[near]))]])


def score_lead(
    ref: np.ndarray,
    est: np.ndarray | None,
    fs_hz: float,
    name: str = "lead",
    max_shift_s: float = MAX_SHIFT_S,
) -> LeadScore | None:
    """Score one lead (both at ``fs_hz``, same length); None when the reference is empty."""
    ref = np.asarray(ref, dtype=np.float64)
    n_ref = int(np.isfinite(ref).sum())
    if n_ref == 0:
        return None
    if est is None or not np.isfinite(est).any():
        return LeadScore(name, 0.0, math.nan, math.nan, 0.0, 0.0, 0.0, n_ref, missing=True)
    est = np.asarray(est, dtype=np.float64)
    max_shift = min(round(max_shift_s * fs_hz), ref.size - 1)
    shift = _best_shift(ref, est, max_shift) if max_shift > 0 else 0
    snr, r, rmse, offset, count = _aligned_stats(ref, est, shift)
    coverage = count / n_ref
    if count == 0:
        return LeadScore(name, 0.0, math.nan, math.nan, 0.0, 0.0, 0.0, n_ref, missing=True)
    return LeadScore(
        lead=name,
        snr_db=snr * coverage,
        pearson_r=r,
        rmse_uv=rmse,
        coverage=coverage,
        shift_s=shift / fs_hz,
        offset_mv=offset,
        n_ref=n_ref,
    )


def score_digitization(
    reference: Record, estimate: Record | None, max_shift_s: float = MAX_SHIFT_S
) -> DigitizationScore:
    """Aligned Challenge-2024 SNR, r and RMSE of ``estimate`` against ``reference``, per lead.

    ``estimate=None`` (the digitiser failed) scores every reference lead as missing (0 dB).
    Leads that are all-NaN in the reference (not on the page) are not scored.
    """
    fs = reference.fs_hz
    n = reference.signal_mv.shape[0]
    matches = _match_leads(reference, estimate) if estimate is not None else {}
    scores = []
    for j, name in enumerate(reference.lead_names):
        col = matches.get(name)
        est = None
        if estimate is not None and col is not None:
            est = resample_to(estimate.signal_mv[:, col], estimate.fs_hz, fs, n)
        s = score_lead(reference.signal_mv[:, j], est, fs, canonical_lead_name(name), max_shift_s)
        if s is not None:
            scores.append(s)
    return DigitizationScore(record=reference.name, leads=tuple(scores), failed=estimate is None)


def challenge_snr(reference: Record, estimate: Record | None) -> dict[str, float]:
    """The official, unaligned Challenge 2024 SNR per reference lead (see module docstring).

    The estimate is resampled to the reference fs first (the official code asserts equal fs).
    As in the official code, NaN becomes 0 in both signals, so estimate samples where the
    reference is NaN (not printed) count as error, and a missing lead scores 0 dB.
    """
    n = reference.signal_mv.shape[0]
    matches = _match_leads(reference, estimate) if estimate is not None else {}
    out = {}
    for j, name in enumerate(reference.lead_names):
        label = np.nan_to_num(reference.signal_mv[:, j].astype(np.float64), nan=0.0)
        col = matches.get(name)
        if estimate is None or col is None:
            output = np.zeros(n)
        else:
            output = resample_to(estimate.signal_mv[:, col], estimate.fs_hz, reference.fs_hz, n)
            output = np.nan_to_num(output, nan=0.0)
        x, y = float(np.sum(label**2)), float(np.sum((output - label) ** 2))
        out[name] = 10 * math.log10(x / y) if y > 0 else math.inf
    return out


def summarize(scores: Iterable[DigitizationScore]) -> ScoreSummary:
    """Mean and median over all (record, lead) pairs of a set of record scores."""
    scores = list(scores)
    leads = [s for rec in scores for s in rec.leads]
    snr = [s.snr_db for s in leads]
    r = [s.pearson_r for s in leads]
    rmse = [s.rmse_uv for s in leads]
    return ScoreSummary(
        n_records=len(scores),
        n_failed=sum(rec.failed for rec in scores),
        n_leads=len(leads),
        n_missing_leads=sum(s.missing for s in leads),
        mean_snr_db=_nanmean(snr),
        median_snr_db=_nanmedian(snr),
        mean_r=_nanmean(r),
        median_r=_nanmedian(r),
        mean_rmse_uv=_nanmean(rmse),
        median_rmse_uv=_nanmedian(rmse),
    )


def score_many(
    pairs: Iterable[tuple[Record, Record | None]], max_shift_s: float = MAX_SHIFT_S
) -> tuple[list[DigitizationScore], ScoreSummary]:
    """Score (reference, estimate-or-None) pairs; return the per-record scores and a summary."""
    scores = [score_digitization(ref, est, max_shift_s) for ref, est in pairs]
    return scores, summarize(scores)
