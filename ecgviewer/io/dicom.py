"""DICOM ECG waveforms (the hospital format): a Record as a 12-lead (or General) ECG Waveform
object and back, with pydicom (:func:`ecgviewer.io.signals.write_dicom` / ``read_dicom`` are
the file-level calls).

Written: one multiplex group of 16-bit signed samples, each channel coded by its lead (MDC
codes of DICOM CID 3001, e.g. ``2:1`` "Lead I"), its sensitivity in microvolts per unit (UCUM
``uV``), baseline 0 and the sampling rate; samples that are NaN (not on the page) are stored
as the group's padding value and read back as NaN. The 12-lead ECG storage class is used when
the record fits its limits (at most 13 channels, 200-1000 Hz, at most 16384 samples), the
General ECG class otherwise. Read: the rhythm group (or the longest), any lead codes (MDC or
the older SCPECG ones) or channel labels, units uV, mV or V.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ecgviewer.errors import SignalFormatError

TWELVE_LEAD_ECG_STORAGE = "1.2.840.10008.5.1.4.1.1.9.1.1"
GENERAL_ECG_STORAGE = "1.2.840.10008.5.1.4.1.1.9.1.2"
PAD = -32768  # int16 padding value: "no sample here"

# lead name -> (MDC code, SCPECG code); meaning "Lead <name>"
LEAD_CODES = {
    "I": ("2:1", "5.6.3-9-1"),
    "II": ("2:2", "5.6.3-9-2"),
    "V1": ("2:3", "5.6.3-9-3"),
    "V2": ("2:4", "5.6.3-9-4"),
    "V3": ("2:5", "5.6.3-9-5"),
    "V4": ("2:6", "5.6.3-9-6"),
    "V5": ("2:7", "5.6.3-9-7"),
    "V6": ("2:8", "5.6.3-9-8"),
    "III": ("2:61", "5.6.3-9-61"),
    "aVR": ("2:62", "5.6.3-9-62"),
    "aVL": ("2:63", "5.6.3-9-63"),
    "aVF": ("2:64", "5.6.3-9-64"),
}
_BY_CODE = {code: name for name, codes in LEAD_CODES.items() for code in codes}
_UNIT_TO_MV = {"uv": 1e-3, "µv": 1e-3, "mv": 1.0, "v": 1e3}


def _sensitivity_uv(signal_mv: np.ndarray) -> float:
    """Microvolts per stored unit: 1 uV unless the signal needs more range (int16)."""
    finite = signal_mv[np.isfinite(signal_mv)]
    peak_uv = float(np.max(np.abs(finite))) * 1000.0 if finite.size else 0.0
    return max(1.0, float(np.ceil(peak_uv / 32000.0)))


def _code(value: str, scheme: str, meaning: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _channel(name: str, sensitivity_uv: float):
    from pydicom.dataset import Dataset

    from ecgviewer.paper import canonical_lead_name

    lead = canonical_lead_name(name)
    ch = Dataset()
    if lead in LEAD_CODES:
        ch.ChannelSourceSequence = [_code(LEAD_CODES[lead][0], "MDC", f"Lead {lead}")]
    else:
        ch.ChannelSourceSequence = [_code("2:0", "MDC", "ECG lead")]
    ch.ChannelLabel = lead[:16]
    ch.ChannelSensitivity = f"{sensitivity_uv:g}"
    ch.ChannelSensitivityUnitsSequence = [_code("uV", "UCUM", "microvolt")]
    ch.ChannelSensitivityCorrectionFactor = "1"
    ch.ChannelBaseline = "0"
    ch.ChannelSampleSkew = "0"
    ch.WaveformBitsStored = 16
    return ch


def dicom_bytes(record: Any, patient_id: str = "", description: str = "ECG Viewer") -> bytes:
    """``record`` (a :class:`~ecgviewer.io.signals.Record`: ``signal_mv``, ``fs_hz``,
    ``lead_names``, ``name``) as a DICOM ECG waveform file (bytes, Part 10 with preamble).
    :func:`ecgviewer.io.signals.write_dicom` writes it to a file."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    sig = np.asarray(record.signal_mv, dtype=np.float64)
    n, n_ch = sig.shape
    fs = float(record.fs_hz)
    twelve = n_ch <= 13 and 200.0 <= fs <= 1000.0 and n <= 16384
    sop_class = TWELVE_LEAD_ECG_STORAGE if twelve else GENERAL_ECG_STORAGE
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    now = _dt.datetime.now()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "ECG"
    ds.PatientName, ds.PatientID = "", patient_id
    ds.PatientBirthDate, ds.PatientSex = "", ""
    ds.StudyDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.Manufacturer = "ECG Viewer"
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, 1
    ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
    ds.SeriesDescription = description[:64]
    ds.ContentDescription = f"{record.name}"[:64]
    sens = [_sensitivity_uv(sig[:, j]) for j in range(n_ch)]
    raw = np.round(sig * 1000.0 / np.asarray(sens)[None, :])
    raw = np.where(np.isfinite(raw), np.clip(raw, PAD + 1, 32767), PAD).astype("<i2")
    group = Dataset()
    group.MultiplexGroupTimeOffset = "0"
    group.WaveformOriginality = "DERIVED"
    group.NumberOfWaveformChannels = n_ch
    group.NumberOfWaveformSamples = n
    group.SamplingFrequency = f"{fs:g}"
    group.MultiplexGroupLabel = "RHYTHM"
    group.ChannelDefinitionSequence = [_channel(nm, s) for nm, s in zip(record.lead_names, sens)]
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    group.WaveformPaddingValue = np.array([PAD], "<i2").tobytes()
    group.WaveformData = raw.tobytes()  # C1S1, C2S1, ..., CnS1, C1S2, ...
    ds.WaveformSequence = [group]
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _lead_name(ch, k: int) -> str:
    from ecgviewer.paper import canonical_lead_name

    for item in ch.get("ChannelSourceSequence", []) or []:
        code = str(item.get("CodeValue", ""))
        if code in _BY_CODE:
            return _BY_CODE[code]
        meaning = str(item.get("CodeMeaning", ""))
        name = canonical_lead_name(meaning.replace("Lead", "").strip())
        if name in LEAD_CODES:
            return name
    label = str(ch.get("ChannelLabel", "")).strip()
    return canonical_lead_name(label) if label else f"ch{k + 1}"


def _unit_mv(ch) -> float:
    for item in ch.get("ChannelSensitivityUnitsSequence", []) or []:
        unit = str(item.get("CodeValue", "")).strip().lower()
        if unit in _UNIT_TO_MV:
            return _UNIT_TO_MV[unit]
        raise SignalFormatError(f"unsupported DICOM channel unit {unit!r}")
    return 1e-3  # no unit given: ECG carts store microvolts


def _pick_group(groups) -> int:
    """The rhythm multiplex group if labelled, else the one with the most samples."""
    for k, g in enumerate(groups):
        if str(g.get("MultiplexGroupLabel", "")).strip().upper() == "RHYTHM":
            return k
    return max(range(len(groups)), key=lambda k: int(groups[k].get("NumberOfWaveformSamples", 0)))


def read_waveform(path: str | os.PathLike) -> tuple[np.ndarray, float, tuple[str, ...], dict]:
    """(samples in mV with padding as NaN, rate, lead names, meta) of a DICOM ECG waveform
    file; :func:`ecgviewer.io.signals.read_dicom` makes them a Record."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.waveforms.numpy_handler import multiplex_array

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise SignalFormatError(f"{path}: not a readable DICOM file ({exc})") from None
    groups = ds.get("WaveformSequence")
    if not groups:
        raise SignalFormatError(f"{path}: DICOM file holds no waveform")
    k = _pick_group(groups)
    group = groups[k]
    try:
        raw = multiplex_array(ds, k, as_raw=True)
    except (AttributeError, KeyError, ValueError) as exc:
        raise SignalFormatError(f"{path}: damaged DICOM waveform ({exc})") from None
    channels = list(group.get("ChannelDefinitionSequence", []))
    if len(channels) != raw.shape[1]:
        raise SignalFormatError(f"{path}: {raw.shape[1]} channels but {len(channels)} defined")
    out = raw.astype(np.float64)
    pad = group.get("WaveformPaddingValue")
    pad_value = np.frombuffer(pad[: raw.dtype.itemsize], raw.dtype)[0] if pad else None
    for j, ch in enumerate(channels):
        scale = float(ch.get("ChannelSensitivity", 1.0) or 1.0)
        scale *= float(ch.get("ChannelSensitivityCorrectionFactor", 1.0) or 1.0)
        base = float(ch.get("ChannelBaseline", 0.0) or 0.0)
        out[:, j] = (out[:, j] * scale + base) * _unit_mv(ch)
        if pad_value is not None:
            out[raw[:, j] == pad_value, j] = np.nan
    fs = float(group.get("SamplingFrequency", 0) or 0)
    names = tuple(_lead_name(ch, j) for j, ch in enumerate(channels))
    if not fs > 0:
        raise SignalFormatError(f"{path}: DICOM waveform states no sampling rate")
    meta = {"source": "dicom", "sop_class": str(ds.get("SOPClassUID", ""))}
    return out, fs, names, meta
