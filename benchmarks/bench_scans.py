"""Digitise every real scan/photo (no ground truth) and report what happened.

Prints one line per image (status, error reason, layout, leads, rhythm-lead duration, seconds)
and a summary; writes overlay PNGs (traced paths on the page, lead boxes) to ``--out``.

    python benchmarks/bench_scans.py [--scans DIR] [--out DIR] [--only ecg00003 ...] [--method auto]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ecgviewer.digitize import DigitizeSettings, digitize
from ecgviewer.digitize.types import Digitization
from ecgviewer.errors import EcgViewerError
from ecgviewer.paths import data_dir

_COLOURS = [(0, 160, 255), (0, 200, 0), (255, 0, 200), (255, 140, 0)]


def draw_overlay(dig: Digitization, max_width_px: int = 1600) -> Image.Image:
    """The page with every lead's traced path and the lead boxes drawn on it."""
    img = Image.fromarray(dig.image_rgb).convert("RGB")
    draw = ImageDraw.Draw(img)
    cx, cy = dig.crop.x0, dig.crop.y0
    for box in dig.layout.boxes:
        draw.rectangle(
            [box.x0 + cx, box.y0 + cy, box.x1 + cx, box.y1 + cy], outline=(120, 120, 255)
        )
        y = box.baseline_y + cy
        draw.line([(box.x0 + cx, y), (box.x1 + cx, y)], fill=(0, 200, 255))
        draw.text((box.x0 + cx + 3, box.y0 + cy + 3), box.name, fill=(0, 0, 255))
    for k, lead in enumerate(dig.leads):
        xs, ys = lead.trace_x_px, lead.trace_y_px
        # a single-lead strip joins its rows: draw each row (x increasing) on its own
        for part in np.split(np.arange(xs.size), np.flatnonzero(np.diff(xs) < 0) + 1):
            if part.size > 1:
                pts = list(zip(xs[part].tolist(), ys[part].tolist()))
                draw.line(pts, fill=_COLOURS[k % len(_COLOURS)], width=2)
    if img.width > max_width_px:
        img = img.resize((max_width_px, int(img.height * max_width_px / img.width)))
    return img


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scans", type=Path, default=None, help="folder of scans (default: data/scans)"
    )
    ap.add_argument("--out", type=Path, default=Path("/tmp/ecg_scan_overlays"))
    ap.add_argument("--only", nargs="*", default=None, help="file stems to run")
    ap.add_argument("--method", default="auto", help="binarisation method")
    args = ap.parse_args(argv)
    scans = args.scans or ((data_dir() or Path(".")) / "scans")
    files = sorted(
        p for p in scans.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"}
    )
    if args.only:
        files = [p for p in files if p.stem in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    settings = DigitizeSettings(binarize_method=args.method)
    rows = []
    print(
        f"{'file':14s} {'status':6s} {'layout':7s} {'leads':>5s} {'rhythm':>12s} {'q':>5s} {'px/mm':>6s} {'sec':>6s}  note"
    )
    for path in files:
        t = time.perf_counter()
        try:
            dig = digitize(path, settings)
        except Exception as exc:  # noqa: BLE001 - a crash is a result to report, not to hide
            dt = time.perf_counter() - t
            status = "error" if isinstance(exc, EcgViewerError) else "CRASH"
            rows.append((path.name, status, None, 0, 0.0, dt))
            msg = str(exc) if status == "error" else f"{type(exc).__name__}: {exc}"
            print(
                f"{path.name:14s} {status:6s} {'-':7s} {0:5d} {'-':>12s} {'-':>5s} {'-':>6s} {dt:6.2f}  {msg}"
            )
            continue
        dt = time.perf_counter() - t
        rl = dig.rhythm_lead
        rhythm = f"{rl.name}:{rl.duration_s:.1f}s" if rl is not None else "-"
        status = "review" if dig.review_reasons else "ok"  # the self-checks' verdict
        note = "; ".join(
            [*(f"REVIEW: {r}" for r in dig.review_reasons), *(w[:60] for w in dig.warnings)]
        )
        print(
            f"{path.name:14s} {status:6s} {dig.layout.name:7s} {len(dig.leads):5d} {rhythm:>12s} "
            f"{dig.quality:5.2f} {dig.calibration.px_per_mm_x:6.2f} {dt:6.2f}  {note}"
        )
        rows.append(
            (path.name, status, dig.layout.name, len(dig.leads), rl.duration_s if rl else 0.0, dt)
        )
        draw_overlay(dig).save(args.out / f"{path.stem}_overlay.png")
    ok = [r for r in rows if r[1] in ("ok", "review")]
    layouts: dict[str, int] = {}
    for r in ok:
        layouts[r[2]] = layouts.get(r[2], 0) + 1
    secs = np.array([r[5] for r in rows]) if rows else np.zeros(1)
    print(
        f"\n{len(ok)}/{len(rows)} digitised ({sum(r[1] == 'review' for r in rows)} need review), "
        f"{sum(r[1] == 'CRASH' for r in rows)} crashed; layouts {layouts}; "
        f"12+ leads on {sum(r[3] >= 12 for r in ok)}; "
        f"seconds median {np.median(secs):.2f} max {secs.max():.2f}; overlays in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
