"""EDF export: round trip through our reader and through wfdb's independent EDF reader."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.errors import SignalFormatError
from ecgviewer.io.edf import read_edf, write_edf
from ecgviewer.io.signals import Record, read_wfdb


def _record(n=5000, fs=500.0, leads=("I", "II", "V1"), seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    sig = np.column_stack(
        [
            a * np.sin(2 * np.pi * 1.2 * t + k) + rng.normal(0, 0.05, n)
            for k, a in enumerate([1.0, 2.5, 0.3][: len(leads)])
        ]
    )
    return Record(sig, fs, tuple(leads), name="rt")


def _step_mv(x):
    """The 16-bit quantisation step of a lead with data range ``x``."""
    return (np.nanmax(x) - np.nanmin(x)) / 65535


class TestRoundTrip:
    @pytest.mark.parametrize(
        ("n", "fs"), [(5000, 500.0), (9000, 300.0), (4999, 500.0), (2503, 257.0), (1000, 360.5)]
    )
    def test_values_rate_and_names_survive(self, tmp_path, n, fs):
        rec = _record(n, fs)
        back = read_edf(write_edf(rec, tmp_path / "a.edf"))
        assert back.lead_names == rec.lead_names
        assert back.signal_mv.shape == rec.signal_mv.shape
        assert back.fs_hz == pytest.approx(fs, rel=1e-6)
        for i in range(3):
            x = rec.signal_mv[:, i]
            # quantisation error ≤ one step (half a step plus header rounding of min/max)
            assert np.abs(back.signal_mv[:, i] - x).max() <= 1.01 * _step_mv(x) + 1e-6

    def test_nan_becomes_zero_and_constant_lead_is_kept(self, tmp_path):
        sig = np.column_stack([np.full(1000, 0.7), np.linspace(-1, 1, 1000)])
        sig[100:200, 1] = np.nan
        rec = Record(sig, 250.0, ("flat", "ramp"))
        back = read_edf(write_edf(rec, tmp_path / "n.edf"))
        assert np.abs(back.signal_mv[:, 0] - 0.7).max() < 1e-3
        assert np.abs(back.signal_mv[100:200, 1]).max() < 1e-3
        assert np.isfinite(back.signal_mv).all()

    def test_header_is_plain_edf(self, tmp_path):
        p = write_edf(_record(), tmp_path / "h.edf")
        raw = p.read_bytes()
        assert raw[:8] == b"0       "
        assert int(raw[184:192]) == 256 * 4
        assert raw[192:236].strip() == b""  # not EDF+: no annotation signal
        assert b"mV      " in raw[256:1024]
        assert len(raw) == 256 * 4 + 5000 * 3 * 2

    @pytest.mark.filterwarnings("ignore::Warning:wfdb.*")
    def test_independent_reader_agrees(self, tmp_path):
        """wfdb's EDF reader (independent code) reads the same values.

        wfdb rounds the baseline to an integer and the gain to fixed digits, which shifts
        values by up to ~2.5 quantisation steps (measured); 3 steps is still < 0.3 µV/mV range.
        """
        from wfdb.io.convert.edf import read_edf as wfdb_read_edf

        rec = _record(3000, 500.0)
        p = write_edf(rec, tmp_path / "w.edf")
        w = wfdb_read_edf(str(p))
        assert w.fs == pytest.approx(500.0)
        assert [u.lower() for u in w.units] == ["mv"] * 3
        for i in range(3):
            x = rec.signal_mv[:, i]
            assert np.abs(w.p_signal[:, i] - x).max() <= 3 * _step_mv(x)

    @pytest.mark.data
    def test_real_ptbxl_record(self, tmp_path, ptbxl_dir):
        hea = next(iter(sorted(ptbxl_dir.rglob("*.hea"))), None)
        if hea is None:
            pytest.skip("no PTB-XL header found")
        rec = read_wfdb(hea)
        back = read_edf(write_edf(rec, tmp_path / "p.edf"))
        assert back.lead_names == rec.lead_names and back.fs_hz == pytest.approx(rec.fs_hz)
        ok = np.isfinite(rec.signal_mv)
        err = np.abs(back.signal_mv - np.nan_to_num(rec.signal_mv))[ok]
        assert err.max() < 1e-3 * max(1.0, np.nanmax(np.abs(rec.signal_mv)))


class TestDamagedFiles:
    def test_truncated(self, tmp_path):
        p = write_edf(_record(), tmp_path / "t.edf")
        p.write_bytes(p.read_bytes()[:-100])
        with pytest.raises(SignalFormatError, match="truncated"):
            read_edf(p)

    @pytest.mark.parametrize("blob", [b"", b"hello", b"0" + b" " * 300, b"\x00" * 4096])
    def test_garbage(self, tmp_path, blob):
        p = tmp_path / "g.edf"
        p.write_bytes(blob)
        with pytest.raises(SignalFormatError):
            read_edf(p)

    def test_pipe_is_refused_without_blocking(self, tmp_path):
        import os

        if not hasattr(os, "mkfifo"):
            pytest.skip("no named pipes here")
        os.mkfifo(tmp_path / "pipe.edf")
        with pytest.raises(SignalFormatError, match="regular file"):
            read_edf(tmp_path / "pipe.edf")

    def test_failed_write_keeps_old_file(self, tmp_path):
        p = write_edf(_record(), tmp_path / "k.edf")
        before = p.read_bytes()
        bad = Record(np.full((10, 1), 1e9), 100.0, ("x",))
        with pytest.raises(SignalFormatError):
            write_edf(bad, p)
        assert p.read_bytes() == before
