"""``ecgviewer classify``: heart rhythm (N / A / O / ~) of ECG images or signal files.

Inputs: images/PDFs (digitised first, then the rhythm lead is classified), WFDB records
(``.hea``), CinC ``.mat`` files and CSV signals; folders and globs expand to every supported
file. One line per input (``--json``: one JSON object per line). A bad input gives an error
line and the batch goes on; the exit code is 1 when any input failed.

Batches use the same runner as ``digitize`` (:mod:`ecgviewer.batch`): ``--workers N``
processes or a Dask ``--scheduler``, a per-file ``--report``, and with ``-o OUTDIR`` one
``<stem>.rhythm.json`` per input, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer import RESEARCH_NOTICE
from ecgviewer.batch import (
    BatchItem,
    BatchItemResult,
    add_batch_arguments,
    collect_inputs,
    plan_items,
    run_batch,
)
from ecgviewer.commands.digitize import add_paper_arguments, paper_settings
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.errors import EcgViewerError, SignalFormatError
from ecgviewer.io.images import IMAGE_EXTENSIONS
from ecgviewer.io.signals import atomic_write_bytes

NAME = "classify"
HELP = "Classify the heart rhythm (N, A, O, ~) of ECG images or signal files."

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
    p.add_argument(
        "-o",
        "--outdir",
        type=Path,
        default=None,
        help="also write OUTDIR/<stem>.rhythm.json per input (makes batches resumable)",
    )
    add_paper_arguments(p).description = "images only: how to read the paper"
    add_batch_arguments(p)


def expand_inputs(args: list[str], exclude=()) -> list[tuple[Path, Path | None]]:
    """Files, folders and globs -> (file, folder argument) pairs of supported files; a .mat
    beside its .hea counts once."""
    found = collect_inputs(args, IMAGE_EXTENSIONS + SIGNAL_EXTENSIONS, exclude=exclude)
    have = {f.resolve() for f, _ in found}
    return [
        (f, root)
        for f, root in found
        if not (f.suffix.lower() == ".mat" and f.with_suffix(".hea").resolve() in have)
    ]


def load_lead(
    path: Path, lead: str | None, fs_hz: float | None, settings: DigitizeSettings | None = None
) -> tuple[np.ndarray, float, str]:
    """(samples in mV with NaN gaps, fs, lead name) of one input file; images are digitised
    with ``settings`` (default: detect everything)."""
    if not path.exists():
        raise SignalFormatError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        from ecgviewer.digitize import digitize

        dig = digitize(path, settings)
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


@dataclass(frozen=True)
class ClassifyJob:
    """What every batch item needs (picklable: it travels to worker processes)."""

    lead: str | None
    fs_hz: float | None
    model_path: str | None
    write_json: bool
    settings: DigitizeSettings | None = None


def classify_file(item: BatchItem, job: ClassifyJob) -> BatchItemResult:
    """The batch task: read (or digitise) one input, classify its rhythm lead."""
    from ecgviewer.rhythm import classify, load_model

    model = load_model(job.model_path)  # cached per process by file (and its mtime)
    x, fs, lead = load_lead(item.path, job.lead, job.fs_hz, job.settings)
    d = {"input": str(item.path), "lead": lead, **classify(x, fs, model).to_json()}
    if job.write_json:  # written last and alone: its presence means "done" for --resume
        atomic_write_bytes(item.summary_path, json.dumps({**d, "outputs": []}).encode())
    return BatchItemResult(
        "ok",
        reason="; ".join(d["warnings"]),
        layout=lead,
        quality=d["probabilities"][d["label"]],
        detail=json.dumps(d),
    )


def _result_dict(r: BatchItemResult, item_json: Path | None) -> dict:
    if r.status == "ok":
        return json.loads(r.detail)
    if r.status == "skipped" and item_json is not None:  # resumed: show the stored result
        stored = json.loads(item_json.read_text(encoding="utf-8"))
        stored.pop("outputs", None)
        return stored
    return {"input": r.input, "error": r.reason or r.status}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ecgviewer.rhythm import load_model

    if args.workers < 1:
        raise EcgViewerError("--workers must be at least 1")
    exclude = [args.outdir] if args.outdir else []
    files = expand_inputs(args.inputs, exclude=exclude)
    if not files:
        raise SignalFormatError("no supported input files found")
    load_model(args.model)  # a missing/corrupt model stops the whole batch, once
    if not args.json:
        print(RESEARCH_NOTICE, file=sys.stderr)
    outdir = args.outdir or Path(tempfile.gettempdir())  # names only, unless -o is given
    items = [
        dataclasses.replace(it, out_base=it.out_base.with_name(it.out_base.name + ".rhythm"))
        for it in plan_items(files, outdir)
    ]
    if args.outdir:
        args.outdir.mkdir(parents=True, exist_ok=True)
    json_of = {str(it.path): it.summary_path for it in items} if args.outdir else {}
    job = ClassifyJob(
        args.lead,
        args.fs,
        args.model,
        write_json=args.outdir is not None,
        settings=paper_settings(args),
    )

    def show(r: BatchItemResult) -> None:
        d = _result_dict(r, json_of.get(r.input))
        if args.json:
            line = json.dumps(d)
        elif "error" in d:
            line = f"{r.input}: error: {d['error']}"
        else:
            line = format_line(Path(r.input), d)
        tqdm.write(line, file=sys.stdout)

    summary = run_batch(
        items,
        classify_file,
        job,
        workers=args.workers,
        resume=bool(args.outdir) and args.resume and not args.overwrite,
        overwrite=args.overwrite or not args.outdir,
        report_path=args.report,
        scheduler=args.scheduler,
        progress=args.progress and len(items) > 1,
        timeout_s=args.timeout,
        on_result=show,
        echo_failures=False,  # `show` prints failures in the output format asked for
    )
    if len(items) > 1 and not args.json:
        print(summary.text(NAME), file=sys.stderr)
    return summary.exit_code
