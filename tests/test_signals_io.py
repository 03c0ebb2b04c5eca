"""WFDB/CinC/CSV round trips, checked against the reference ``wfdb`` package on real records."""

import numpy as np
import pytest

from ecgviewer.io.signals import Record, read_csv, read_signal, read_wfdb, write_csv, write_wfdb

wfdb = pytest.importorskip("wfdb")


def test_ptbxl_matches_wfdb_package(ptbxl_dir):
    path = ptbxl_dir / "records500" / "00000" / "00001_hr"
    ours = read_wfdb(path.with_suffix(".hea"))
    ref = wfdb.rdrecord(str(path))
    assert ours.fs_hz == ref.fs == 500
    assert list(ours.lead_names) == ref.sig_name
    np.testing.assert_allclose(ours.signal_mv, ref.p_signal, atol=1e-9)


def test_cinc_mat_matches_wfdb_package(cinc_dir):
    ours = read_signal(cinc_dir / "A00001.mat")
    ref = wfdb.rdrecord(str(cinc_dir / "A00001"))
    assert ours.fs_hz == 300 and ours.lead_names == ("ECG",)
    np.testing.assert_allclose(ours.signal_mv, ref.p_signal, atol=1e-9)


def test_wfdb_write_is_read_by_wfdb_package(tmp_path, ptbxl_dir):
    rec = read_wfdb(ptbxl_dir / "records500" / "00000" / "00002_hr.hea")
    sig = rec.signal_mv.copy()
    sig[10:20, 3] = np.nan
    rec = Record(sig, rec.fs_hz, rec.lead_names, name="x")
    write_wfdb(rec, tmp_path / "x")
    ref = wfdb.rdrecord(str(tmp_path / "x"))
    assert ref.sig_name == list(rec.lead_names) and ref.units == ["mV"] * 12
    np.testing.assert_allclose(ref.p_signal, np.round(sig * 1000) / 1000, atol=1e-9)
    back = read_wfdb(tmp_path / "x.hea")
    assert np.isnan(back.signal_mv[10:20, 3]).all()


def test_csv_round_trip(tmp_path, cinc_dir):
    rec = read_signal(cinc_dir / "A00002.mat")
    write_csv(rec, tmp_path / "a.csv")
    back = read_csv(tmp_path / "a.csv")
    assert back.fs_hz == 300 and back.lead_names == ("ECG",)
    np.testing.assert_allclose(back.signal_mv, rec.signal_mv, atol=1e-5)
