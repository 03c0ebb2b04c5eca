"""Vector PDF reading against the raster route, on our own PDFs and on real cart-style PDFs.

* ours: PTB-XL records 301.. printed by :func:`ecgviewer.render.pdf.render_pdf` as 3x4+1, 6x2
  and 12x1 pages, and CinC 2017 records (from the end of RECORDS) as single-lead strips;
  the truth is the signal as plotted.
* ecgtizer: the 54 PDFs of ``data/pdf`` (another program's drawing of PTB-XL records, 3x4+1,
  points at 125 Hz). Truth: the PTB-XL record where the page shows it. Measured on these
  files (fitting each column's points to the record): column k's first point is record time
  2.5k + 0.008 s and a column holds 312 points (2.496 s); lead II's strip holds 1249 points
  from 0.008 s. The points follow the record low-passed to 125 Hz, so a band-limited rebuild
  scores about 24-27 dB against the 500 Hz record: the ceiling.

Each page is read twice: from its drawing commands (:func:`ecgviewer.digitize.vector.
digitize_pdf`) and rasterised at ``--dpi`` then digitised as an image (the raster route).
Scores: :func:`ecgviewer.scoring.score_digitization` (Challenge-2024 SNR, 0.5 s / 1 mV
alignment), mean and median over (record, lead) pairs; seconds per page (reading or
rasterising included).

    nice python benchmarks/bench_vector_pdf.py --n 3
    nice python benchmarks/bench_vector_pdf.py --n 3 --no-raster
    nice python benchmarks/bench_vector_pdf.py --n 0 --n-pdf 10   # only the ECGtizer pages
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ecgviewer.digitize.pipeline import digitization_to_record, digitize
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.digitize.vector import digitize_pdf
from ecgviewer.io.images import load_image
from ecgviewer.io.signals import Record, read_wfdb
from ecgviewer.paper import LAYOUT_SPECS, canonical_lead_name
from ecgviewer.paths import data_dir
from ecgviewer.render import RenderStyle
from ecgviewer.render.pdf import render_pdf
from ecgviewer.scoring import score_digitization, summarize

ECGTIZER_START_S = 0.008  # first point of every column: record sample 4 at 500 Hz
ECGTIZER_COLUMN_S = 2.5
ECGTIZER_POINTS_S = 312 / 125.0  # what one column holds
TARGET_DB = 24.0
TARGET_RASTER_DB = 22.0  # the raster route on another program's clean pages (ECGtizer rows)


def ecgtizer_truth(record: Record) -> Record:
    """The PTB-XL record where a 3x4+1 ECGtizer page shows it (NaN elsewhere)."""
    fs = record.fs_hz
    names = [canonical_lead_name(n) for n in record.lead_names]
    out = np.full_like(record.signal_mv, np.nan)
    spec = LAYOUT_SPECS["3x4+1"]
    spans = {}
    for row in spec.grid_rows:
        for c, name in enumerate(row):
            spans[name] = (c * ECGTIZER_COLUMN_S + ECGTIZER_START_S, ECGTIZER_POINTS_S)
    spans["II"] = (ECGTIZER_START_S, 1249 / 125.0)
    for name, (t0, dur) in spans.items():
        j = names.index(name)
        i0, i1 = round(t0 * fs), round((t0 + dur) * fs)
        out[i0:i1, j] = record.signal_mv[i0:i1, j]
    return Record(out, fs, tuple(names), name=record.name)


def read_both(pdf: Path, truth: Record, settings: DigitizeSettings, args) -> dict:
    """Scores and seconds of the vector and the raster route on one PDF page."""
    out = {}
    t = time.perf_counter()
    dig = digitize_pdf(pdf, 0, settings)
    est = digitization_to_record(dig, fs_hz=truth.fs_hz) if dig is not None else None
    out["vector"] = (score_digitization(truth, est), time.perf_counter() - t)
    if not args.no_raster:
        t = time.perf_counter()
        loaded = load_image(pdf, pdf_dpi=args.dpi)
        try:  # the page as pixels: an array, so the vector route cannot step in
            dig = digitize(
                loaded.rgb,
                DigitizeSettings(
                    dpi=args.dpi,
                    paper_speed_mm_s=settings.paper_speed_mm_s,
                    gain_mm_mv=settings.gain_mm_mv,
                ),
            )
            est = digitization_to_record(dig, fs_hz=truth.fs_hz)
        except Exception:  # noqa: BLE001 - a failure scores as missing leads
            est = None
        out["raster"] = (score_digitization(truth, est), time.perf_counter() - t)
    return out


def our_cases(args, tmp: Path):
    """(label, pdf path, truth, settings) of our own rendered PDFs."""
    if args.n <= 0:  # --n 0: only the other program's PDFs
        return
    root = data_dir()
    ptb = [
        root / "ptbxl" / "records500" / "00000" / f"{i:05d}_hr.hea"
        for i in range(301, 301 + args.n)
    ]
    cinc_root = root / "cinc2017" / "training2017"
    cinc = [cinc_root / f"{n}.hea" for n in (cinc_root / "RECORDS").read_text().split()[-args.n :]]
    for layout in ("3x4+1", "6x2", "12x1", "single"):
        for path in cinc if layout == "single" else ptb:
            record = read_wfdb(path)
            gain = 5.0 if layout == "12x1" else 10.0
            style = RenderStyle(layout=layout, gain_mm_mv=gain)  # type: ignore[arg-type]
            page = render_pdf(record, style)
            pdf = tmp / f"{path.stem}_{layout.replace('+', 'p')}.pdf"
            pdf.write_bytes(page.pdf_bytes)
            yield f"ours {layout}", pdf, page.truth, DigitizeSettings(gain_mm_mv=gain)


def ecgtizer_cases(args):
    root = data_dir()
    pdfs = sorted((root / "pdf").glob("*_hr.pdf"))[: args.n_pdf or None]
    for pdf in pdfs:
        record = read_wfdb(root / "ptbxl" / "records500" / "00000" / f"{pdf.stem}.hea")
        yield "ecgtizer 3x4+1", pdf, ecgtizer_truth(record), DigitizeSettings()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3, help="our renders: records per layout (0: none)")
    ap.add_argument("--n-pdf", type=int, default=0, help="ECGtizer PDFs (0: all 54)")
    ap.add_argument("--dpi", type=float, default=200.0, help="raster route's resolution")
    ap.add_argument("--no-raster", action="store_true", help="skip the raster route")
    args = ap.parse_args()
    results: dict[str, dict[str, list]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [*our_cases(args, Path(tmp)), *ecgtizer_cases(args)]
        for label, pdf, truth, settings in cases:
            for route, (score, secs) in read_both(pdf, truth, settings, args).items():
                results.setdefault(label, {}).setdefault(route, []).append((score, secs))
    routes = ("vector", "raster") if not args.no_raster else ("vector",)
    head = f"{'pages':<16}{'n':>4}"
    for route in routes:
        head += f"  {route + ' SNR mean':>17}{'median':>8}{'s/page':>8}"
    print(head)
    for label, by_route in results.items():
        line = f"{label:<16}{len(by_route['vector']):>4}"
        for route in routes:
            scores, secs = zip(*by_route[route])
            s = summarize(scores)
            line += f"  {s.mean_snr_db:>14.2f} dB{s.median_snr_db:>8.2f}{np.mean(secs):>8.2f}"
        print(line)
    print(
        f"target: vector >= {TARGET_DB:g} dB mean on every row; raster >= "
        f"{TARGET_RASTER_DB:g} dB on the ECGtizer row"
    )


if __name__ == "__main__":
    main()
