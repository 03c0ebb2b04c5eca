"""DICOM ECG waveforms: a 12-lead record written and read back (by us and by plain pydicom),
the export wiring, and ``classify`` reading a DICOM file."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from ecgviewer.io.dicom import GENERAL_ECG_STORAGE, TWELVE_LEAD_ECG_STORAGE  # noqa: E402
from ecgviewer.io.signals import (  # noqa: E402
    Record,
    read_dicom,
    read_signal,
    read_wfdb,
    write_dicom,
)
from ecgviewer.paper import STANDARD_LEADS  # noqa: E402
from ecgviewer.paths import models_dir, resources_dir  # noqa: E402

STRIP = resources_dir() / "samples" / "cinc2017_A00004_strip_truth.hea"  # an AF record


@pytest.fixture
def twelve_lead() -> Record:
    rng = np.random.default_rng(3)
    sig = np.round(rng.normal(0, 0.4, (5000, 12)), 3)  # whole microvolts
    sig[:250, 3] = np.nan  # aVR not printed over the first half second
    return Record(sig, 500.0, STANDARD_LEADS, name="rec")


def test_round_trip_keeps_leads_units_rate_and_gaps(tmp_path, twelve_lead):
    path = write_dicom(twelve_lead, tmp_path / "rec.dcm")
    back = read_dicom(path)
    assert back.lead_names == STANDARD_LEADS and back.fs_hz == 500.0
    assert np.array_equal(np.isnan(back.signal_mv), np.isnan(twelve_lead.signal_mv))
    np.testing.assert_allclose(back.signal_mv, twelve_lead.signal_mv, atol=5e-4)


def test_plain_pydicom_reads_the_leads_and_calibration(tmp_path, twelve_lead):
    ds = pydicom.dcmread(write_dicom(twelve_lead, tmp_path / "rec.dcm"))
    assert ds.SOPClassUID == TWELVE_LEAD_ECG_STORAGE and ds.Modality == "ECG"
    group = ds.WaveformSequence[0]
    assert group.NumberOfWaveformChannels == 12 and float(group.SamplingFrequency) == 500.0
    channels = group.ChannelDefinitionSequence
    meanings = [ch.ChannelSourceSequence[0].CodeMeaning for ch in channels]
    assert meanings == [f"Lead {n}" for n in STANDARD_LEADS]
    assert channels[0].ChannelSourceSequence[0].CodeValue == "2:1"  # MDC lead I
    assert all(ch.ChannelSensitivityUnitsSequence[0].CodeValue == "uV" for ch in channels)
    microvolts = ds.waveform_array(0)  # pydicom applies sensitivity and baseline itself
    np.testing.assert_allclose(microvolts[300:, 0] / 1000.0, twelve_lead.signal_mv[300:, 0],
                               atol=5e-4)


def test_large_or_long_records_use_the_general_ecg_class(tmp_path):
    sig = np.zeros((300 * 60, 1))
    sig[::300, 0] = 40.0  # 40 mV spikes need a coarser sensitivity than 1 uV per unit
    rec = Record(sig, 300.0, ("ECG",), name="long")
    ds = pydicom.dcmread(write_dicom(rec, tmp_path / "long.dcm"))
    assert ds.SOPClassUID == GENERAL_ECG_STORAGE
    back = read_dicom(tmp_path / "long.dcm")
    np.testing.assert_allclose(back.signal_mv, sig, atol=2e-3)


def test_read_signal_and_export_know_dicom(tmp_path, twelve_lead):
    from ecgviewer.export import SIGNAL_FORMATS, export_signal

    assert "dicom" in SIGNAL_FORMATS
    (path,) = export_signal(twelve_lead, tmp_path / "out", "dicom")
    assert path.suffix == ".dcm"
    back = read_signal(path)
    assert back.lead_names == STANDARD_LEADS


def test_not_a_dicom_file_is_a_clear_error(tmp_path):
    from ecgviewer.errors import SignalFormatError

    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    with pytest.raises(SignalFormatError, match="bad.dcm"):
        read_dicom(bad)


@pytest.mark.skipif(not (models_dir() / "rhythm_cnn.pt").exists(), reason="no model weights")
def test_classify_reads_a_dicom_file(tmp_path):
    from ecgviewer.cli import main

    path = write_dicom(read_wfdb(STRIP), tmp_path / "af.dcm")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["classify", str(path), "--json", "--no-progress"])
    row = json.loads(out.getvalue().splitlines()[0])
    assert code == 0 and row["label"] == "A"
