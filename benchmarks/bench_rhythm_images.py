"""Rhythm from images vs raw signals, on the same out-of-fold CinC records.

Usage: python benchmarks/bench_rhythm_images.py [--per-class 25] [--preset clean|distorted|random]

A stratified subset of CinC 2017 training records (seeded, same folds as the shipped model's
cross-validation) is printed on ECG paper (``ecgviewer.render.render_ecg``, single-lead
layout, 10 s rows) and digitised back (``ecgviewer.digitize.digitize``). Each record is scored
by the fold model that never saw it, once on the raw signal and once on the digitised rhythm
lead, so the difference is the cost of the paper round trip alone.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def main() -> int:
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.errors import EcgViewerError
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.paths import data_dir, models_dir
    from ecgviewer.render import RenderStyle, random_style, render_ecg, resolve_distortions
    from ecgviewer.rhythm import CLASSES, classify, load_model
    from ecgviewer.rhythm.finalize import read_oof
    from ecgviewer.rhythm.metrics import format_summary, summarize

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None)
    p.add_argument("--per-class", type=int, default=25, help="records per class (stratified)")
    p.add_argument("--preset", default="clean", help="distortions: clean, distorted or random")
    p.add_argument("--dpi", type=float, default=150.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--layout", default="auto", help="digitiser layout setting (auto = what a user gets)"
    )
    a = p.parse_args()
    cinc = (Path(a.data) if a.data else data_dir()) / "cinc2017" / "training2017"
    model = load_model()
    oof = read_oof(models_dir() / "rhythm_cnn_oof.csv.gz")
    rng = np.random.default_rng(a.seed)
    pick = np.concatenate(
        [
            rng.choice(
                np.flatnonzero(oof["labels"] == c),
                size=min(a.per_class, int((oof["labels"] == c).sum())),
                replace=False,
            )
            for c in range(len(CLASSES))
        ]
    )
    settings = DigitizeSettings(layout=a.layout)
    y, p_raw, p_img, failed, short = [], [], [], [], []
    t0 = time.time()
    for n_done, i in enumerate(pick):
        name = oof["names"][i]
        member = replace(model, nets=(model.nets[oof["folds"][i]],))
        rec = read_cinc_mat(cinc / f"{name}.mat")
        raw = classify(rec.signal_mv[:, 0], rec.fs_hz, member)
        style, dist = RenderStyle(layout="single", dpi=a.dpi), resolve_distortions(a.preset, rng)
        if a.preset == "random":
            style, dist = random_style(rng, ("single",))
            style = replace(style, dpi=a.dpi)
        try:
            page = render_ecg(rec, style, seed=int(rng.integers(1 << 30)), distortions=dist)
            lead = digitize(page.image_rgb, settings).rhythm_lead
            if lead is None:
                raise EcgViewerError("no rhythm lead found")
            x = np.asarray(lead.signal_mv, float).copy()
            x[~np.asarray(lead.valid_mask, bool)] = np.nan
            img = classify(x, lead.fs_hz, member)
            if lead.duration_s < 0.9 * rec.duration_s:
                short.append(f"{name}: {lead.duration_s:.1f} of {rec.duration_s:.1f} s")
        except (EcgViewerError, ValueError) as exc:
            failed.append(f"{name}: {exc}")
            continue
        y.append(oof["labels"][i])
        p_raw.append([raw.probabilities[c] for c in CLASSES])
        p_img.append([img.probabilities[c] for c in CLASSES])
        if n_done % 20 == 19:
            print(f"  {n_done + 1}/{len(pick)} records, {time.time() - t0:.0f} s", flush=True)
    y = np.array(y)
    s_raw, s_img = summarize(y, np.array(p_raw)), summarize(y, np.array(p_img))
    agree = float(np.mean(np.argmax(p_raw, 1) == np.argmax(p_img, 1)))
    print(
        f"\n{len(pick)} records ({a.per_class} per class, seed {a.seed}), preset {a.preset!r}, "
        f"{a.dpi:g} dpi, digitiser layout {a.layout!r}; digitisation failed on {len(failed)}, "
        f"rhythm lead shorter than 90% of the record on {len(short)}"
    )
    print("== raw signal (OOF fold member)\n" + format_summary(s_raw))
    print("== image -> digitised rhythm lead (same member, same records)\n" + format_summary(s_img))
    print(
        f"challenge score raw {s_raw['challenge_score']:.4f}, image {s_img['challenge_score']:.4f}, "
        f"drop {s_raw['challenge_score'] - s_img['challenge_score']:+.4f}; label agreement {agree:.3f}"
    )
    print("(class-balanced subset: scores are not comparable with the full CV table)")
    for f in failed[:10]:
        print("  failed:", f)
    for f in short[:10]:
        print("  short:", f)
    print(f"wall time {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
