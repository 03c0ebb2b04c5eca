"""Photo rectification (ecgviewer.digitize.dewarp): synthetic truth, real photos, speed.

    nice python benchmarks/bench_dewarp.py                  # everything
    nice python benchmarks/bench_dewarp.py --save docs/dewarp --save-ids 26 31 47

1. Synthetic truth: PTB-XL pages rendered clean, warped by a known perspective + paper curl
   (tests/photowarp.py), rectified; position error (mm) of the rectified page against the
   known mapping, in the traced area and over the whole page.
2. The real phone photos ecg00026-50 (no truth): grid straightness before / after
   (:func:`ecgviewer.digitize.straightness.grid_straightness`: bow of the lines, spread of their
   directions, spread of the local pitch), px/mm, seconds.
3. Speed on an 8 MP photo (one photo upscaled to 3389x2252): wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from photowarp import photo_warp, position_error_mm, traced_region_px  # noqa: E402

from ecgviewer.digitize.dewarp import rectify_page  # noqa: E402
from ecgviewer.digitize.straightness import grid_straightness  # noqa: E402
from ecgviewer.io.images import load_image  # noqa: E402
from ecgviewer.io.signals import read_wfdb  # noqa: E402
from ecgviewer.paths import data_dir  # noqa: E402
from ecgviewer.render import RenderStyle, render_ecg  # noqa: E402

SYNTHETIC = ((1, 100, "red", 0), (2, 150, "pink", 1), (3, 120, "grey", 2), (4, 200, "orange", 3))


def synthetic(root: Path) -> None:
    print("Synthetic truth (perspective up to 6 % of the page, 3 mm curl, 1.5 mm wave)")
    print(f"{'record':>7} {'dpi':>4} {'grid':>6} {'method':>6} {'med mm':>7} {'p95 mm':>7} "
          f"{'max mm':>7} {'page p95':>8} {'bow before':>10} {'bow after':>9} {'s':>5}")
    for rec_id, dpi, grid, seed in SYNTHETIC:
        record = read_wfdb(root / "ptbxl" / "records500" / "00000" / f"{rec_id:05d}_hr")
        page = render_ecg(record, RenderStyle(dpi=dpi, grid=grid))
        photo, warp = photo_warp(page.image_rgb, dpi / 25.4, seed=seed)
        t = time.perf_counter()
        result = rectify_page(photo)
        dt = time.perf_counter() - t
        err = position_error_mm(result, warp, traced_region_px(page))
        whole = position_error_mm(result, warp)
        before = grid_straightness(photo)
        after = grid_straightness(result.image_rgb, mask=result.valid_mask)
        print(f"{rec_id:>7} {dpi:>4} {grid:>6} {result.method:>6} {np.median(err):7.3f} "
              f"{np.percentile(err, 95):7.3f} {err.max():7.3f} {np.percentile(whole, 95):8.3f} "
              f"{before.bow_mm:10.2f} {after.bow_mm:9.2f} {dt:5.2f}")


def _thumb(img: np.ndarray, side: int = 720) -> Image.Image:
    im = Image.fromarray(img)
    im.thumbnail((side, side))
    return im


def save_pair(before: np.ndarray, after: np.ndarray, path: Path) -> None:
    """Before above after, 720 px wide, 32-colour PNG (under 400 KB)."""
    a, b = _thumb(before), _thumb(after)
    out = Image.new("RGB", (max(a.width, b.width), a.height + b.height + 8), "black")
    out.paste(a, (0, 0))
    out.paste(b, (0, a.height + 8))
    out.quantize(colors=32).save(path, optimize=True)


def photos(root: Path, save: Path | None, save_ids: set[int]) -> None:
    print("\nReal phone photos: straightness before -> after (bow mm, tilt spread deg, "
          "pitch spread %)")
    print(f"{'photo':>9} {'method':>6} {'px/mm':>6} {'evid':>5} {'bow':>12} {'tilt spr':>12} "
          f"{'pitch spr':>12} {'s':>5}")
    rows = []
    for i in range(26, 51):
        img = load_image(root / "scans" / f"ecg{i:05d}.jpg").rgb
        t = time.perf_counter()
        result = rectify_page(img)
        dt = time.perf_counter() - t
        b = grid_straightness(img)
        a = grid_straightness(result.image_rgb, mask=result.valid_mask) if result.changed else b
        rows.append((b, a))
        print(f"ecg{i:05d} {result.method:>6} {result.px_per_mm or 0:6.2f} "
              f"{result.evidence_fraction:5.2f} {b.bow_mm:5.2f}->{a.bow_mm:5.2f} "
              f"{b.tilt_spread_deg:5.2f}->{a.tilt_spread_deg:5.2f} "
              f"{100 * b.pitch_spread:5.1f}->{100 * a.pitch_spread:4.1f} {dt:5.2f}")
        if save is not None and i in save_ids:
            save_pair(img, result.image_rgb, save / f"ecg{i:05d}_before_after.png")
    for name, k in (("bow mm", "bow_mm"), ("tilt spread deg", "tilt_spread_deg"),
                    ("pitch spread", "pitch_spread")):
        bef = np.array([getattr(b, k) for b, _ in rows])
        aft = np.array([getattr(a, k) for _, a in rows])
        print(f"median {name}: {np.median(bef):.3f} -> {np.median(aft):.3f}; "
              f"worst {bef.max():.3f} -> {aft.max():.3f}")


def speed(root: Path) -> None:
    img = load_image(root / "scans" / "ecg00047.jpg").rgb
    big = np.asarray(Image.fromarray(img).resize((3389, 2252), Image.Resampling.BICUBIC))
    rectify_page(big)  # warm caches and imports
    walls, cpus = [], []
    for _ in range(3):
        w, c = time.perf_counter(), time.process_time()
        rectify_page(big)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    print(f"\n8 MP photo (3389x2252): wall {min(walls):.2f} s (best of 3), "
          f"CPU {min(cpus):.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path, help="folder for before/after PNGs")
    ap.add_argument("--save-ids", type=int, nargs="*", default=[26, 31, 47])
    ap.add_argument("--skip", nargs="*", default=[], choices=["synthetic", "photos", "speed"])
    args = ap.parse_args()
    root = data_dir()
    if root is None:
        sys.exit("real data folder not found (set ECGVIEWER_DATA)")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    if "synthetic" not in args.skip:
        synthetic(root)
    if "photos" not in args.skip:
        photos(root, args.save, set(args.save_ids))
    if "speed" not in args.skip:
        speed(root)


if __name__ == "__main__":
    main()
