"""``ecgviewer digitize``: paper ECG images → calibrated signals, one file or a whole archive.

For each input page writes ``OUTDIR/<stem>.hea/.dat`` (WFDB, mV; or ``.csv`` / ``.edf`` /
``.dcm``), an optional ``<stem>.png`` overlay and ``<stem>.json`` (what was found; written
last, so its presence marks a finished item for ``--resume``). Bad files are reported one line each and do
not stop the batch; the exit code is 0 when every input worked, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

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
from ecgviewer.digitize.types import CropBox, DigitizeSettings
from ecgviewer.errors import EcgViewerError
from ecgviewer.io.images import IMAGE_EXTENSIONS

NAME = "digitize"
HELP = "Digitise ECG images/PDFs (files, folders, globs) into WFDB, CSV, EDF or DICOM signals."


@dataclass(frozen=True)
class DigitizeJob:
    """Everything a worker needs for one page besides the page itself (picklable)."""

    settings: DigitizeSettings
    format: str = "wfdb"
    overlay: bool = False
    pdf_dpi: float | None = None  # None: a scanned page's own dpi, else 200


def output_paths(item: BatchItem, job: DigitizeJob) -> list[Path]:
    """The files one item produces, the summary JSON last."""
    from ecgviewer.export import signal_paths

    paths = list(signal_paths(item.out_base, job.format))
    if job.overlay:
        paths.append(item.out_base.parent / (item.out_base.name + ".png"))
    return [*paths, item.summary_path]


def job_provenance(item: BatchItem, job: DigitizeJob) -> dict:
    """What makes this item's outputs: the input file, page, every option, the version."""
    from ecgviewer.batch.provenance import make_provenance

    settings = json.loads(json.dumps(dataclasses.asdict(job), default=str))
    return make_provenance(item.path, item.page, settings)


def digitize_file(item: BatchItem, job: DigitizeJob) -> BatchItemResult:
    """The batch task: load one page, digitise it, write signal (+ overlay), then the JSON."""
    from ecgviewer.batch.plan import write_claim
    from ecgviewer.digitize import pipeline
    from ecgviewer.export import (
        check_writable,
        export_signal,
        write_overlay_png,
        write_summary_json,
    )
    from ecgviewer.io.images import load_image

    provenance = job_provenance(item, job)  # of the bytes about to be read
    loaded = load_image(item.path, page=item.page, pdf_dpi=job.pdf_dpi)
    dig = pipeline.digitize(loaded, job.settings)
    paths = output_paths(item, job)
    check_writable(paths, item.overwrite)
    # an old summary must not vouch for new files; the claim marks them as ours meanwhile
    write_claim(item, [p.name for p in paths[:-1]], provenance)
    record = pipeline.digitization_to_record(
        dig, fs_hz=job.settings.output_fs_hz, name=item.out_base.name
    )
    export_signal(record, item.out_base, job.format, overwrite=True)
    if job.overlay:
        write_overlay_png(dig, paths[-2], overwrite=True)
    extra = {
        "input": str(item.path),
        "page": item.page + 1,
        "n_pages": loaded.n_pages,
        "format": job.format,
        "record": {
            "fs_hz": record.fs_hz,
            "lead_names": list(record.lead_names),
            "duration_s": record.duration_s,
        },
        "outputs": [p.name for p in paths[:-1]],
        "provenance": provenance,
    }
    write_summary_json(dig, item.summary_path, extra, settings=job.settings, overwrite=True)
    review = [f"needs review: {'; '.join(dig.review_reasons)}"] if dig.review_reasons else []
    pages = [] if loaded.n_pages <= 1 else [
        f"page {item.page + 1} of {loaded.n_pages} (--page N or --page all for the others)"
    ]
    return BatchItemResult(
        "review" if review else "ok",
        reason="; ".join([*review, *pages, *dig.warnings]),
        layout=dig.layout.name,
        quality=float(dig.quality),
        outputs=tuple(str(p) for p in paths),
        detail=describe_leads(dig),
    )


def describe_leads(dig) -> str:
    """One line naming the leads found and the rhythm lead, e.g. for the console."""
    from ecgviewer.paper import STANDARD_LEADS

    order = {name: i for i, name in enumerate(STANDARD_LEADS)}
    names = sorted(dict.fromkeys(ld.name for ld in dig.leads), key=lambda n: order.get(n, 99))
    text = f"{len(names)} lead{'s' if len(names) != 1 else ''} ({' '.join(names)})"
    rhythm = dig.rhythm_lead
    if rhythm is not None:
        text += f", rhythm lead {rhythm.name} {rhythm.duration_s:.1f} s at {rhythm.fs_hz:g} Hz"
    return text


# --------------------------------------------------------------------------- CLI


def _ok_line(r: BatchItemResult, name) -> str:
    line = f"{name}: {r.layout}, {r.detail}, quality {r.quality:.2f}"
    return line + (f" ({r.reason})" if r.reason else "")


def _echo_ok(r: BatchItemResult) -> None:
    """Batch mode: one line per digitised page, printed above the progress bar."""
    if r.status in ("ok", "review"):
        from tqdm import tqdm

        tqdm.write(_ok_line(r, r.input))


def _crop(text: str) -> CropBox:
    try:
        x0, y0, x1, y1 = (int(round(float(v))) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected x0,y0,x1,y1 in pixels") from None
    if x1 <= x0 or y1 <= y0:
        raise argparse.ArgumentTypeError("crop needs x1 > x0 and y1 > y0")
    return CropBox(x0, y0, x1, y1)


def _page(text: str) -> int | None:
    if text == "all":
        return None
    try:
        page = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a page number (1, 2, ...) or 'all'") from None
    if page < 1:
        raise argparse.ArgumentTypeError("pages count from 1")
    return page - 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="IMAGE",
        help="image/PDF files, folders (searched recursively) or glob patterns",
    )
    parser.add_argument("-o", "--outdir", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--format",
        choices=("wfdb", "csv", "edf", "dicom"),
        default="wfdb",
        help="signal file format (default: wfdb, physical units mV; dicom: DICOM ECG waveform)",
    )
    parser.add_argument(
        "--overlay",
        action="store_true",
        help="also write <stem>.png: the traces drawn over the page",
    )
    g = parser.add_argument_group("page")
    g.add_argument(
        "--page",
        type=_page,
        default=0,
        metavar="N",
        help="page of PDFs/multi-page TIFFs, from 1, or 'all' (default: 1)",
    )
    g.add_argument(
        "--pdf-dpi",
        type=in_range("pdf_dpi"),
        default=None,
        metavar="D",
        help="resolution PDF pages are rendered at (default: a scanned page's own, else 200); "
        "pages that draw their traces as vector paths are read from the paths",
    )
    g.add_argument(
        "--rotation",
        type=in_range("rotation_deg"),
        default=None,
        metavar="DEG",
        help="rotate by DEG instead of estimating it from the grid",
    )
    g.add_argument(
        "--crop",
        type=_crop,
        default=None,
        metavar="x0,y0,x1,y1",
        help="only digitise this pixel box of the (rotated) page",
    )
    g = add_paper_arguments(parser)
    g.add_argument(
        "--fs",
        type=in_range("output_fs_hz"),
        default=500.0,
        metavar="HZ",
        help="output sampling rate (default: 500)",
    )
    add_batch_arguments(parser)


def job_from_args(args: argparse.Namespace) -> DigitizeJob:
    settings = paper_settings(
        args, crop=args.crop, rotation_deg=args.rotation, output_fs_hz=args.fs
    )
    return DigitizeJob(
        settings=settings, format=args.format, overlay=args.overlay, pdf_dpi=args.pdf_dpi
    )


def _pages_of(page: int | None):
    """Which pages of a file to digitise: one fixed page, or all (``None``)."""
    if page is not None:
        return lambda path: [page]

    def all_pages(path: Path) -> list[int]:
        from ecgviewer.io.images import count_pages

        try:
            return list(range(count_pages(path)))
        except (EcgViewerError, OSError):
            return [0]  # the task reports why the file is unreadable

    return all_pages


def run(args: argparse.Namespace) -> int:
    job = job_from_args(args)
    if args.workers < 1:
        raise EcgViewerError("--workers must be at least 1")
    check_report_path(args.report)
    inputs = collect_inputs(args.inputs, IMAGE_EXTENSIONS, exclude=[args.outdir])
    if not inputs:
        raise EcgViewerError(f"no images found in {' '.join(map(str, args.inputs))}")
    items = plan_items(inputs, args.outdir, pages_of=_pages_of(args.page))
    prepare_outdir(args.outdir)
    single = len(items) == 1
    with folder_lock(args.outdir):  # one batch at a time writes this folder
        summary = run_batch(
            items,
            digitize_file,
            job,
            workers=args.workers,
            resume=args.resume and not args.overwrite,  # --overwrite means "redo"
            overwrite=args.overwrite,
            report_path=args.report,
            scheduler=args.scheduler,
            progress=args.progress and not single,
            timeout_s=args.timeout,
            expected_outputs=output_paths,
            echo_failures=not single,
            on_result=None if single else _echo_ok,
            provenance_of=job_provenance,
        )
    if single:  # one file: say what happened in one line, like any other command
        r = summary.results[0]
        if r.status in ("error", "timeout"):
            print(f"ecgviewer: {r.input}: {r.status}: {r.reason}", file=sys.stderr)
        elif r.status == "skipped":
            print(
                f"{items[0].summary_path}: already complete for this input and these settings "
                "(use --overwrite to redo)"
            )
        else:
            print(_ok_line(r, items[0].out_base))
    else:
        print(summary.text(NAME))
    return summary.exit_code
