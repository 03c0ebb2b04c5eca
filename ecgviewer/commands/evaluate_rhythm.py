"""``ecgviewer evaluate-rhythm DIR``: score the rhythm model on a labelled folder.

DIR holds signal files (``.hea``/``.mat``/``.csv``) and a ``REFERENCE*.csv`` (``name,label``),
as in the CinC 2017 layout. Prints F1 per class, the challenge score (mean F1 of N, A, O),
the confusion matrix and the expected calibration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ecgviewer.commands.options import in_range
from ecgviewer.errors import EcgViewerError, SignalFormatError

NAME = "evaluate-rhythm"
HELP = "Score the rhythm model on a folder with REFERENCE*.csv labels (F1, challenge score, ECE)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="folder with records and REFERENCE*.csv")
    p.add_argument("--limit", type=int, default=0, help="score only the first N labelled records")
    p.add_argument(
        "--fs",
        type=in_range("input_fs_hz"),
        default=None,
        help="sampling rate for files that declare none",
    )
    p.add_argument("--model", default=None, help="model weights (default: the bundled model)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _find(folder: Path, name: str) -> Path:
    for ext in (".hea", ".mat", ".csv"):
        if (folder / f"{name}{ext}").exists():
            return folder / f"{name}{ext}"
    raise SignalFormatError(f"{folder}: record {name} listed in the reference is missing")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ecgviewer.commands.classify import load_lead, no_data_reason
    from ecgviewer.rhythm import CLASSES, classify, load_model
    from ecgviewer.rhythm.metrics import format_summary, summarize
    from ecgviewer.rhythm.training.data import read_reference

    folder = Path(args.folder)
    if not folder.is_dir():
        raise SignalFormatError(f"{folder}: not a folder")
    if args.limit < 0:
        raise EcgViewerError("--limit must be 0 (all) or more")
    rows = read_reference(folder)
    if args.limit:
        rows = rows[: args.limit]
    model = load_model(args.model)
    probs, labels, failed = [], [], []
    for name, lab in tqdm(rows, desc="evaluate-rhythm", unit="rec", file=sys.stderr):
        if lab not in CLASSES:
            continue
        try:
            x, fs, _ = load_lead(_find(folder, name), None, args.fs)
            empty = no_data_reason(x)
            if empty is not None:
                raise SignalFormatError(f"cannot assess: {empty}")
            r = classify(x, fs, model)
        except (EcgViewerError, OSError) as exc:  # score what can be scored, list the rest
            failed.append({"record": name, "error": str(exc)})
            print(f"{name}: error: {exc}", file=sys.stderr)
            continue
        probs.append([r.probabilities[c] for c in CLASSES])
        labels.append(CLASSES.index(lab))
    if not labels:
        raise SignalFormatError(f"{folder}: no record could be scored")
    s = summarize(np.array(labels), np.array(probs))
    s["failed"] = len(failed)
    s["not_scored"] = failed
    listed = "".join(f"\n  {f['record']}: {f['error']}" for f in failed)
    print(
        json.dumps(s)
        if args.json
        else format_summary(s) + (f"\nnot scored ({len(failed)}):{listed}" if failed else "")
    )
    return 1 if failed else 0
