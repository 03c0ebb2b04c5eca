"""``ecgviewer render``: print signal files onto synthetic ECG paper, with ground truth beside.

For each INPUT writes ``OUTDIR/<stem>.png`` (or, with ``--format pdf``, a vector
``<stem>.pdf``: traces, grid, pulses and labels as paths and text), ``<stem>_truth.hea/.dat``
(the plotted signal, NaN where not plotted) and ``<stem>_truth.json`` (style, distortions,
calibration, boxes).
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from ecgviewer.batch.lock import folder_lock
from ecgviewer.commands.options import GAINS_MM_MV, PAPER_SPEEDS_MM_S, in_range, prepare_outdir
from ecgviewer.errors import EcgViewerError
from ecgviewer.io.signals import atomic_write_bytes, read_signal, write_wfdb
from ecgviewer.render import (
    GRID_PRESETS,
    LAYOUTS,
    RenderStyle,
    random_style,
    render_ecg,
    resolve_distortions,
)

NAME = "render"
HELP = "Render signal files (WFDB, CinC .mat, CSV) as ECG paper PNGs or vector PDFs, with truth."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="signal files (.hea, .mat, .csv)")
    parser.add_argument("-o", "--outdir", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--layout",
        choices=(*LAYOUTS, "auto"),
        default="auto",
        help="page layout (auto: 3x4+1 for 12-lead records, single otherwise)",
    )
    parser.add_argument(
        "--format",
        choices=("png", "pdf"),
        default="png",
        help="png: an image (default); pdf: a vector page, as ECG carts export it",
    )
    parser.add_argument("--dpi", type=in_range("render_dpi"), default=200.0)
    parser.add_argument("--speed", type=float, choices=PAPER_SPEEDS_MM_S, default=25.0, help="mm/s")
    parser.add_argument("--gain", type=float, choices=GAINS_MM_MV, default=10.0, help="mm/mV")
    parser.add_argument("--grid-colour", "--grid-color", choices=sorted(GRID_PRESETS), default="red")
    parser.add_argument(
        "--row-seconds",
        type=in_range("row_seconds"),
        default=10.0,
        help="single layout: s per row",
    )
    parser.add_argument("--lead", default=None, help="single layout: lead to print")
    parser.add_argument(
        "--distort",
        choices=("clean", "distorted", "random"),
        default="clean",
        help="degradation preset; 'random' also randomises the page style",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fs",
        type=in_range("input_fs_hz"),
        default=None,
        help="sampling rate for files that declare none",
    )


def _auto_layout(lead_names: tuple[str, ...]) -> str:
    from ecgviewer.paper import STANDARD_LEADS

    have = {n.lower() for n in lead_names}
    return "3x4+1" if all(n.lower() in have for n in STANDARD_LEADS) else "single"


def run(args: argparse.Namespace) -> int:
    prepare_outdir(args.outdir)
    failed = 0
    with folder_lock(args.outdir):
        for k, path in enumerate(args.inputs):
            try:
                _render_one(args, k, path)
            except EcgViewerError as exc:  # one unreadable input does not stop a batch
                print(f"ecgviewer: error: {exc}", file=sys.stderr)
                failed += 1
            except (OSError, ValueError, KeyError) as exc:  # e.g. --lead not in the record
                text = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                print(f"ecgviewer: error: {path}: {text}", file=sys.stderr)
                failed += 1
    if failed:
        print(f"{failed} of {len(args.inputs)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def _render_one(args: argparse.Namespace, k: int, path: str) -> None:
    """Render one input file and write the PNG (or PDF), truth record and sidecar."""
    record = read_signal(path, args.fs)
    seed = args.seed + k
    rng = np.random.default_rng(seed)
    layout = args.layout if args.layout != "auto" else _auto_layout(record.lead_names)
    style = RenderStyle(
        layout=layout,  # type: ignore[arg-type]
        dpi=args.dpi,
        paper_speed_mm_s=args.speed,
        gain_mm_mv=args.gain,
        grid=args.grid_colour,
        row_seconds=args.row_seconds,
        single_lead=args.lead,
    )
    if args.distort == "random":
        style, distortions = random_style(rng, layouts=(layout,))
        style = replace(style, single_lead=args.lead)
    else:
        distortions = resolve_distortions(args.distort, rng)
    stem = Path(path).stem
    if args.format == "pdf":  # vector paths, no pixels: distortions do not apply
        if args.distort == "distorted":
            raise EcgViewerError("--distort distorted applies to PNG pages; a PDF is drawn clean")
        from ecgviewer.render.pdf import render_pdf

        page = render_pdf(record, style)
        out, data, what = args.outdir / f"{stem}.pdf", page.pdf_bytes, "vector PDF"
    else:
        page = render_ecg(record, style, seed=seed, distortions=distortions)
        buf = io.BytesIO()
        Image.fromarray(page.image_rgb).save(buf, format="PNG", dpi=(style.dpi, style.dpi))
        out, data = args.outdir / f"{stem}.png", buf.getvalue()
        what = f"{style.dpi:g} dpi, {args.distort}"
    atomic_write_bytes(out, data)
    write_wfdb(replace(page.truth, name=f"{stem}_truth"), args.outdir / f"{stem}_truth")
    atomic_write_bytes(args.outdir / f"{stem}_truth.json", page.sidecar_json().encode())
    print(f"{out}  ({style.layout}, {what})")
