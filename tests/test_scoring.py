"""The digitisation scorer: Challenge-2024 SNR with bounded alignment, checked on known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgviewer.io.signals import Record, read_wfdb
from ecgviewer.scoring import (
    SNR_CAP_DB,
    challenge_snr,
    resample_to,
    score_digitization,
    score_many,
)


@pytest.fixture(scope="module")
def ptbxl(ptbxl_dir):
    return read_wfdb(ptbxl_dir / "records500" / "00000" / "00012_hr.hea")


@pytest.fixture(scope="module")
def cinc(cinc_dir):
    return read_wfdb(cinc_dir / "A00007.hea")


def _with(record: Record, signal: np.ndarray, fs_hz: float | None = None) -> Record:
    return Record(signal, fs_hz or record.fs_hz, record.lead_names, name=record.name)


def _shift(sig: np.ndarray, n: int) -> np.ndarray:
    out = np.full_like(sig, np.nan)
    if n >= 0:
        out[n:] = sig[: sig.shape[0] - n]
    else:
        out[:n] = sig[-n:]
    return out


class TestSnr:
    def test_identical_signals_score_the_cap(self, ptbxl):
        score = score_digitization(ptbxl, ptbxl)
        assert score.mean_snr_db == SNR_CAP_DB
        assert all(s.pearson_r == pytest.approx(1.0) and s.rmse_uv < 1e-9 for s in score.leads)

    @pytest.mark.parametrize("target_db", [5.0, 20.0])
    def test_known_white_noise_gives_expected_snr(self, ptbxl, target_db):
        rng = np.random.default_rng(1)
        sig = ptbxl.signal_mv
        power = np.mean(sig**2, axis=0)
        noise = rng.normal(size=sig.shape) * np.sqrt(power / 10 ** (target_db / 10))
        noise -= noise.mean(axis=0)  # the vertical alignment removes any mean anyway
        score = score_digitization(ptbxl, _with(ptbxl, sig + noise))
        for s in score.leads:
            expected = 10 * np.log10(np.sum(sig[:, 0] ** 2) / np.sum(noise[:, 0] ** 2))
            assert s.snr_db == pytest.approx(target_db, abs=0.35)
            assert s.shift_s == 0.0 and s.coverage == 1.0
        assert score.leads[0].snr_db == pytest.approx(expected, abs=1e-6)
        # with no shift/offset needed the aligned SNR equals the official unaligned one
        official = challenge_snr(ptbxl, _with(ptbxl, sig + noise))
        assert official[ptbxl.lead_names[0]] == pytest.approx(score.leads[0].snr_db, abs=1e-6)

    def test_rmse_and_r_after_alignment(self, ptbxl):
        sig = ptbxl.signal_mv
        est = sig + 0.02 * np.sign(np.sin(np.arange(sig.shape[0]) / 7.0))[:, None]
        score = score_digitization(ptbxl, _with(ptbxl, est))
        s = score.leads[1]
        assert s.rmse_uv == pytest.approx(20.0, abs=0.5)
        assert 0.95 < s.pearson_r < 1.0


    def test_challenge_snr_follows_the_official_nan_rule(self, ptbxl):
        """helper_code.compute_snr: NaN -> 0 in both, then 10·log10(Σlabel² / Σ(out-label)²)."""
        ref = ptbxl.signal_mv.copy()
        ref[2500:, :] = np.nan  # not printed: counts as 0 in the official metric
        est = ptbxl.signal_mv + 0.05
        label = np.nan_to_num(ref[:, 4])
        expected = 10 * np.log10(np.sum(label**2) / np.sum((est[:, 4] - label) ** 2))
        got = challenge_snr(_with(ptbxl, ref), _with(ptbxl, est))[ptbxl.lead_names[4]]
        assert got == pytest.approx(expected, abs=1e-9)


class TestAlignment:
    def test_shift_and_offset_within_bounds_are_forgiven(self, ptbxl):
        fs = ptbxl.fs_hz
        est = _shift(ptbxl.signal_mv, int(0.3 * fs)) + 0.7
        score = score_digitization(ptbxl, _with(ptbxl, est))
        for s in score.leads:
            assert s.shift_s == pytest.approx(-0.3)
            assert s.offset_mv == pytest.approx(-0.7)
            assert s.coverage == pytest.approx(0.97)
            assert s.snr_db == pytest.approx(0.97 * SNR_CAP_DB)

    def test_shift_beyond_half_a_second_is_not(self, ptbxl):
        est = _shift(ptbxl.signal_mv, int(0.8 * ptbxl.fs_hz))
        score = score_digitization(ptbxl, _with(ptbxl, est))
        assert score.mean_snr_db < 10.0
        assert all(abs(s.shift_s) <= 0.5 for s in score.leads)

    def test_offset_is_clipped_to_one_millivolt(self, ptbxl):
        sig = ptbxl.signal_mv
        score = score_digitization(ptbxl, _with(ptbxl, sig + 1.5), max_shift_s=0.0)
        shifted = score_digitization(ptbxl, _with(ptbxl, sig + 1.5))
        for j, s in enumerate(score.leads):
            # a shift may trade a little coverage for a little SNR, never lose
            assert shifted.leads[j].snr_db >= s.snr_db - 1e-9
            assert s.offset_mv == pytest.approx(-1.0)
            expected = 10 * np.log10(np.sum(sig[:, j] ** 2) / (sig.shape[0] * 0.5**2))
            assert s.snr_db == pytest.approx(expected, abs=1e-6)
            assert s.rmse_uv == pytest.approx(500.0)


class TestCoverage:
    def test_half_coverage_halves_the_snr(self, ptbxl):
        rng = np.random.default_rng(2)
        sig = ptbxl.signal_mv
        noisy = sig + rng.normal(0, 0.02, sig.shape)
        half = noisy.copy()
        half[half.shape[0] // 2 :] = np.nan
        part = score_digitization(ptbxl, _with(ptbxl, half), max_shift_s=0.0)
        # the same estimate scored against the first half of the reference only
        ref_half = ptbxl.signal_mv.copy()
        ref_half[ref_half.shape[0] // 2 :] = np.nan
        first = score_digitization(_with(ptbxl, ref_half), _with(ptbxl, half), max_shift_s=0.0)
        for f, p in zip(first.leads, part.leads):
            assert p.coverage == pytest.approx(0.5) and f.coverage == 1.0
            assert p.snr_db == pytest.approx(0.5 * f.snr_db, abs=1e-9)

    def test_nan_in_reference_is_not_scored(self, ptbxl):
        ref = ptbxl.signal_mv.copy()
        ref[:, 3:] = np.nan  # only three leads "on the page"
        ref[2500:, 0] = np.nan
        score = score_digitization(_with(ptbxl, ref), ptbxl)
        assert [s.lead for s in score.leads] == ["I", "II", "III"]
        assert score.leads[0].n_ref == 2500 and score.leads[0].coverage == 1.0

    def test_missing_lead_scores_zero(self, ptbxl):
        est = Record(ptbxl.signal_mv[:, :6], ptbxl.fs_hz, ptbxl.lead_names[:6])
        score = score_digitization(ptbxl, est)
        assert score.n_missing == 6
        assert score.lead("V1").snr_db == 0.0 and score.lead("V1").missing
        assert score.mean_snr_db == pytest.approx(SNR_CAP_DB / 2)
        assert challenge_snr(ptbxl, est)["V1"] == pytest.approx(0.0)

    def test_failed_record(self, ptbxl):
        scores, summary = score_many([(ptbxl, ptbxl), (ptbxl, None)])
        assert scores[1].failed and scores[1].mean_snr_db == 0.0
        assert summary.n_failed == 1 and summary.n_records == 2
        assert summary.mean_snr_db == pytest.approx(SNR_CAP_DB / 2)
        assert summary.n_missing_leads == 12


class TestResampling:
    def test_estimate_at_another_rate(self, ptbxl):
        fs_low = 250.0
        est = ptbxl.signal_mv[::2]
        score = score_digitization(ptbxl, _with(ptbxl, est, fs_low))
        assert score.mean_snr_db > 15.0
        assert all(s.coverage > 0.99 for s in score.leads)

    def test_resample_keeps_gaps(self):
        sig = np.arange(10.0)
        sig[4] = np.nan
        out = resample_to(sig, 10.0, 20.0, 20)
        assert np.isnan(out[7:10]).all() and out[2] == pytest.approx(1.0)
        assert np.isnan(out[-1])  # beyond the last input sample


class TestRealRecord:
    def test_pixel_quantisation_of_a_cinc_record(self, cinc):
        """Rounding a real CinC strip to 200-dpi pixels (10 mm/mV) gives the SNR that uniform
        quantisation predicts: 10·log10(P / (Δ²/12))."""
        px_per_mv = 200 / 25.4 * 10
        est = np.round(cinc.signal_mv * px_per_mv) / px_per_mv
        score = score_digitization(cinc, _with(cinc, est))
        step = 1 / px_per_mv
        sig = cinc.signal_mv[:, 0]
        expected = 10 * math.log10(np.mean((sig - sig.mean()) ** 2 + sig.mean() ** 2)
                                   / (step**2 / 12))
        assert score.leads[0].snr_db == pytest.approx(expected, abs=1.0)
        assert score.leads[0].rmse_uv == pytest.approx(step / math.sqrt(12) * 1000, rel=0.1)

    def test_rendered_truth_against_its_source(self, cinc):
        from ecgviewer.render import RenderStyle, render_ecg

        page = render_ecg(cinc, RenderStyle(layout="single", dpi=100))
        score = score_digitization(page.truth, cinc)
        assert score.mean_snr_db > 60  # the truth is the signal where nothing was clipped


class TestEvaluateCommand:
    def test_pairs_by_stem_and_reports_missing(self, ptbxl_dir, tmp_path, capsys):
        from ecgviewer.cli import main
        from ecgviewer.io.signals import write_wfdb

        src = ptbxl_dir / "records500" / "00000"
        truth_dir, est_dir = tmp_path / "truth", tmp_path / "est"
        assert main(["render", str(src / "00012_hr.hea"), str(src / "00013_hr.hea"),
                     "-o", str(truth_dir), "--dpi", "100"]) == 0
        rec = read_wfdb(src / "00012_hr.hea")
        noisy = rec.signal_mv + np.random.default_rng(0).normal(0, 0.01, rec.signal_mv.shape)
        write_wfdb(_with(rec, noisy), est_dir / "00012_hr")
        capsys.readouterr()
        assert main(["evaluate", str(truth_dir), str(est_dir), "--csv",
                     str(tmp_path / "t.csv")]) == 0
        out = capsys.readouterr().out
        assert "00012_hr" in out and "missing" in out and "median" in out
        rows = (tmp_path / "t.csv").read_text().splitlines()
        assert rows[1].startswith("00012_hr,ok,12,") and rows[2].startswith("00013_hr,missing")
        assert float(rows[1].split(",")[3]) > 15
        assert main(["evaluate", str(truth_dir), str(est_dir), "--per-lead"]) == 0
        assert "aVR" in capsys.readouterr().out
