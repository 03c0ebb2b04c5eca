"""Rhythm model benchmark: CV table (saved out-of-fold logits), speed, size, PTB-XL check.

Usage: python benchmarks/bench_rhythm.py [--data ../shared/data] [--n-timing 50]

1. Cross-validation: F1 per class, challenge score (mean F1 N, A, O), confusion and ECE,
   from ``models/rhythm_cnn_oof.csv.gz`` (single fold models on their held-out fold).
2. Inference time of ``classify`` on a 30 s record (1 thread, median of N): ensemble and
   one member.
3. Cross-device check on PTB-XL lead II (500 Hz, 10 s, other hardware and population):
   SR should come out N, AFIB should come out A (AFLT is reported apart: not a CinC class);
   once from the raw samples and once from a printed 12-lead page (3x4+1 with a lead II
   rhythm strip, random seeded style and distortions) digitised with automatic layout
   detection, as a user would get it (``--no-images`` skips the pages).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def cv_table(models: Path) -> None:
    from ecgviewer.rhythm.calibrate import crossfit_postprocess, crossfit_temperature_probs
    from ecgviewer.rhythm.metrics import format_summary, softmax, summarize
    from ecgviewer.rhythm.training.finalize import (
        read_oof,
        read_oof_paper,
        served_inputs,
        unreadable_as_noise,
    )

    oof = read_oof(models / "rhythm_cnn_oof.csv.gz")
    paper = read_oof_paper(models / "rhythm_cnn_oof_paper.csv.gz")
    card = json.loads((models / "rhythm_cnn.json").read_text())
    y, z, f = oof["labels"], oof["logits"], oof["folds"]
    n = len(y)
    print("== 1. Cross-validation (out-of-fold, single fold models, both polarities averaged)")
    print(format_summary(summarize(y, softmax(z))))
    print(
        "per fold challenge score: "
        + "  ".join(
            f"{k}:{summarize(y[f == k], softmax(z[f == k]))['challenge_score']:.4f}"
            for k in np.unique(f)
        )
    )
    # the shipped post-processing is fitted on every input the model serves (raw, and paper
    # round trips when the model was trained with them); each fold's parameters come from the
    # other folds only
    z_all, y_all, f_all = served_inputs(z, y, f, *((paper["logits"], paper["ok"]) if paper else ()))
    use_bias = bool(card.get("cv", {}).get("class_bias_used"))
    shipped = crossfit_postprocess(z_all, y_all, f_all, use_bias=use_bias)
    print(
        "-- with the shipped post-processing ("
        + ("class offsets + " if use_bias else "")
        + "temperature), each fold's parameters fitted on the other folds:"
    )
    print(format_summary(summarize(y, shipped[:n])))
    cross = summarize(y, crossfit_temperature_probs(z_all, y_all, f_all)[:n])
    print(
        f"ECE before temperature: {summarize(y, softmax(z))['ece']:.4f}; after (temperature fitted on "
        f"the other folds): {cross['ece']:.4f}; shipped temperature {card['temperature']:.3f}"
    )
    if paper:
        ok = paper["ok"]
        print(
            "\n== 1b. The same records printed on paper and digitised (same folds, same fold "
            f"models; {int((~ok).sum())} pages not digitised, scored as '~')"
        )
        print(
            "raw OOF logits:\n"
            + format_summary(summarize(y, unreadable_as_noise(softmax(paper["logits"][ok]), ok)))
        )
        s_paper = summarize(y, unreadable_as_noise(shipped[n:], ok))
        print("shipped post-processing (cross-fitted):\n" + format_summary(s_paper))
        s_raw = summarize(y, shipped[:n])
        print(
            f"challenge score raw {s_raw['challenge_score']:.4f}, paper "
            f"{s_paper['challenge_score']:.4f}, drop "
            f"{s_raw['challenge_score'] - s_paper['challenge_score']:+.4f} (shipped, cross-fitted)"
        )


def timing(cinc: Path | None, n: int) -> None:
    import torch

    from ecgviewer.paths import models_dir
    from ecgviewer.rhythm import classify, load_model
    from ecgviewer.rhythm.model import count_parameters

    torch.set_num_threads(1)
    model = load_model()
    if cinc is not None:
        from ecgviewer.io.signals import read_cinc_mat

        rec = read_cinc_mat(cinc / "A00001.mat")  # 30 s at 300 Hz
        x, fs = rec.signal_mv[:9000, 0], rec.fs_hz
    else:
        fs = 300.0
        x = np.sin(np.arange(9000) / fs * 2 * np.pi * 1.2)
    print(
        f"\n== 2. Speed and size (1 torch thread, {x.size / fs:.0f} s record at {fs:g} Hz, median of {n})"
    )
    n_params = count_parameters(model.nets[0])
    for label, m in (("ensemble", model), ("one member", replace(model, nets=model.nets[:1]))):
        classify(x, fs, m)
        ts, cpu = [], []
        for _ in range(n):
            t0, c0 = time.perf_counter(), time.thread_time()
            classify(x, fs, m)
            ts.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
        print(
            f"{label:>11}: {len(m.nets)} x {n_params:,} params, wall median {1000 * np.median(ts):.1f} ms "
            f"(p90 {1000 * np.percentile(ts, 90):.1f}), CPU time median {1000 * np.median(cpu):.1f} ms"
        )
    print(
        "(wall time depends on what else runs on the machine; CPU time is this thread's own work)"
    )
    size = (models_dir() / "rhythm_cnn.pt").stat().st_size
    print(f"weights file: {size / 1e6:.2f} MB")


def _lead_ii_from_paper(rec, seed: int) -> tuple[np.ndarray, float]:
    """Lead II of ``rec`` printed on a 12-lead page and digitised back (NaN where not read)."""
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.render import random_style, render_ecg

    rng = np.random.default_rng(seed)
    style, distortions = random_style(rng, ("3x4+1",))
    page = render_ecg(rec, style, seed=seed, distortions=distortions)
    settings = DigitizeSettings(
        paper_speed_mm_s=style.paper_speed_mm_s, gain_mm_mv=style.gain_mm_mv, dpi=style.dpi
    )
    dig = digitize(page.image_rgb, settings)
    lead = dig.rhythm_lead
    x = np.asarray(lead.signal_mv, float).copy()
    x[~np.asarray(lead.valid_mask, bool)] = np.nan
    return x, lead.fs_hz


def ptbxl_check(ptbxl: Path, images: bool) -> None:
    from ecgviewer.errors import EcgViewerError
    from ecgviewer.io.signals import read_wfdb
    from ecgviewer.rhythm import CLASSES, classify, load_model

    model = load_model()
    groups = {"SR": [], "AFIB": [], "AFLT": []}
    with (ptbxl / "ptbxl_database.csv").open() as fh:
        for row in csv.DictReader(fh):
            codes = ast.literal_eval(row["scp_codes"])
            path = ptbxl / (row["filename_hr"] + ".hea")
            if not path.exists():
                continue
            if "AFIB" in codes:
                groups["AFIB"].append(path)
            elif "AFLT" in codes:  # flutter: CinC 2017 has no flutter class (mostly "O")
                groups["AFLT"].append(path)
            elif "SR" in codes:
                groups["SR"].append(path)
    sources = ("raw", "paper") if images else ("raw",)
    pred = {(g, src): [] for g in groups for src in sources}
    failed = []
    for g, paths in groups.items():
        for k, p in enumerate(paths):
            rec = read_wfdb(p)
            pred[(g, "raw")].append(classify(rec.lead("II"), rec.fs_hz, model).label)
            if images:
                try:
                    x, fs = _lead_ii_from_paper(rec, seed=1000 + k)
                    pred[(g, "paper")].append(classify(x, fs, model).label)
                except EcgViewerError as exc:  # counted as unreadable ("~")
                    failed.append(f"{p.stem}: {exc}")
                    pred[(g, "paper")].append("~")
    print("\n== 3. Cross-device: PTB-XL lead II, 10 s at 500 Hz; raw and printed+digitised")
    print(
        f"{'group':>6} {'input':>6} {'n':>4} "
        + " ".join(f"{c:>6}" for c in CLASSES)
        + "  (fraction predicted)"
    )
    for (g, src), labels in pred.items():
        frac = [np.mean([lab == c for lab in labels]) for c in CLASSES]
        print(f"{g:>6} {src:>6} {len(labels):>4} " + " ".join(f"{v:>6.2f}" for v in frac))
    for src in sources:
        af, sr = pred[("AFIB", src)], pred[("SR", src)]
        print(
            f"{src}: AFIB as 'A' {np.mean([lab == 'A' for lab in af]):.2f}; SR as 'N' "
            f"{np.mean([lab == 'N' for lab in sr]):.2f}; SR called A {sum(lab == 'A' for lab in sr)}"
            f"/{len(sr)}"
        )
    if images:
        print(f"pages not digitised (scored '~'): {len(failed)}")
        for f in failed[:5]:
            print("  ", f)


def main() -> int:
    from ecgviewer.paths import data_dir, models_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    p.add_argument("--n-timing", type=int, default=50)
    p.add_argument("--no-images", action="store_true", help="PTB-XL: raw signals only")
    a = p.parse_args()
    data = Path(a.data) if a.data else data_dir()
    cv_table(models_dir())
    cinc = data / "cinc2017" / "training2017" if data else None
    timing(cinc if cinc and cinc.is_dir() else None, a.n_timing)
    if data and (data / "ptbxl").is_dir():
        ptbxl_check(data / "ptbxl", images=not a.no_images)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
