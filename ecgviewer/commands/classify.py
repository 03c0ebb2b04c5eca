"""``ecgviewer classify``: heart rhythm (N / A / O / ~) of ECG images or signal files.

Inputs: images/PDFs (digitised first, then the rhythm lead is classified), WFDB records
(``.hea``), CinC ``.mat`` files, CSV signals and DICOM ECG waveforms (``.dcm``); folders
and globs expand to every supported file. One line per input (``--json``: one JSON object
per line). A bad input gives an error line and the batch goes on; the exit code is 1 when
any input failed.

Batches use the same runner as ``digitize`` (:mod:`ecgviewer.batch`): ``--workers N``
processes or a Dask ``--scheduler``, a per-file ``--report``, and with ``-o OUTDIR`` one
``<stem>.rhythm.json`` per input, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer import RESEARCH_NOTICE
from ecgviewer.batch import BatchItem, BatchItemResult, collect_inputs, plan_items, run_batch
from ecgviewer.batch.lock import folder_lock
from ecgviewer.commands.options import (
    add_batch_arguments,
    add_paper_arguments,
    check_report_path,
    in_range,
    paper_settings,
    prepare_outdir,
)
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.errors import EcgViewerError, SignalFormatError
from ecgviewer.io.images import IMAGE_EXTENSIONS
from ecgviewer.io.signals import atomic_write_bytes

NAME = "classify"
HELP = "Classify the heart rhythm (N, A, O, ~) of ECG images or signal files."

SIGNAL_EXTENSIONS = (".hea", ".mat", ".csv", ".dcm")
PREFERRED_LEADS = ("II", "I", "ECG")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image, PDF, .hea, .mat, .csv, DICOM .dcm, folder or glob"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per input per line")
    p.add_argument(
        "--lead", default=None, help="lead to classify (default: II, else the first/rhythm lead)"
    )
    p.add_argument(
        "--fs",
        type=in_range("input_fs_hz"),
        default=None,
        help="sampling rate in Hz for signal files that declare none (a declared rate wins; "
        "a different --fs is refused)",
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
    path: Path,
    lead: str | None,
    fs_hz: float | None,
    settings: DigitizeSettings | None = None,
    warnings: list[str] | None = None,
    review: list[str] | None = None,
) -> tuple[np.ndarray, float, str]:
    """(samples in mV with NaN gaps, fs, lead name) of one input file; images are digitised
    with ``settings`` (default: detect everything), their warnings added to ``warnings`` and
    the reasons their digitisation needs review (self-checks) to ``review``."""
    if not path.exists():
        raise SignalFormatError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        from ecgviewer.digitize import digitize

        dig = digitize(path, settings)
        if warnings is not None:
            warnings.extend(f"digitisation: {w}" for w in dig.warnings)
        if review is not None:
            review.extend(dig.review_reasons)
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
    if d.get("label") is None:  # no data, no label
        warn = f"  ({'; '.join(d['warnings'])})" if d.get("warnings") else ""
        return f"{path}: CANNOT ASSESS [{d.get('lead')}]{warn}"
    p = d["probabilities"][d["label"]]
    hr = "" if d["heart_rate_bpm"] is None else f"  HR {d['heart_rate_bpm']:.0f} bpm"
    flag = "  CANNOT ASSESS" if d["cannot_assess"] else ""
    if d.get("review_reasons"):
        flag += f"  NEEDS REVIEW: {'; '.join(d['review_reasons'])}"
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
    model_sha256: str | None = None  # of the model the parent loaded (provenance)


def job_provenance(item: BatchItem, job: ClassifyJob) -> dict:
    """What makes this item's result: the input file, the options, the version, the model."""
    from ecgviewer.batch.provenance import make_provenance

    settings = {
        "lead": job.lead,
        "fs_hz": job.fs_hz,
        "digitize": dataclasses.asdict(job.settings) if job.settings else None,
    }
    settings = json.loads(json.dumps(settings, default=str))
    return make_provenance(item.path, item.page, settings, job.model_sha256)


def no_data_reason(x: np.ndarray) -> str | None:
    """Why a lead holds nothing to classify (None when it holds a signal)."""
    finite = np.isfinite(x)
    if x.size == 0:
        return "the signal is empty"
    if not finite.any():
        return "all samples are missing"
    if np.ptp(x[finite]) < 1e-3:  # under 1 uV peak to peak: a flat line, no ECG
        return "the signal is flat"
    return None


def classify_file(item: BatchItem, job: ClassifyJob) -> BatchItemResult:
    """The batch task: read (or digitise) one input, classify its rhythm lead."""
    from ecgviewer.rhythm import classify, load_model

    model = load_model(job.model_path)  # cached per process by file (and its mtime)
    provenance = job_provenance(item, job) if job.write_json else None
    notes: list[str] = []
    review: list[str] = []  # the digitisation's self-checks: a page that cannot be right
    x, fs, lead = load_lead(item.path, job.lead, job.fs_hz, job.settings, notes, review)
    empty = no_data_reason(np.asarray(x, dtype=np.float64))
    if empty is not None:  # no data, no label: never a rhythm guessed from nothing
        d = {
            "input": str(item.path),
            "lead": lead,
            "status": "cannot_assess",
            "label": None,
            "label_name": "cannot assess",
            "probabilities": None,
            "cannot_assess": True,
            "warnings": [*notes, empty],
        }
        return BatchItemResult(
            "error", reason=f"cannot assess: {empty}", layout=lead, detail=json.dumps(d)
        )
    r = classify(x, fs, model).to_json()
    d = {"input": str(item.path), "lead": lead, "status": "needs_review" if review else "ok", **r}
    d["warnings"] = [*notes, *r["warnings"]]
    if review:
        d["review_reasons"] = review
    if job.write_json:  # written last and alone: its presence means "done" for --resume
        stored = {**d, "outputs": [], "provenance": provenance}
        atomic_write_bytes(item.summary_path, json.dumps(stored).encode())
    flagged = [f"needs review: {'; '.join(review)}"] if review else []
    return BatchItemResult(
        "review" if review else "ok",
        reason="; ".join([*flagged, *d["warnings"]]),
        layout=lead,
        quality=d["probabilities"][d["label"]],
        detail=json.dumps(d),
    )


def _result_dict(r: BatchItemResult, item_json: Path | None) -> dict:
    if r.status in ("ok", "review"):
        redone = r.reason.split("; ")[0] if r.reason.startswith("redone:") else None
        return {**json.loads(r.detail), **({"note": redone} if redone else {})}
    if r.status == "skipped" and item_json is not None:  # resumed: show the stored result
        stored = json.loads(item_json.read_text(encoding="utf-8"))
        stored.pop("outputs", None)
        stored.pop("provenance", None)
        return {**stored, "resumed": True}
    d = json.loads(r.detail) if r.detail else {"input": r.input}
    return {**d, "error": r.reason or r.status}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ecgviewer.rhythm import load_model

    if args.workers < 1:
        raise EcgViewerError("--workers must be at least 1")
    check_report_path(args.report)
    exclude = [args.outdir] if args.outdir else []
    files = expand_inputs(args.inputs, exclude=exclude)
    if not files:
        raise SignalFormatError("no supported input files found")
    model = load_model(args.model)  # a missing/corrupt model stops the whole batch, once
    if not args.json:
        print(RESEARCH_NOTICE, file=sys.stderr)
    outdir = args.outdir or Path(tempfile.gettempdir())  # names only, unless -o is given
    items = [
        dataclasses.replace(it, out_base=it.out_base.with_name(it.out_base.name + ".rhythm"))
        for it in plan_items(files, outdir)
    ]
    if args.outdir:
        prepare_outdir(args.outdir)
    json_of = {str(it.path): it.summary_path for it in items} if args.outdir else {}
    job = ClassifyJob(
        args.lead,
        args.fs,
        args.model,
        write_json=args.outdir is not None,
        settings=paper_settings(args),
        model_sha256=model.sha256,
    )

    def show(r: BatchItemResult) -> None:
        d = _result_dict(r, json_of.get(r.input))
        if args.json:
            line = json.dumps(d)
        elif "error" in d:
            line = f"{r.input}: error: {d['error']}"
        else:
            line = format_line(Path(r.input), d)
            if d.get("note"):
                line += f"  ({d['note']})"
            if d.get("resumed"):
                line += "  (skipped: already done for this input, settings and model)"
        tqdm.write(line, file=sys.stdout)

    with folder_lock(args.outdir) if args.outdir else contextlib.nullcontext():
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
            provenance_of=job_provenance if args.outdir else None,
        )
    if len(items) > 1 and not args.json:
        print(summary.text(NAME), file=sys.stderr)
    return summary.exit_code
