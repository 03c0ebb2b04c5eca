"""Multi-lead signals in physical units and their file formats (WFDB, CinC .mat, CSV).

A :class:`Record` is the one signal type every part of ECG Viewer exchanges: samples in mV,
shape ``(n_samples, n_leads)``, an explicit sampling rate, and lead names.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgviewer.errors import SignalFormatError
from ecgviewer.io.limits import MAX_CSV_BYTES, MAX_SIGNAL_SAMPLES


@dataclass(frozen=True)
class Record:
    """Samples in millivolts, ``signal_mv.shape == (n_samples, n_leads)``; NaN marks a gap."""

    signal_mv: np.ndarray
    fs_hz: float
    lead_names: tuple[str, ...]
    name: str = "record"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.signal_mv.ndim != 2 or self.signal_mv.shape[1] != len(self.lead_names):
            raise SignalFormatError(
                f"signal shape {self.signal_mv.shape} does not match {len(self.lead_names)} leads"
            )
        if not self.fs_hz > 0:
            raise SignalFormatError(f"sampling rate must be positive, got {self.fs_hz}")

    @property
    def duration_s(self) -> float:
        return self.signal_mv.shape[0] / self.fs_hz

    def lead(self, name: str) -> np.ndarray:
        """One lead's samples in mV (case-insensitive name)."""
        for i, n in enumerate(self.lead_names):
            if n.lower() == name.lower():
                return self.signal_mv[:, i]
        raise KeyError(f"lead {name!r} not in {self.lead_names}")


# --------------------------------------------------------------------------- WFDB


def _parse_header(hea_path: Path) -> tuple[dict, list[dict]]:
    lines = [
        ln.strip()
        for ln in hea_path.read_text(encoding="latin-1").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    if not lines:
        raise SignalFormatError(f"{hea_path}: empty WFDB header")
    head = lines[0].split()
    try:
        n_sig = int(head[1])
        fs = float(head[2].split("/")[0]) if len(head) > 2 else None
        n_samp = int(head[3]) if len(head) > 3 else None
    except (IndexError, ValueError) as exc:
        raise SignalFormatError(f"{hea_path}: bad record line {lines[0]!r}") from exc
    if fs is not None and not (math.isfinite(fs) and fs > 0):
        raise SignalFormatError(f"{hea_path}: sampling rate must be positive, got {head[2]!r}")
    if not 0 < n_sig <= 1000 or (n_samp is not None and n_samp < 0):
        raise SignalFormatError(f"{hea_path}: bad record line {lines[0]!r}")
    sigs = []
    for ln in lines[1 : 1 + n_sig]:
        parts = ln.split()
        try:
            fmt = parts[1].split("x")[0].split(":")[0].split("+")[0]
            gain_str = parts[2] if len(parts) > 2 else "200"
            gain_num = gain_str.split("/")[0].split("(")[0]
            gain = float(gain_num) or 200.0
            baseline = int(gain_str.split("(")[1].split(")")[0]) if "(" in gain_str else None
            adczero = int(parts[4]) if len(parts) > 4 else 0
            if baseline is None:
                baseline = adczero
            unit = gain_str.split("/")[1] if "/" in gain_str else "mV"
            name = " ".join(parts[8:]) if len(parts) > 8 else f"ch{len(sigs) + 1}"
        except (IndexError, ValueError) as exc:
            raise SignalFormatError(f"{hea_path}: bad signal line {ln!r}") from exc
        sigs.append(
            dict(file=parts[0], fmt=fmt, gain=gain, baseline=baseline, unit=unit, name=name)
        )
    if len(sigs) != n_sig:
        raise SignalFormatError(f"{hea_path}: header declares {n_sig} signals, has {len(sigs)}")
    return dict(name=head[0], n_sig=n_sig, fs=fs, n_samp=n_samp), sigs


def _unit_scale_to_mv(unit: str) -> float:
    u = unit.strip().lower()
    return {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}.get(u, 1.0)


def _signal_file(hea: Path, name: str) -> Path:
    """The signal file a header names, which must be a plain file name beside the header."""
    p = Path(name)
    if p.name != name or name in (".", "..") or "\\" in name or p.is_absolute():
        raise SignalFormatError(
            f"{hea}: signal file {name!r} is not a plain file name beside the header"
        )
    path = hea.parent / name
    if path.is_symlink() and path.resolve().parent != hea.parent.resolve():
        raise SignalFormatError(f"{hea}: signal file {name!r} links outside the header's folder")
    if not path.is_file():
        raise SignalFormatError(f"{hea}: signal file {path.name} is missing")
    return path


def _declared_rate_wins(
    declared: float | None, given: float | None, where: Path, default_hz: float | None = None
) -> float:
    """The sampling rate of a file: the one it declares; ``given`` (``--fs``) only fills a
    missing one, and a conflict is refused rather than silently resolved."""
    if given is not None and not (math.isfinite(given) and given > 0):
        raise SignalFormatError(f"sampling rate must be positive, got {given}")
    if declared is not None:
        if given is not None and not math.isclose(declared, given, rel_tol=1e-6):
            raise SignalFormatError(
                f"{where}: the file declares {declared:g} Hz but --fs {given:g} was given; "
                "the declared rate is used for such files, so drop --fs"
            )
        return float(declared)
    if given is not None:
        return float(given)
    if default_hz is not None:
        return default_hz
    raise SignalFormatError(f"{where}: sampling rate unknown (add '# fs_hz=...' or pass --fs)")


def read_wfdb(path: str | os.PathLike, fs_hz: float | None = None) -> Record:
    """Read a WFDB record (``.hea`` + format 16 or 212 ``.dat``; also CinC ``.mat`` files).

    The header's rate wins: ``fs_hz`` is used only when the header declares none (then the
    WFDB default is 250 Hz), and a different ``fs_hz`` is refused. The signal file must lie
    beside the header (a name, not a path)."""
    path = Path(path)
    hea = path.with_suffix(".hea") if path.suffix in (".dat", ".mat", ".hea", "") else path
    if path.suffix == "":
        hea = path.parent / (path.name + ".hea")
    if not hea.exists():
        raise SignalFormatError(f"{hea}: WFDB header not found")
    rec, sigs = _parse_header(hea)
    files = {s["file"] for s in sigs}
    if len(files) != 1:
        raise SignalFormatError(f"{hea}: signals in several files are not supported")
    data_path = _signal_file(hea, sigs[0]["file"])
    fs = _declared_rate_wins(rec["fs"], fs_hz, hea, default_hz=250.0)
    fmt = sigs[0]["fmt"]
    n_sig = rec["n_sig"]
    n_bytes = data_path.stat().st_size
    if n_bytes > 2 * MAX_SIGNAL_SAMPLES:
        raise SignalFormatError(f"{data_path}: {n_bytes / 1e6:.0f} MB is too large a record")
    if data_path.suffix == ".mat":
        digital = _read_mat_val(data_path).T
    elif fmt == "16":
        raw = np.fromfile(data_path, dtype="<i2")
        digital = raw[: (raw.size // n_sig) * n_sig].reshape(-1, n_sig)
    elif fmt == "212":
        digital = _decode_212(np.fromfile(data_path, dtype=np.uint8), n_sig)
    else:
        raise SignalFormatError(f"{hea}: WFDB format {fmt} is not supported (16, 212)")
    if rec["n_samp"]:
        digital = digital[: rec["n_samp"]]
    if digital.ndim != 2 or digital.shape[1] != n_sig:
        raise SignalFormatError(
            f"{data_path}: holds {digital.shape[-1]} signals, the header declares {n_sig}"
        )
    gains = np.array([s["gain"] for s in sigs])
    base = np.array([s["baseline"] for s in sigs])
    scale = np.array([_unit_scale_to_mv(s["unit"]) for s in sigs])
    signal = (digital.astype(np.float64) - base) / gains * scale
    signal[digital == -32768] = np.nan  # WFDB invalid-sample marker for format 16
    return Record(
        signal_mv=signal,
        fs_hz=fs,
        lead_names=tuple(s["name"] for s in sigs),
        name=rec["name"],
    )


def _decode_212(buf: np.ndarray, n_sig: int) -> np.ndarray:
    buf = buf[: (buf.size // 3) * 3].reshape(-1, 3).astype(np.int32)
    a = buf[:, 0] | ((buf[:, 1] & 0x0F) << 8)
    b = buf[:, 2] | ((buf[:, 1] & 0xF0) << 4)
    out = np.empty(a.size * 2, dtype=np.int32)
    out[0::2], out[1::2] = a, b
    out[out > 2047] -= 4096
    return out[: (out.size // n_sig) * n_sig].reshape(-1, n_sig)


def _read_mat_val(path: Path) -> np.ndarray:
    from scipy.io import loadmat

    try:
        val = loadmat(path)["val"]
    except KeyError:
        raise SignalFormatError(f"{path}: MAT file holds no 'val' signal array") from None
    except Exception as exc:  # scipy raises several types for corrupt files
        raise SignalFormatError(f"{path}: not a readable MAT file ({exc})") from exc
    val = np.asarray(val)
    if val.dtype.kind not in "iuf" or val.ndim > 2 or val.size == 0:
        kind = {"S": "text", "U": "text", "O": "a structure", "V": "a structure"}
        raise SignalFormatError(
            f"{path}: 'val' must be a numeric matrix of samples, got "
            f"{kind.get(val.dtype.kind, str(val.dtype))} of shape {val.shape}"
        )
    if val.size > MAX_SIGNAL_SAMPLES:
        raise SignalFormatError(f"{path}: {val.size} samples is too large a record")
    return np.atleast_2d(val)


def read_cinc_mat(path: str | os.PathLike, fs_hz: float | None = None) -> Record:
    """Read a CinC 2017 ``.mat`` (int16 ``val``, 1000 adu/mV, 300 Hz unless ``fs_hz``);
    the ``.hea`` beside it wins (and a different ``fs_hz`` is refused)."""
    path = Path(path)
    if path.with_suffix(".hea").exists():
        return read_wfdb(path.with_suffix(".hea"), fs_hz)
    val = _read_mat_val(path).astype(np.float64)
    return Record(
        signal_mv=(val / 1000.0).T,
        fs_hz=_declared_rate_wins(None, fs_hz, path, default_hz=300.0),
        lead_names=tuple(["ECG"] * val.shape[0])
        if val.shape[0] == 1
        else tuple(f"ch{i + 1}" for i in range(val.shape[0])),
        name=path.stem,
    )


def write_wfdb(record: Record, out_base: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<out_base>.hea`` and ``<out_base>.dat`` (format 16, 1000 adu/mV), atomically.

    NaN samples are written as the WFDB invalid value -32768.
    """
    out_base = Path(out_base)
    name = out_base.name
    adc_gain = 1000.0
    sig = np.asarray(record.signal_mv, dtype=np.float64)
    digital = np.round(np.nan_to_num(sig, nan=0.0) * adc_gain)
    digital = np.clip(digital, -32767, 32767).astype("<i2")
    digital[np.isnan(sig)] = -32768
    n_samp, n_sig = digital.shape
    lines = [f"{name} {n_sig} {record.fs_hz:g} {n_samp}"]
    for i, lead in enumerate(record.lead_names):
        col = digital[:, i]
        init = int(col[0]) if n_samp else 0
        checksum = int(col.astype(np.int64).sum()) & 0xFFFF
        checksum = checksum - 65536 if checksum > 32767 else checksum
        lines.append(f"{name}.dat 16 {adc_gain:g}(0)/mV 16 0 {init} {checksum} 0 {lead}")
    dat = out_base.with_suffix(".dat")
    hea = out_base.with_suffix(".hea")
    atomic_write_bytes(dat, digital.tobytes())
    atomic_write_bytes(hea, ("\n".join(lines) + "\n").encode())
    return hea, dat


# --------------------------------------------------------------------------- CSV


def write_csv(record: Record, path: str | os.PathLike) -> Path:
    """CSV with a ``# fs_hz=<rate>`` comment line, a header of lead names, values in mV."""
    path = Path(path)
    import io as _io

    buf = _io.StringIO()
    buf.write(f"# fs_hz={record.fs_hz:g}\n")
    buf.write("time_s," + ",".join(record.lead_names) + "\n")
    t = np.arange(record.signal_mv.shape[0]) / record.fs_hz
    table = np.column_stack([t, record.signal_mv])
    np.savetxt(buf, table, delimiter=",", fmt="%.6g")
    atomic_write_bytes(path, buf.getvalue().encode())
    return path


def read_csv(path: str | os.PathLike, fs_hz: float | None = None) -> Record:
    """Read a CSV of leads in mV. The rate comes from a ``# fs_hz=`` line or a ``time_s``
    column; ``fs_hz`` is for files that declare none (a different one is refused)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise SignalFormatError(
                f"{path}: {size / 2**20:.0f} MiB is larger than the "
                f"{MAX_CSV_BYTES >> 20} MiB a CSV signal may have"
            )
        text = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError as exc:
        raise SignalFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    declared = _csv_declared_rate(path, [ln for ln in text if ln.startswith("#")])
    rows = [ln for ln in text if ln.strip() and not ln.startswith("#")]
    del text
    if not rows:
        raise SignalFormatError(f"{path}: no data rows")
    first = rows[0].split(",")
    has_header = any(not _is_number(x) for x in first)
    names = [x.strip() for x in first] if has_header else [f"ch{i + 1}" for i in range(len(first))]
    data = _csv_table(path, rows[has_header:], len(first))
    if data.shape[0] < 2:
        raise SignalFormatError(f"{path}: too few samples")
    if names and names[0].lower() in ("time_s", "time", "t", "seconds"):
        if declared is None:
            dt = float(np.nanmedian(np.diff(data[:, 0])))
            declared = 1.0 / dt if math.isfinite(dt) and dt > 0 else None
        data, names = data[:, 1:], names[1:]
    if not names:
        raise SignalFormatError(f"{path}: no signal columns")
    fs = _declared_rate_wins(declared, fs_hz, path)
    return Record(signal_mv=data, fs_hz=fs, lead_names=tuple(names), name=path.stem)


def _csv_declared_rate(path: Path, comments: list[str]) -> float | None:
    """The rate a ``# fs_hz=<Hz>`` comment declares (None without one)."""
    for c in comments:
        if "fs_hz=" in c:
            text = (c.split("fs_hz=")[1].split() or [""])[0].strip(",")
            try:
                value = float(text)
            except ValueError:
                raise SignalFormatError(f"{path}: '# fs_hz={text}' is not a number") from None
            if not (math.isfinite(value) and value > 0):
                raise SignalFormatError(f"{path}: '# fs_hz={text}' must be a positive rate")
            return value
    return None


def _csv_table(path: Path, rows: list[str], n_cols: int) -> np.ndarray:
    """The numbers of ``rows`` as one float array (empty cells NaN), filled row by row so
    memory stays near the size of the result."""
    if len(rows) * n_cols > MAX_SIGNAL_SAMPLES:
        raise SignalFormatError(f"{path}: {len(rows)} rows x {n_cols} columns is too large")
    data = np.empty((len(rows), n_cols))
    for i, r in enumerate(rows):
        cells = r.split(",")
        if len(cells) != n_cols:
            raise SignalFormatError(
                f"{path}: data line {i + 1} has {len(cells)} values, expected {n_cols}"
            )
        try:
            data[i] = [float(x) if x.strip() else np.nan for x in cells]
        except ValueError:
            bad = next(x for x in cells if x.strip() and not _is_number(x))
            raise SignalFormatError(
                f"{path}: non-numeric value {bad.strip()[:40]!r} in data line {i + 1}"
            ) from None
    return data


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def read_signal(path: str | os.PathLike, fs_hz: float | None = None) -> Record:
    """Read any supported signal file by its extension (.hea/.dat, .mat, .csv, DICOM .dcm)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".hea", ".dat", ""):
        return read_wfdb(path, fs_hz)
    if suffix == ".mat":
        return read_cinc_mat(path, fs_hz)
    if suffix in (".csv", ".txt"):
        return read_csv(path, fs_hz)
    if suffix == ".dcm":  # the file states its rate
        return read_dicom(path)
    raise SignalFormatError(f"{path}: unsupported signal format {suffix!r}")


# --------------------------------------------------------------------------- DICOM


def read_dicom(path: str | os.PathLike) -> Record:
    """A DICOM ECG waveform file (12-lead or General ECG) as a Record in mV; samples stored as
    the padding value are NaN (see :mod:`ecgviewer.io.dicom`)."""
    from ecgviewer.io.dicom import read_waveform

    signal_mv, fs_hz, names, meta = read_waveform(path)
    return Record(signal_mv, fs_hz, names, name=Path(path).stem, meta=meta)


def write_dicom(record: Record, path: str | os.PathLike) -> Path:
    """Write ``record`` as a DICOM ECG waveform file (atomically); returns the path."""
    from ecgviewer.io.dicom import dicom_bytes

    return atomic_write_bytes(path, dicom_bytes(record))


# --------------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A failure leaves any earlier file at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give normal file modes
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide and not thread-safe
