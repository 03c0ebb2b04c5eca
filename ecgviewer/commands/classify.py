"""``ecgviewer classify``: heart rhythm (N / A / O / ~) of ECG images or signal files.

Inputs: images/PDFs (digitised first, then the rhythm lead is classified), WFDB records
(``.hea``), CinC ``.mat`` files and CSV signals; folders and globs expand to every supported
file. One line per input (``--json``: one JSON object per line). A bad input gives an error
line and the batch goes on; the exit code is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ecgviewer import RESEARCH_NOTICE
from ecgviewer.errors import EcgViewerError, SignalFormatError

NAME = "classify"
HELP = "Classify the heart rhythm (N, A, O, ~) of ECG images or signal files."

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pdf")
SIGNAL_EXTENSIONS = (".hea", ".mat", ".csv")
PREFERRED_LEADS = ("II", "I", "ECG")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image, PDF, .hea, .mat, .csv, folder or glob"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per input per line")
    p.add_argument(
        "--lead", default=None, help="lead to classify (default: II, else the first/rhythm lead)"
    )
    p.add_argument(
        "--fs", type=float, default=None, help="sampling rate in Hz for CSV files without one"
    )
    p.add_argument(
        "--model", default=None, help="model weights (default: the bundled models/rhythm_cnn.pt)"
    )


def expand_inputs(args: list[str]) -> list[Path]:
    """Files, folders and globs -> supported files; a .mat beside its .hea counts once."""
    from ecgviewer.batch import collect_inputs

    files = [f for f, _ in collect_inputs(args, IMAGE_EXTENSIONS + SIGNAL_EXTENSIONS)]
    have = {f.resolve() for f in files}
    return [
        f
        for f in files
        if not (f.suffix.lower() == ".mat" and f.with_suffix(".hea").resolve() in have)
    ]


def load_lead(path: Path, lead: str | None, fs_hz: float | None) -> tuple[np.ndarray, float, str]:
    """(samples in mV with NaN gaps, fs, lead name) of one input file."""
    if not path.exists():
        raise SignalFormatError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        from ecgviewer.digitize import digitize

        dig = digitize(path)
        chosen = dig.rhythm_lead
        if lead:
            try:
                chosen = dig.lead(lead)
            except KeyError as exc:
                raise SignalFormatError(f"{path}: {exc.args[0]}") from exc
        if chosen is None:
            raise SignalFormatError(f"{path}: no lead suitable for rhythm analysis was found")
        x = np.asarray(chosen.signal_mv, dtype=np.float64).copy()
        x[~np.asarray(chosen.valid_mask, bool)] = np.nan
        return x, float(chosen.fs_hz), chosen.name
    from ecgviewer.io.signals import read_signal

    rec = read_signal(path, fs_hz)
    if lead:
        try:
            return rec.lead(lead), rec.fs_hz, lead
        except KeyError as exc:
            raise SignalFormatError(f"{path}: {exc.args[0]}") from exc
    names = [n.lower() for n in rec.lead_names]
    for want in PREFERRED_LEADS:
        if want.lower() in names:
            i = names.index(want.lower())
            return rec.signal_mv[:, i], rec.fs_hz, rec.lead_names[i]
    return rec.signal_mv[:, 0], rec.fs_hz, rec.lead_names[0]


def format_line(path: Path, d: dict) -> str:
    p = d["probabilities"][d["label"]]
    hr = "" if d["heart_rate_bpm"] is None else f"  HR {d['heart_rate_bpm']:.0f} bpm"
    flag = "  CANNOT ASSESS" if d["cannot_assess"] else ""
    warn = f"  ({'; '.join(d['warnings'])})" if d["warnings"] else ""
    return f"{path}: {d['label']} {d['label_name']} p={p:.2f}{hr} [{d['lead']}, {d['duration_s']:.1f} s]{flag}{warn}"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ecgviewer.rhythm import classify, load_model

    files = expand_inputs(args.inputs)
    if not files:
        raise SignalFormatError("no supported input files found")
    model = load_model(args.model)  # a missing/corrupt model stops the whole batch, once
    failed = 0
    if not args.json:
        print(RESEARCH_NOTICE, file=sys.stderr)
    for path in tqdm(files, desc="classify", unit="file", file=sys.stderr, disable=len(files) < 2):
        try:
            x, fs, lead = load_lead(path, args.lead, args.fs)
            d = {"input": str(path), "lead": lead, **classify(x, fs, model).to_json()}
        except (EcgViewerError, OSError, ValueError) as exc:
            failed += 1
            d = {"input": str(path), "error": str(exc)}
        if args.json:
            tqdm.write(json.dumps(d), file=sys.stdout)
        elif "error" in d:
            tqdm.write(f"{path}: error: {d['error']}", file=sys.stdout)
        else:
            tqdm.write(format_line(path, d), file=sys.stdout)
    return 1 if failed else 0
