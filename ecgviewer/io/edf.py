"""European Data Format (EDF, 16-bit) export and import of a :class:`Record`.

The GUI exports digitised ECGs as EDF because most clinical and research viewers open it.
We write plain EDF (no EDF+ annotation signal): one signal per lead, physical unit mV,
per-lead physical min/max taken from the data so the 16-bit quantisation step is as fine as
the lead's range allows. EDF cannot mark gaps, so NaN samples are written as 0 mV.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import numpy as np

from ecgviewer.errors import SignalFormatError
from ecgviewer.io.signals import Record, atomic_write_bytes

DIGITAL_MIN = -32768
DIGITAL_MAX = 32767
MAX_RECORD_BYTES = 61440  # the EDF spec's recommended upper bound for one data record
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nv": 1e-6}


# --------------------------------------------------------------------------- writing


def write_edf(record: Record, path: str | os.PathLike) -> Path:
    """Write ``record`` as a plain 16-bit EDF file, atomically. Returns the path."""
    path = Path(path)
    sig = np.asarray(record.signal_mv, dtype=np.float64)
    n_samples, n_leads = sig.shape
    if n_samples == 0 or n_leads == 0:
        raise SignalFormatError(f"{path.name}: nothing to write ({n_samples}×{n_leads} samples)")
    spr, duration_s = _record_layout(n_samples, n_leads, record.fs_hz)
    n_records = math.ceil(n_samples / spr)

    phys_min, phys_max, digital = [], [], []
    for i in range(n_leads):
        lo, hi, d = _quantise(sig[:, i])
        phys_min.append(lo)
        phys_max.append(hi)
        digital.append(np.pad(d, (0, n_records * spr - n_samples)))

    def fields(values, width):
        return "".join(_field(v, width) for v in values)

    header = (
        _field("0", 8)
        + _field("X X X X", 80)
        + _field(f"Startdate X X X ecgviewer {_ascii(record.name)}", 80)
        + _field("01.01.85", 8)  # the EDF convention for an unknown date
        + _field("00.00.00", 8)
        + _field(str(256 * (n_leads + 1)), 8)
        + _field("", 44)
        + _field(str(n_records), 8)
        + _field(_num8(duration_s), 8)
        + _field(str(n_leads), 4)
        + fields((_ascii(n) for n in record.lead_names), 16)
        + fields([""] * n_leads, 80)
        + fields(["mV"] * n_leads, 8)
        + fields(phys_min, 8)
        + fields(phys_max, 8)
        + fields([str(DIGITAL_MIN)] * n_leads, 8)
        + fields([str(DIGITAL_MAX)] * n_leads, 8)
        + fields([""] * n_leads, 80)
        + fields([str(spr)] * n_leads, 8)
        + fields([""] * n_leads, 32)
    )
    # data records: for each record, each signal's ``spr`` samples, little-endian int16
    data = np.stack(digital).reshape(n_leads, n_records, spr).transpose(1, 0, 2)
    atomic_write_bytes(path, header.encode("ascii") + data.astype("<i2").tobytes())
    return path


def _record_layout(n_samples: int, n_leads: int, fs_hz: float) -> tuple[int, float]:
    """Samples per data record and its duration, so records tile the signal exactly.

    Prefers the longest record within the size bound whose duration is exact in 8 characters
    (then the reader recovers fs exactly); falls back to one record holding everything.
    """
    max_spr = max(1, MAX_RECORD_BYTES // (2 * n_leads))
    best = None
    for spr in range(min(n_samples, max_spr), 0, -1):
        if n_samples % spr:
            continue
        text = _num8(spr / fs_hz)
        if abs(float(text) * fs_hz - spr) < 1e-9 * spr:
            best = spr
            break
    if best is None:
        best = n_samples
    return best, best / fs_hz


def _quantise(x_mv: np.ndarray) -> tuple[str, str, np.ndarray]:
    """Physical min/max as 8-character strings enclosing the data, and the digital samples."""
    x = np.where(np.isfinite(x_mv), x_mv, 0.0)  # NaN (gap) → 0 mV: EDF cannot mark gaps
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-6:
        lo, hi = lo - 1.0, hi + 1.0
    lo_s, hi_s = _num8(lo, "down"), _num8(hi, "up")
    lo_f, hi_f = float(lo_s), float(hi_s)
    scale = (DIGITAL_MAX - DIGITAL_MIN) / (hi_f - lo_f)
    d = np.round((x - lo_f) * scale + DIGITAL_MIN)
    return lo_s, hi_s, np.clip(d, DIGITAL_MIN, DIGITAL_MAX).astype(np.int16)


def _num8(value: float, direction: str = "nearest") -> str:
    """The most precise decimal text of at most 8 characters, rounded down/up/nearest."""
    if not math.isfinite(value) or abs(value) >= 1e8:
        raise SignalFormatError(f"value {value} does not fit an EDF header field")
    for decimals in range(7, -1, -1):
        q = 10.0**decimals
        if direction == "down":
            v = math.floor(value * q) / q
        elif direction == "up":
            v = math.ceil(value * q) / q
        else:
            v = round(value * q) / q
        text = f"{v:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        if len(text) <= 8:
            return text
    raise SignalFormatError(f"value {value} does not fit an EDF header field")


def _ascii(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "_" for c in str(text))


def _field(value, width: int) -> str:
    text = _ascii(value)[:width]
    return text + " " * (width - len(text))


# --------------------------------------------------------------------------- reading


def read_edf(path: str | os.PathLike) -> Record:
    """Read an EDF/EDF+ file into a Record in mV (annotation signals are skipped).

    All kept signals must share one sampling rate.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise SignalFormatError(f"{path}: not a regular file")
        raw = path.read_bytes()
    except OSError as exc:
        raise SignalFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return _parse_edf(raw, path)
    except SignalFormatError:
        raise
    except (ValueError, IndexError, ZeroDivisionError) as exc:
        raise SignalFormatError(f"{path.name}: malformed EDF header ({exc})") from None


def _parse_edf(raw: bytes, path: Path) -> Record:
    if len(raw) < 256 or raw[:8].strip() != b"0":
        raise SignalFormatError(f"{path.name}: not an EDF file")
    text = raw[:256].decode("latin-1")
    header_bytes = int(text[184:192])
    n_records = int(text[236:244])
    duration_s = float(text[244:252])
    ns = int(text[252:256])
    if ns <= 0 or header_bytes != 256 * (ns + 1) or len(raw) < header_bytes:
        raise SignalFormatError(f"{path.name}: inconsistent EDF header ({ns} signals)")
    sig_text = raw[256:header_bytes].decode("latin-1")
    pos = 0

    def take(width: int) -> list[str]:
        nonlocal pos
        out = [sig_text[pos + i * width : pos + (i + 1) * width].strip() for i in range(ns)]
        pos += width * ns
        return out

    labels = take(16)
    take(80)
    units = take(8)
    pmin = [float(v) for v in take(8)]
    pmax = [float(v) for v in take(8)]
    dmin = [int(v) for v in take(8)]
    dmax = [int(v) for v in take(8)]
    take(80)
    spr = [int(v) for v in take(8)]
    record_samples = sum(spr)
    if record_samples <= 0:
        raise SignalFormatError(f"{path.name}: EDF data records hold no samples")
    available = (len(raw) - header_bytes) // (2 * record_samples)
    if n_records < 0:
        n_records = available
    elif available < n_records:
        raise SignalFormatError(
            f"{path.name}: truncated EDF ({available} of {n_records} data records present)"
        )
    data = np.frombuffer(
        raw, dtype="<i2", count=n_records * record_samples, offset=header_bytes
    ).reshape(n_records, record_samples)
    keep = [i for i in range(ns) if labels[i] != "EDF Annotations"]
    if not keep:
        raise SignalFormatError(f"{path.name}: EDF holds no signals, only annotations")
    if len({spr[i] for i in keep}) != 1:
        raise SignalFormatError(f"{path.name}: signals with different sampling rates")
    if duration_s <= 0:
        raise SignalFormatError(f"{path.name}: data record duration must be positive")
    offsets = np.concatenate([[0], np.cumsum(spr)])
    columns = []
    for i in keep:
        d = data[:, offsets[i] : offsets[i + 1]].reshape(-1).astype(np.float64)
        if dmax[i] == dmin[i]:
            raise SignalFormatError(f"{path.name}: signal {labels[i]!r} has an empty digital range")
        gain = (pmax[i] - pmin[i]) / (dmax[i] - dmin[i])
        scale = _UNIT_TO_MV.get(units[i].lower(), 1.0)
        columns.append((pmin[i] + (d - dmin[i]) * gain) * scale)
    fs_hz = spr[keep[0]] / duration_s
    name = path.stem
    return Record(
        signal_mv=np.column_stack(columns),
        fs_hz=fs_hz,
        lead_names=tuple(labels[i] for i in keep),
        name=name,
        meta={"edf_units": tuple(units[i] for i in keep)},
    )
