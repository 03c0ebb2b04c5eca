"""Digitisation accuracy on rendered real records (ground truth known exactly).

Renders real records that the tests do not use -- CinC 2017 records from the END of the
RECORDS list (single-lead strips) and PTB-XL records 301-400 (12-lead pages) -- clean and
distorted, digitises each page with the project's pipeline and scores it with
:func:`ecgviewer.scoring.score_digitization` (Challenge-2024 SNR with 0.5 s / 1 mV alignment).

    nice python benchmarks/bench_digitize_accuracy.py --n 5
    nice python benchmarks/bench_digitize_accuracy.py --n 20 --datasets ptbxl --layout 3x4+1 \
        --save /tmp/bench_fail --save-below 10

Prints, per dataset × condition: n, median/mean SNR, r, RMSE, failures, and diagnostics that
say *what* goes wrong (layout, scale, amplitude, coverage, time shift), then the worst leads.
``ceil`` is the SNR an ideal pixel-column tracer would reach on the same page (resolution
limit; see :func:`pixel_ceiling`).
Targets: clean >= 20 dB mean SNR, distorted >= 12 dB.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgviewer.io.signals import Record, read_wfdb, write_wfdb
from ecgviewer.paths import data_dir
from ecgviewer.render import DISTORTION_PRESETS, RenderStyle, random_style, render_ecg
from ecgviewer.scoring import DigitizationScore, resample_to, score_digitization, summarize

TARGETS_DB = {"clean": 20.0, "distorted": 12.0}


def cinc_records(root: Path, n: int) -> list[Path]:
    names = (root / "RECORDS").read_text().split()
    return [root / f"{name}.hea" for name in names[-n:]] if n > 0 else []


def ptbxl_records(root: Path, n: int) -> list[Path]:
    return [root / "records500" / "00000" / f"{i:05d}_hr.hea" for i in range(301, 301 + n)]


def _gain_ratio(ref: Record, est: Record, score: DigitizationScore) -> float:
    """Median over leads of std(estimate)/std(reference) on the aligned overlap (1 = right
    amplitude; 0.5 / 2 = a gain error such as 5 vs 10 mm/mV)."""
    ratios = []
    est_names = {n.lower(): i for i, n in enumerate(est.lead_names)}
    for j, name in enumerate(ref.lead_names):
        try:
            s = score.lead(name)
        except KeyError:
            continue
        if s.missing:
            continue
        col = est_names.get(name.lower(), 0 if est.signal_mv.shape[1] == 1 else None)
        if col is None:
            continue
        n = ref.signal_mv.shape[0]
        e = resample_to(est.signal_mv[:, col], est.fs_hz, ref.fs_hz, n)
        k = round(s.shift_s * ref.fs_hz)
        e = np.roll(e, k)
        if k > 0:
            e[:k] = np.nan
        elif k < 0:
            e[k:] = np.nan
        r = ref.signal_mv[:, j]
        ok = np.isfinite(r) & np.isfinite(e)
        if ok.sum() > 10 and np.std(r[ok]) > 0:
            ratios.append(np.std(e[ok]) / np.std(r[ok]))
    return float(np.median(ratios)) if ratios else float("nan")


def page_style(dataset: str, layout: str, condition: str, args, seed: int):
    """The (style, distortions) of one benchmark page; "random" draws both from
    :func:`random_style` (the layout stays the dataset's)."""
    if condition == "random":
        rng = np.random.default_rng(seed)
        return random_style(rng, layouts=(layout,))
    gain = 5.0 if layout == "12x1" else 10.0  # 12 rows at 10 mm/mV would overlap badly
    style = RenderStyle(layout=layout, dpi=args.dpi, row_seconds=10.0,  # type: ignore[arg-type]
                        gain_mm_mv=gain,
                        header_lines=("ECG Viewer benchmark", f"25 mm/s  {gain:g} mm/mV"))
    return style, DISTORTION_PRESETS[condition]


def pixel_ceiling(truth: Record, px_per_s: float, px_per_mv: float) -> Record:
    """What an ideal column-wise tracer could recover: per pixel column the centre of the ink
    (midpoint of the samples' min and max), rounded to whole pixel rows, interpolated back to
    the record's samples. Its SNR is the page's resolution limit (about 25 dB for PTB-XL at
    200 dpi, 17 dB at 100 dpi)."""
    fs = truth.fs_hz
    n = truth.signal_mv.shape[0]
    t = np.arange(n) / fs
    out = np.full_like(truth.signal_mv, np.nan)
    for j in range(truth.signal_mv.shape[1]):
        v = truth.signal_mv[:, j]
        ok = np.isfinite(v)
        if ok.sum() < 2:
            continue
        col = np.floor(t[ok] * px_per_s + 0.5).astype(int)
        col -= col.min()
        lo = np.full(col.max() + 1, np.inf)
        hi = np.full(col.max() + 1, -np.inf)
        np.minimum.at(lo, col, v[ok])
        np.maximum.at(hi, col, v[ok])
        has = np.isfinite(lo)
        centre = np.round((lo[has] + hi[has]) / 2 * px_per_mv) / px_per_mv
        t_col = (np.flatnonzero(has) + np.floor(t[ok][0] * px_per_s + 0.5)) / px_per_s
        out[ok, j] = np.interp(t[ok], t_col, centre)
    return Record(out, fs, truth.lead_names, name=truth.name)


def run_case(path: Path, dataset: str, layout: str, condition: str, args, digitize, to_record,
             settings_cls):
    record = read_wfdb(path)
    seed = args.seed + int("".join(ch for ch in path.stem if ch.isdigit()) or 0)
    style, distortions = page_style(dataset, layout, condition, args, seed)
    t_render = time.perf_counter()
    page = render_ecg(record, style, seed=seed, distortions=distortions)
    t_render = time.perf_counter() - t_render
    # what a user knows and types in: paper speed, gain, and the scanner's dpi
    settings = settings_cls(
        dpi=None if args.no_dpi else style.dpi,
        paper_speed_mm_s=style.paper_speed_mm_s,
        gain_mm_mv=style.gain_mm_mv,
        layout=style.layout if args.tell_layout else "auto",
    )
    t0 = time.perf_counter()
    error = None
    dig = est = None
    try:
        dig = digitize(page.image_rgb, settings)
        est = to_record(dig, fs_hz=record.fs_hz, name=path.stem)
    except Exception as exc:  # noqa: BLE001 - a benchmark records every failure and goes on
        error = f"{type(exc).__name__}: {str(exc)[:90]}"
        if args.verbose > 1:
            traceback.print_exc()
    elapsed = time.perf_counter() - t0
    score = score_digitization(page.truth, est)
    ceiling = score_digitization(
        page.truth,
        pixel_ceiling(page.truth, page.calibration.px_per_s, page.calibration.px_per_mv),
    )
    diag = {
        "render_s": t_render,
        "ceiling_db": ceiling.mean_snr_db,
        "time_s": elapsed,
        "error": error,
        "layout_ok": (dig is not None and dig.layout.name == layout),
        "layout_found": dig.layout.name if dig is not None else None,
        "scale_err_pct": (
            100.0 * (dig.calibration.px_per_mm_x / page.calibration.px_per_mm_x - 1.0)
            if dig is not None else float("nan")
        ),
        "rotation_err_deg": (
            min(abs(dig.rotation_deg - page.distortions.rotation_deg),
                abs(dig.rotation_deg + page.distortions.rotation_deg))
            if dig is not None else float("nan")
        ),
        "gain_ratio": _gain_ratio(page.truth, est, score) if est is not None else float("nan"),
        "coverage": float(np.mean([s.coverage for s in score.leads])) if score.leads else 0.0,
        "abs_shift_s": float(np.nanmean([abs(s.shift_s) for s in score.leads if not s.missing]))
        if any(not s.missing for s in score.leads) else float("nan"),
        "n_leads_found": 0 if dig is None else len({ld.name for ld in dig.leads}),
        "warnings": () if dig is None else dig.warnings,
    }
    diag["style"] = (f"{style.layout} {style.dpi:g}dpi {style.paper_speed_mm_s:g}mm/s "
                     f"{style.gain_mm_mv:g}mm/mV grid={style.grid}")
    if args.save and (error or score.mean_snr_db < args.save_below):
        from PIL import Image

        out = Path(args.save)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{dataset}_{layout}_{condition}_{path.stem}"
        Image.fromarray(page.image_rgb).save(out / f"{stem}.png")
        write_wfdb(replace(page.truth, name=f"{stem}_truth"), out / f"{stem}_truth")
        if est is not None:
            write_wfdb(replace(est, name=stem), out / stem)
    return score, diag


def _median_of(diags: list[dict], key: str) -> float:
    vals = np.asarray([d[key] for d in diags], dtype=float)
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if vals.size else float("nan")


def _fmt(x, spec=".1f"):
    return format(x, spec) if x is not None and np.isfinite(x) else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5, help="records per dataset")
    parser.add_argument("--datasets", default="cinc,ptbxl")
    parser.add_argument("--conditions", default="clean,distorted",
                        help="comma list of clean, distorted, random (random page styles)")
    parser.add_argument("--layout", default="3x4+1",
                        help="12-lead page layout(s) for PTB-XL, comma list (3x4+1,6x2,12x1)")
    parser.add_argument("--dpi", type=float, default=200.0)
    parser.add_argument("--no-dpi", action="store_true", help="do not tell the digitiser the dpi")
    parser.add_argument("--tell-layout", action="store_true",
                        help="give the digitiser the true layout (isolates tracing from "
                        "layout detection)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--save", default=None, help="folder for pages that fail or score low")
    parser.add_argument("--save-below", type=float, default=10.0)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)

    try:
        from ecgviewer.digitize import DigitizeSettings, digitization_to_record, digitize
    except ImportError as exc:
        print(f"digitisation pipeline not available yet: {exc}", file=sys.stderr)
        return 1
    root = args.data or data_dir()
    if root is None:
        print("data folder not found (set ECGVIEWER_DATA)", file=sys.stderr)
        return 1
    sources = {
        "cinc": cinc_records(root / "cinc2017" / "training2017", args.n),
        "ptbxl": ptbxl_records(root / "ptbxl", args.n),
    }
    results: dict[tuple[str, str], list] = defaultdict(list)
    for dataset in args.datasets.split(","):
        layouts = ["single"] if dataset == "cinc" else args.layout.split(",")
        for layout in layouts:
            for condition in args.conditions.split(","):
                for path in sources[dataset]:
                    score, diag = run_case(path, dataset, layout, condition, args, digitize,
                                           digitization_to_record, DigitizeSettings)
                    results[(f"{dataset}:{layout}", condition)].append((path.stem, score, diag))
                    if args.verbose:
                        print(f"  {dataset:6s} {layout:6s} {condition:9s} {path.stem:9s} "
                              f"SNR {score.mean_snr_db:6.2f}  r {_fmt(score.mean_r, '.3f'):>6} "
                              f"RMSE {_fmt(score.mean_rmse_uv):>6}  layout {diag['layout_found']} "
                              f"scale {_fmt(diag['scale_err_pct'], '+.2f')}% "
                              f"gain x{_fmt(diag['gain_ratio'], '.2f')} "
                              f"cov {diag['coverage']:.2f} t {diag['time_s']:.1f}s "
                              f"[{diag['style']}] {diag['error'] or ''}", flush=True)

    print(f"\nDigitisation accuracy on rendered real records ({args.dpi:g} dpi unless random; "
          f"layout {'given' if args.tell_layout else 'auto-detected'}; "
          f"SNR aligned <=0.5 s, <=1 mV)")
    head = (f"{'dataset':14}{'condition':10}{'n':>4}{'medSNR':>8}{'meanSNR':>8}{'r':>7}"
            f"{'RMSEuV':>8}{'fail':>5}{'miss%':>6}{'layout':>7}{'scale%':>7}{'gain':>6}"
            f"{'cover':>6}{'|dt|s':>6}{'s/page':>7}{'ceil':>6}  target")
    print(head)
    print("-" * len(head))
    for (dataset, condition), rows in results.items():
        scores = [r[1] for r in rows]
        diags = [r[2] for r in rows]
        s = summarize(scores)
        fails = sum(d["error"] is not None for d in diags)
        miss = 100.0 * s.n_missing_leads / max(s.n_leads, 1)
        med = functools.partial(_median_of, diags)
        target = TARGETS_DB.get(condition)
        verdict = "" if target is None else ("ok" if s.mean_snr_db >= target else f"< {target:g}")
        print(f"{dataset:14}{condition:10}{s.n_records:>4}{_fmt(s.median_snr_db):>8}"
              f"{_fmt(s.mean_snr_db):>8}{_fmt(s.mean_r, '.3f'):>7}{_fmt(s.mean_rmse_uv, '.0f'):>8}"
              f"{fails:>5}{miss:>6.0f}{100 * np.mean([d['layout_ok'] for d in diags]):>6.0f}%"
              f"{_fmt(med('scale_err_pct'), '+.2f'):>7}{_fmt(med('gain_ratio'), '.2f'):>6}"
              f"{_fmt(med('coverage'), '.2f'):>6}{_fmt(med('abs_shift_s'), '.3f'):>6}"
              f"{np.mean([d['time_s'] for d in diags]):>7.1f}{_fmt(med('ceiling_db')):>6}"
              f"  {verdict}")
    # what goes wrong: errors, layouts found, worst leads, warnings
    print("\nFailure patterns")
    for (dataset, condition), rows in results.items():
        errors = defaultdict(int)
        layouts = defaultdict(int)
        warnings = defaultdict(int)
        per_lead = defaultdict(list)
        for _, score, d in rows:
            if d["error"]:
                errors[d["error"].split(":")[0]] += 1
            layouts[str(d["layout_found"])] += 1
            for w in d["warnings"]:
                warnings[w[:60]] += 1
            for ls in score.leads:
                per_lead[ls.lead].append(ls.snr_db)
        worst = sorted(((np.mean(v), k) for k, v in per_lead.items()))[:4]
        low = [stem for stem, score, _ in rows if score.mean_snr_db < 10]
        print(f"  {dataset}/{condition}: render {np.mean([d['render_s'] for _, _, d in rows]):.2f} s"
              f"/page; errors {dict(errors) or '-'}; layouts {dict(layouts)}; "
              f"worst leads {', '.join(f'{k} {v:.1f}' for v, k in worst)}; "
              f"<10 dB: {', '.join(low) or '-'}")
        for w, c in sorted(warnings.items(), key=lambda kv: -kv[1])[:3]:
            print(f"      warning x{c}: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
