"""Benchmark the image stage of digitisation on the real scans (no ground truth there).

Prints per scan: image size, metadata dpi and the px/mm it implies, detected grid px/mm in x and
y, grid confidence, the height in grid millimetres of the 1 mV pulse if one is found (an
independent check of the grid scale: 10 mm at the usual 10 mm/mV), estimated rotation, perspective correction, binarisation threshold and ink
fraction, and the timings (CPU time of this process, so other jobs on a shared machine do not
inflate them) of trace_darkness / binarize / measure_grid / rotation / perspective. With
``--save DIR`` it also writes each binarised page as PNG (to look at).

Usage: python benchmarks/bench_image_stage.py [--scans DIR] [--save /tmp/bin] [--only 1,26]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ecgviewer.digitize.binarize import binarize
from ecgviewer.digitize.calibration import find_calibration_pulse
from ecgviewer.digitize.geometry import correct_perspective, estimate_rotation_deg, rotate_image
from ecgviewer.digitize.grid import measure_grid
from ecgviewer.digitize.preprocess import trace_darkness
from ecgviewer.io.images import load_image
from ecgviewer.paths import data_dir


def _timed(fn, *args, **kwargs):
    """(result, CPU seconds of this process): robust to other jobs on a shared machine."""
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t0


def _best_of(n, fn, *args):
    return min(_timed(fn, *args)[1] for _ in range(n))


def _metadata_dpi(scans: Path) -> dict[str, float]:
    meta = scans / "ecg-samples-metadata.csv"
    if not meta.exists():
        return {}
    with open(meta, newline="") as fh:
        return {row["fname"]: float(row["dpi"]) for row in csv.DictReader(fh, delimiter="\t")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    base = data_dir()
    ap.add_argument("--scans", type=Path, default=(base / "scans") if base else None)
    ap.add_argument("--save", type=Path, default=None, help="folder for binarised PNGs")
    ap.add_argument("--only", default="", help="comma-separated scan numbers, e.g. 1,26,38")
    args = ap.parse_args()
    if args.scans is None or not args.scans.is_dir():
        ap.error("scans folder not found; pass --scans")
    dpis = _metadata_dpi(args.scans)
    files = sorted(p for p in args.scans.glob("ecg0*") if p.suffix.lower() != ".csv")
    if args.only:
        wanted = {int(s) for s in args.only.split(",")}
        files = [p for p in files if int(p.stem[3:]) in wanted]
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    print(
        f"{'file':14s} {'W×H':>10s} {'dpi':>4s} {'dpi/mm':>6s} {'gx/mm':>6s} {'gy/mm':>6s} "
        f"{'conf':>5s} {'pulse':>5s} {'rot°':>6s} {'persp':>5s} {'thr':>5s} {'ink%':>5s} "
        f"{'dark ms':>7s} {'bin ms':>6s} {'grid ms':>7s} {'rot ms':>6s} {'persp ms':>8s}"
    )
    totals = np.zeros(5)
    for path in files:
        rgb = load_image(path).rgb
        (warped, did_persp), t_p = _timed(correct_perspective, rgb)
        angle, t_r = _timed(estimate_rotation_deg, warped)
        page = rotate_image(warped, angle) if abs(angle) > 0.05 else warped
        grid, t_g = _timed(measure_grid, page)
        dark, t_d = _timed(trace_darkness, page)
        res, t_b = _timed(binarize, dark)
        pulse = find_calibration_pulse(res.binary, grid.px_per_mm_y) if grid.found else None
        pulse_mm = pulse.height_mm if pulse else float("nan")
        dpi = dpis.get(path.name, float("nan"))
        h, w = rgb.shape[:2]
        print(
            f"{path.name:14s} {w:>5d}×{h:<4d} {dpi:4.0f} {dpi / 25.4:6.2f} "
            f"{grid.px_per_mm_x:6.2f} {grid.px_per_mm_y:6.2f} {grid.confidence:5.2f} {pulse_mm:5.1f} "
            f"{angle:6.2f} {str(did_persp)[0]:>5s} {res.threshold:5.2f} "
            f"{100 * res.binary.mean():5.1f} {1e3 * t_d:7.0f} {1e3 * t_b:6.0f} "
            f"{1e3 * t_g:7.0f} {1e3 * t_r:6.0f} {1e3 * t_p:8.0f}"
            + ("" if grid.found else "  NO GRID " + grid.notes)
        )
        totals += (t_d, t_b, t_g, t_r, t_p)
        if args.save:
            Image.fromarray(~res.binary).save(args.save / f"{path.stem}_bin.png")
            Image.fromarray((255 * (1 - dark)).astype(np.uint8)).save(
                args.save / f"{path.stem}_dark.png"
            )
    n = max(1, len(files))
    print(
        "mean ms: trace_darkness {:.0f}, binarize {:.0f}, measure_grid {:.0f}, rotation {:.0f}, "
        "perspective {:.0f}".format(*tuple(1e3 * totals / n))
    )
    # timing on a 200 dpi A4 page (2339×1654) built by tiling a real scan
    if files:
        page = np.asarray(Image.fromarray(load_image(files[0]).rgb).resize((2339, 1654)))
        dark = trace_darkness(page)
        crop = dark[400:1200, 200:2000]
        t = [
            _best_of(3, fn, *a)
            for fn, a in (
                (trace_darkness, (page,)),
                (binarize, (dark,)),
                (binarize, (crop,)),
                (binarize, (crop, "manual", 0.4)),
                (measure_grid, (page,)),
                (estimate_rotation_deg, (page,)),
                (correct_perspective, (page,)),
            )
        ]
        print(
            "200 dpi A4 page (2339×1654), best of 3, CPU ms: trace_darkness {:.0f}, binarize "
            "auto {:.0f} (1800×800 crop: auto {:.0f}, manual {:.1f}), measure_grid {:.0f}, rotation "
            "{:.0f}, perspective {:.0f}".format(*tuple(1e3 * np.array(t)))
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
