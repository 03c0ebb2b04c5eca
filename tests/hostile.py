"""Generator of a hostile corpus for signals, options and output folders (issue 19), written
into a folder the caller owns (a tmp dir), like :mod:`badfiles` for images.

Nothing is stored in the repository: every case is made from a few lines of code, so the
corpus documents exactly what each case is. Each :class:`Probe` is one command line and its
expected outcome: the exit code and a phrase of the one line the user reads. Used by
tests/test_hostile_cli.py; the README's "Bad files, stress and batches" section lists them.

``{d}`` in a probe's arguments is the corpus folder; ``{model}`` a small valid model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FS_HZ = 300.0


@dataclass(frozen=True)
class Probe:
    name: str
    argv: tuple[str, ...]
    rc: int  # expected exit code (0 ok, 1 some input failed, 2 refused)
    says: str  # a phrase the output (stdout + stderr) must contain
    note: str
    setup: Callable[[Path], None] | None = field(default=None, compare=False)
    never: str = ""  # a phrase the output must NOT contain (e.g. a rhythm label)


# --------------------------------------------------------------------------- signals


def synthetic_ecg(fs_hz: float = FS_HZ, seconds: float = 30.0, rate_bpm: float = 72.0):
    """A clean ECG-like lead in mV: QRS spikes with small T waves at a steady rate."""
    t = np.arange(0.0, seconds, 1.0 / fs_hz)
    x = np.zeros_like(t)
    for beat in np.arange(0.3, seconds, 60.0 / rate_bpm):
        x += 1.2 * np.exp(-(((t - beat) / 0.012) ** 2))
        x -= 0.2 * np.exp(-(((t - beat - 0.05) / 0.02) ** 2))
        x += 0.25 * np.exp(-(((t - beat - 0.25) / 0.05) ** 2))
    return x


def _csv(path: Path, values, header: str = "ECG", comment: str | None = f"# fs_hz={FS_HZ:g}"):
    lines = ([comment] if comment else []) + [header] + [
        "nan" if not np.isfinite(v) else f"{v:.4f}" for v in values
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _wfdb(folder: Path, name: str, signal_file: str | None = None, fs: str = "300") -> Path:
    """A one-lead format-16 record; ``signal_file`` overrides the name in the header."""
    x = np.round(synthetic_ecg(float(fs) if fs.replace(".", "").isdigit() else FS_HZ) * 1000)
    (folder / f"{name}.dat").write_bytes(x.astype("<i2").tobytes())
    hea = folder / f"{name}.hea"
    sig = signal_file or f"{name}.dat"
    hea.write_text(f"{name} 1 {fs} {x.size}\n{sig} 16 1000(0)/mV 16 0 0 0 0 ECG\n")
    return hea


def make_tiny_model(folder: Path, name: str = "tiny", **blob_changes) -> Path:
    """A randomly initialised two-member rhythm model with a valid card; ``blob_changes``
    edit the weights file's dict (None deletes a key) to make a broken one."""
    import torch

    from ecgviewer.io.digest import file_sha256
    from ecgviewer.rhythm.infer import save_model
    from ecgviewer.rhythm.model import ModelConfig, RhythmCNN

    torch.manual_seed(0)
    cfg = ModelConfig()
    path = folder / f"{name}.pt"
    save_model(path, [RhythmCNN(cfg).state_dict() for _ in range(2)], cfg, 1.5, 100.0)
    if blob_changes:
        blob = torch.load(path, weights_only=True)
        for key, value in blob_changes.items():
            if value is None:
                blob.pop(key)
            else:
                blob[key] = value
        torch.save(blob, path)
    path.with_suffix(".json").write_text(json.dumps({"sha256": file_sha256(path)}))
    return path


def make_signal_corpus(d: Path) -> None:
    """Every input file the probes name, under ``d``."""
    from scipy.io import savemat

    d.mkdir(parents=True, exist_ok=True)
    x = synthetic_ecg()
    _csv(d / "rate300.csv", x)
    _csv(d / "norate.csv", x, comment=None)
    t = np.arange(x.size) / 250.0
    (d / "time250.csv").write_text(
        "time_s,ECG\n" + "\n".join(f"{a:.5f},{b:.4f}" for a, b in zip(t, x)) + "\n"
    )
    _csv(d / "fs_abc.csv", x[:10], comment="# fs_hz=abc")
    _csv(d / "fs_zero.csv", x[:10], comment="# fs_hz=0")
    _csv(d / "fs_inf.csv", x[:10], comment="# fs_hz=inf")
    (d / "bom.csv").write_bytes(b"\xef\xbb\xbf" + (d / "rate300.csv").read_bytes())
    _csv(d / "all_nan.csv", np.full(x.size, np.nan))
    _csv(d / "flat.csv", np.zeros(x.size))
    _csv(d / "short.csv", x[:150])
    (d / "ragged.csv").write_text("# fs_hz=300\nI,II\n1,2\n3\n4,5\n")
    (d / "text_value.csv").write_text("# fs_hz=300\nECG\n1\n2\nhello\n")
    (d / "empty.csv").write_bytes(b"")
    with open(d / "huge.csv", "wb") as fh:  # sparse: refused by its size, before reading
        fh.write(b"# fs_hz=300\nECG\n")
        fh.truncate(65 << 20)
    savemat(d / "strings.mat", {"val": "hello"})
    savemat(d / "struct.mat", {"val": {"a": 1}})
    savemat(d / "noval.mat", {"x": np.zeros((1, 10))})
    savemat(d / "cube.mat", {"val": np.zeros((2, 3, 4))})
    (d / "garbage.mat").write_bytes(os.urandom(300))
    (d / "wfdb").mkdir(exist_ok=True)
    w = d / "wfdb"
    _wfdb(w, "good")
    _wfdb(w, "nodat")
    (w / "nodat.dat").unlink()
    _wfdb(w, "escape", signal_file="../../etc/hostname")
    _wfdb(w, "absolute", signal_file="/etc/hostname")
    _wfdb(w, "linked", signal_file="linked_data.dat")
    (w / "linked_data.dat").symlink_to("/etc/hostname")
    _wfdb(w, "badfs", fs="abc")
    (w / "twosig.hea").write_text("twosig 2 300 100\ngood.dat 16 1000 16 0 0 0 0 I\n")
    # a folder scored by evaluate-rhythm: two readable records and one whose .dat is gone
    ev = d / "evalrhythm"
    ev.mkdir(exist_ok=True)
    _csv(ev / "r1.csv", x)
    _csv(ev / "r2.csv", synthetic_ecg(rate_bpm=90))
    _wfdb(ev, "r3")
    (ev / "r3.dat").unlink()
    (ev / "REFERENCE.csv").write_text("r1,N\nr2,N\nr3,A\n")
    # evaluate: truth folder with a good record, one without .dat and one all-missing
    truth, est = d / "truth", d / "est"
    truth.mkdir(exist_ok=True)
    est.mkdir(exist_ok=True)
    _wfdb(truth, "ok_truth")
    _wfdb(est, "ok")
    _wfdb(truth, "nodat_truth")
    (truth / "nodat_truth.dat").unlink()
    _wfdb(truth, "nan_truth")
    (truth / "nan_truth.dat").write_bytes(np.full(x.size, -32768, "<i2").tobytes())
    (d / "a_file").write_text("I am a file, not a folder\n")
    (d / "a_folder").mkdir(exist_ok=True)


# --------------------------------------------------------------------------- probes

_C = ("classify", "--model", "{model}", "--no-progress")
_ERR = "error"

PROBES: tuple[Probe, ...] = (
    # -- a declared rate wins; --fs only for files without one
    Probe("csv_declared_rate", (*_C, "{d}/rate300.csv", "--json"), 0, '"duration_s": 30.0',
          "# fs_hz=300 is read at 300 Hz"),
    Probe("csv_rate_conflict", (*_C, "{d}/rate300.csv", "--fs", "500"), 1,
          "declares 300 Hz but --fs 500", "--fs 500 against a declared 300 Hz is refused"),
    Probe("csv_time_column_conflict", (*_C, "{d}/time250.csv", "--fs", "500"), 1,
          "declares 250 Hz", "a time_s column at 250 Hz against --fs 500 is refused"),
    Probe("wfdb_rate_conflict", (*_C, "{d}/wfdb/good.hea", "--fs", "500"), 1,
          "declares 300 Hz", "--fs against a WFDB header's rate is refused"),
    Probe("csv_no_rate_fs_given", (*_C, "{d}/norate.csv", "--fs", "300", "--json"), 0,
          '"duration_s": 30.0', "--fs fills a missing rate"),
    Probe("csv_no_rate", (*_C, "{d}/norate.csv"), 1, "sampling rate unknown",
          "no rate and no --fs"),
    # -- malformed signal files: one line each, the batch goes on
    Probe("csv_fs_abc", (*_C, "{d}/fs_abc.csv"), 1, "'# fs_hz=abc' is not a number",
          "# fs_hz=abc"),
    Probe("csv_fs_zero", (*_C, "{d}/fs_zero.csv"), 1, "must be a positive rate", "# fs_hz=0"),
    Probe("csv_fs_inf", (*_C, "{d}/fs_inf.csv"), 1, "must be a positive rate", "# fs_hz=inf"),
    Probe("csv_bom", (*_C, "{d}/bom.csv", "--json"), 0, '"duration_s": 30.0',
          "a UTF-8 byte-order mark is read"),
    Probe("csv_ragged", (*_C, "{d}/ragged.csv"), 1, "data line 2 has 1 values",
          "rows of unequal length"),
    Probe("csv_text_value", (*_C, "{d}/text_value.csv"), 1, "non-numeric value 'hello'",
          "a word among the numbers"),
    Probe("csv_empty", (*_C, "{d}/empty.csv"), 1, "no data rows", "zero bytes"),
    Probe("csv_huge", (*_C, "{d}/huge.csv"), 1, "MiB a CSV signal may have",
          "65 MiB CSV refused by size before reading (cap 64 MiB)"),
    Probe("csv_short", (*_C, "{d}/short.csv"), 1, "too short", "0.5 s of signal"),
    Probe("mat_strings", (*_C, "{d}/strings.mat"), 1, "got text", "MAT 'val' holding text"),
    Probe("mat_struct", (*_C, "{d}/struct.mat"), 1, "got a structure",
          "MAT 'val' holding a struct"),
    Probe("mat_no_val", (*_C, "{d}/noval.mat"), 1, "holds no 'val'", "MAT without 'val'"),
    Probe("mat_cube", (*_C, "{d}/cube.mat"), 1, "numeric matrix", "3-D 'val'"),
    Probe("mat_garbage", (*_C, "{d}/garbage.mat"), 1, "not a readable MAT file",
          "random bytes named .mat"),
    Probe("wfdb_missing_dat", (*_C, "{d}/wfdb/nodat.hea"), 1, "signal file nodat.dat is missing",
          "header without its .dat"),
    Probe("wfdb_escape", (*_C, "{d}/wfdb/escape.hea"), 1, "not a plain file name beside",
          "header naming ../../etc/hostname"),
    Probe("wfdb_absolute", (*_C, "{d}/wfdb/absolute.hea"), 1, "not a plain file name beside",
          "header naming /etc/hostname"),
    Probe("wfdb_symlink_out", (*_C, "{d}/wfdb/linked.hea"), 1, "links outside",
          "signal file a symlink out of the folder"),
    Probe("wfdb_bad_rate", (*_C, "{d}/wfdb/badfs.hea"), 1, "bad record line", "rate 'abc'"),
    Probe("wfdb_missing_signal_line", (*_C, "{d}/wfdb/twosig.hea"), 1,
          "declares 2 signals, has 1", "header short of a signal line"),
    Probe("missing_input", (*_C, "{d}/nope.csv"), 1, "no such file", "a file that is not there"),
    # -- no data, no label
    Probe("all_nan", (*_C, "{d}/all_nan.csv", "--json"), 1, '"status": "cannot_assess"',
          "all-NaN lead: cannot assess, no label, exit 1", never="Normal"),
    Probe("flat", (*_C, "{d}/flat.csv"), 1, "cannot assess: the signal is flat",
          "all-zero lead: cannot assess, no label", never="Normal"),
    # -- options outside their sane range: refused in one line
    Probe("classify_fs_inf", (*_C, "{d}/norate.csv", "--fs", "inf"), 2, "argument --fs",
          "--fs inf"),
    Probe("classify_fs_nan", (*_C, "{d}/norate.csv", "--fs", "nan"), 2, "argument --fs",
          "--fs nan"),
    Probe("timeout_inf", (*_C, "{d}/rate300.csv", "--timeout", "inf"), 2, "argument --timeout",
          "--timeout inf"),
    Probe("timeout_zero", (*_C, "{d}/rate300.csv", "--timeout", "0"), 2, "argument --timeout",
          "--timeout 0"),
    Probe("workers_zero", (*_C, "{d}/rate300.csv", "--workers", "0"), 2,
          "--workers must be at least 1", "--workers 0"),
    Probe("digitize_fs_huge", ("digitize", "{d}/x.png", "-o", "{d}/o", "--fs", "1e6"), 2,
          "argument --fs", "digitize --fs 1e6 (cap 5000 Hz)"),
    Probe("digitize_fs_tiny", ("digitize", "{d}/x.png", "-o", "{d}/o", "--fs", "0.01"), 2,
          "argument --fs", "digitize --fs 0.01 (floor 50 Hz)"),
    Probe("digitize_rotation", ("digitize", "{d}/x.png", "-o", "{d}/o", "--rotation", "1e9"), 2,
          "argument --rotation", "--rotation 1e9 (range ±360°)"),
    Probe("digitize_pdf_dpi", ("digitize", "{d}/x.png", "-o", "{d}/o", "--pdf-dpi", "1e5"), 2,
          "argument --pdf-dpi", "--pdf-dpi 1e5 (range 30-1200)"),
    Probe("digitize_threshold", ("digitize", "{d}/x.png", "-o", "{d}/o", "--threshold", "3"), 2,
          "--threshold must be between 0 and 1", "--threshold 3"),
    Probe("render_dpi_nan", ("render", "{d}/rate300.csv", "-o", "{d}/r", "--dpi", "nan"), 2,
          "argument --dpi", "render --dpi nan"),
    Probe("render_dpi_huge", ("render", "{d}/rate300.csv", "-o", "{d}/r", "--dpi", "5000"), 2,
          "argument --dpi", "render --dpi 5000 (cap 600)"),
    Probe("render_row_zero", ("render", "{d}/rate300.csv", "-o", "{d}/r", "--row-seconds", "0"),
          2, "argument --row-seconds", "render --row-seconds 0"),
    Probe("render_row_negative",
          ("render", "{d}/rate300.csv", "-o", "{d}/r", "--row-seconds", "-5"), 2,
          "argument --row-seconds", "render --row-seconds -5"),
    Probe("evaluate_shift_nan", ("evaluate", "{d}/truth", "{d}/est", "--max-shift", "nan"), 2,
          "argument --max-shift", "evaluate --max-shift nan"),
    Probe("evaluate_rhythm_limit", ("evaluate-rhythm", "{d}/evalrhythm", "--limit", "-1"), 2,
          "--limit must be 0", "evaluate-rhythm --limit -1"),
    # -- output paths that cannot be output paths
    Probe("outdir_is_file", (*_C, "{d}/rate300.csv", "-o", "{d}/a_file"), 2,
          "is a file, not a folder", "-o naming a file"),
    Probe("outdir_under_file", (*_C, "{d}/rate300.csv", "-o", "{d}/a_file/sub"), 2,
          "cannot create the output folder", "-o under a file"),
    Probe("outdir_proc_sub", ("digitize", "{d}/x.png", "-o", "/proc/ecgviewer-out"), 2,
          "cannot create the output folder", "-o /proc/..."),
    Probe("outdir_proc", (*_C, "{d}/rate300.csv", "-o", "/proc"), 2,
          "cannot write to the output folder", "-o /proc"),
    Probe("report_is_folder", (*_C, "{d}/rate300.csv", "--report", "{d}/a_folder"), 2,
          "is a folder", "--report naming a folder"),
    Probe("render_outdir_file", ("render", "{d}/rate300.csv", "-o", "{d}/a_file"), 2,
          "is a file, not a folder", "render -o naming a file"),
    Probe("evaluate_csv_folder",
          ("evaluate", "{d}/truth", "{d}/est", "--csv", "{d}/a_folder"), 2, "is a folder",
          "evaluate --csv naming a folder"),
    # -- partly unreadable sets: score what can be scored, list the rest
    Probe("evaluate_partial", ("evaluate", "{d}/truth", "{d}/est"), 1,
          "not scored: nodat: truth unreadable",
          "evaluate: a truth without .dat and an all-NaN truth listed, the rest scored"),
    Probe("evaluate_rhythm_partial",
          ("evaluate-rhythm", "{d}/evalrhythm", "--model", "{model}", "--json"), 1,
          '"not_scored": [{"record": "r3"',
          "evaluate-rhythm: one record's .dat missing: the others scored, r3 listed"),
    Probe("render_escape", ("render", "{d}/wfdb/escape.hea", "-o", "{d}/r_escape"), 1,
          "not a plain file name beside", "render never copies ../../etc/hostname"),
)


def sleepy_task(item, options):
    """A batch task that outlives its parent (kill -9 test): sleeps, writes nothing."""
    time.sleep(120)
