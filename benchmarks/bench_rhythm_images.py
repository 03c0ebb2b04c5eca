"""Rhythm from images vs raw signals, on the same out-of-fold CinC records.

Usage: python benchmarks/bench_rhythm_images.py [--per-class 25] [--preset clean|distorted|random]
       python benchmarks/bench_rhythm_images.py --all [--workers 2] [--subset-per-class N [--partial]]

``--all``: every one of the 7,528 records, printed on a random single-lead strip of issue 18's
variety and digitised by the automatic (learned) method (the cached set of
:mod:`ecgviewer.rhythm.training.image_data`, built on first use: 5-8 CPU s a page), each scored
raw and from paper by the shipped model's fold member that never saw it, with the shipped
post-processing; also split by what the page had (pulse before / apart from / without the
trace, grid family, handwriting). ``--subset-per-class N``: only N seeded records per class
(the same pages the full set has, cached apart); ``--partial`` scores the chunks of that subset
finished so far. The default mode prints a small class-balanced subset on the fly:

A stratified subset of CinC 2017 training records (seeded, same folds as the shipped model's
cross-validation) is printed on ECG paper (``ecgviewer.render.render_ecg``, single-lead
layout, 10 s rows) and digitised back (``ecgviewer.digitize.digitize``). Each record is scored
by the fold model that never saw it, once on the raw signal and once on the digitised rhythm
lead, so the difference is the cost of the paper round trip alone.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def compare(y, p_raw, p_img, raw_title: str, img_title: str) -> None:
    """Both summaries and the challenge-score drop from raw to image, same records."""
    from ecgviewer.rhythm.metrics import format_summary, summarize

    s_raw, s_img = summarize(y, p_raw), summarize(y, p_img)
    agree = float(np.mean(p_raw.argmax(1) == p_img.argmax(1)))
    print(f"== {raw_title}\n" + format_summary(s_raw))
    print(f"== {img_title}\n" + format_summary(s_img))
    lo, hi = drop_interval(y, p_raw.argmax(1), p_img.argmax(1))
    print(
        f"challenge score raw {s_raw['challenge_score']:.4f}, image "
        f"{s_img['challenge_score']:.4f}, drop "
        f"{s_raw['challenge_score'] - s_img['challenge_score']:+.4f} (95 % paired bootstrap "
        f"{lo:+.4f} .. {hi:+.4f}); label agreement {agree:.3f}"
    )


def drop_interval(y, pred_raw, pred_img, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % interval of the raw - image challenge score drop, records resampled in pairs (a
    subset's drop is noisy: this says how noisy)."""
    from ecgviewer.rhythm.metrics import challenge_score

    rng = np.random.default_rng(seed)
    drops = []
    for _ in range(n_boot):
        k = rng.integers(0, len(y), len(y))
        drops.append(challenge_score(y[k], pred_raw[k]) - challenge_score(y[k], pred_img[k]))
    lo, hi = np.percentile(drops, [2.5, 97.5])
    return float(lo), float(hi)


def member_logits(model, fold: np.ndarray, ds, idx: np.ndarray) -> np.ndarray:
    """Logits of records ``idx`` of ``ds``, each from the fold member that never saw it
    (``fold`` per record of ``idx``; both polarities, as training scores its held-out fold)."""
    from ecgviewer.rhythm import CLASSES
    from ecgviewer.rhythm.training.train import predict_logits

    z = np.zeros((len(idx), len(CLASSES)))
    for k, net in enumerate(model.nets):
        sel = fold == k
        z[sel] = predict_logits(net, ds, idx[sel])
    return z


def member_probs(model, fold: np.ndarray, ds, idx: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Shipped-post-processing probabilities of :func:`member_logits`; unreadable pages
    certain '~'."""
    from ecgviewer.rhythm.metrics import softmax
    from ecgviewer.rhythm.training.finalize import unreadable_as_noise

    z = member_logits(model, fold, ds, idx)
    return unreadable_as_noise(softmax(z + np.asarray(model.class_bias), model.temperature)[ok], ok)


def stratified_subset(labels: np.ndarray, per_class: int, seed: int) -> list[int]:
    """``per_class`` seeded records of each class, interleaved N, A, O, ~, N, ... (so every
    chunk of a partial build holds all classes)."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)
    ]
    return [int(p[j]) for j in range(max(len(p) for p in picks)) for p in picks if j < len(p)]


def _tag_groups(tags: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
    """(title, mask) for each value of each page tag (``pulse=apart``, ``grid=blue``, ...)."""
    keyed = [dict(t.split("=") for t in tag.split()) for tag in tags]
    out = []
    for key in ("pulse", "grid", "pen"):
        for value in sorted({k.get(key, "?") for k in keyed}):
            out.append((f"{key}={value}", np.array([k.get(key) == value for k in keyed])))
    return out


def run_all(data: Path, workers: int, per_class: int | None, partial: bool, seed: int) -> int:
    """Raw vs paper for every record (or a stratified subset), out of fold, shipped
    post-processing."""
    import torch

    from ecgviewer.paths import models_dir
    from ecgviewer.rhythm import load_model
    from ecgviewer.rhythm.metrics import summarize
    from ecgviewer.rhythm.training.data import load_cinc, load_folds
    from ecgviewer.rhythm.training.image_data import length_read_right, load_image_derived

    torch.set_num_threads(1)
    t0 = time.time()
    raw = load_cinc(data)
    subset = None if per_class is None else stratified_subset(raw.labels, per_class, seed)
    paper = load_image_derived(data, workers=workers, indices=subset, build=not partial)
    where = {n: i for i, n in enumerate(raw.names)}
    every = np.array([where[n] for n in paper.dataset.names], int)
    model = load_model()
    fold = load_folds(models_dir() / "rhythm_folds.json", raw.names)[every]
    y = raw.labels[every]
    ok = ~paper.failed
    p_raw = member_probs(model, fold, raw, every, np.ones(len(every), bool))
    p_paper = member_probs(model, fold, paper.dataset, np.arange(len(every)), ok)  # unreadable: "~"
    durations = (raw.lengths() / raw.fs_hz)[every]
    whole = paper.printed_s >= durations - 0.05
    if subset is not None:
        print(
            f"stratified subset: {per_class} per class (seed {seed}), "
            f"{len(every)} of {len(subset)} records built"
        )
    length_ok = length_read_right(paper.digitised_s, paper.printed_s, ok)
    print(
        f"{len(y)} records, model sha256 {model.sha256[:12]}…, each scored by the fold member "
        f"that never saw it; shipped class offsets and temperature {model.temperature:.3f}"
    )
    print(
        f"paper round trip: not digitised {int((~ok).sum())} (scored as '~'); whole record on "
        f"the page {whole.mean():.3f}; digitised length within 2 % of the printed length "
        f"{length_ok[ok].mean():.3f}"
    )
    compare(y, p_raw, p_paper, "raw signal", "printed and digitised")
    # where the paper round trip loses: by how well the digitiser read the record's length
    for title, sel in (
        ("length read within 2 %", length_ok),
        ("length misread (rows lost or added)", ok & ~length_ok),
        ("not digitised", ~ok),
        *_tag_groups(paper.tags),
    ):
        if sel.any():
            s_r, s_p = summarize(y[sel], p_raw[sel]), summarize(y[sel], p_paper[sel])
            lo, hi = drop_interval(y[sel], p_raw[sel].argmax(1), p_paper[sel].argmax(1))
            print(
                f"  {title:>36}: n {int(sel.sum()):>5}, challenge score raw "
                f"{s_r['challenge_score']:.4f}, paper {s_p['challenge_score']:.4f} (drop "
                f"{lo:+.3f} .. {hi:+.3f}), accuracy raw "
                f"{s_r['accuracy']:.3f}, paper {s_p['accuracy']:.3f}, not digitised "
                f"{int((sel & ~ok).sum())}, length within 2 % {length_ok[sel].mean():.3f}"
            )
    print(f"wall time {time.time() - t0:.0f} s")
    return 0


def _fresh_trip(args: tuple[str, str, int]):
    """Worker: print and read one record again with the digitiser as it is now."""
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.rhythm.training.image_data import print_and_read

    data, name, seed = args
    return print_and_read(read_cinc_mat(Path(data) / f"{name}.mat"), seed)


def run_fresh(data: Path, grid: str, workers: int) -> int:
    """Pages of one grid style again, digitised by the current code, against the cached set
    (which records the digitiser of the commit it was built with): did a digitiser change
    help? Same seeds, same pages, same fold members and post-processing."""
    from concurrent.futures import ProcessPoolExecutor

    import torch

    from ecgviewer.paths import models_dir
    from ecgviewer.rhythm import load_model
    from ecgviewer.rhythm.metrics import summarize
    from ecgviewer.rhythm.training.data import RhythmDataset, load_cinc, load_folds
    from ecgviewer.rhythm.training.image_data import (
        length_read_right,
        load_image_derived,
        record_seed,
    )

    torch.set_num_threads(1)
    t0 = time.time()
    raw = load_cinc(data)
    cached = load_image_derived(data, workers=workers)
    pick = np.array([i for i, t in enumerate(cached.tags) if f"grid={grid} " in f"{t} "], int)
    jobs = [(str(data), raw.names[i], record_seed(2017, i)) for i in pick]
    spawn = multiprocessing.get_context("spawn")  # fork + torch threads can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        trips = list(pool.map(_fresh_trip, jobs, chunksize=16))
    conditioned = [t.conditioned(raw.fs_hz) for t in trips]
    fresh = RhythmDataset.from_signals(
        tuple(raw.names[i] for i in pick),
        raw.labels[pick],
        [x for x, _ in conditioned],
        [m for _, m in conditioned],
        raw.fs_hz,
    )
    fresh_ok = np.array([t.error is None for t in trips])
    fresh_len = np.array([t.duration_s for t in trips])
    model = load_model()
    fold = load_folds(models_dir() / "rhythm_folds.json", raw.names)[pick]

    y = raw.labels[pick]
    p_raw = member_probs(model, fold, raw, pick, np.ones(len(pick), bool))
    p_old = member_probs(model, fold, cached.dataset, pick, ~cached.failed[pick])
    p_new = member_probs(model, fold, fresh, np.arange(len(pick)), fresh_ok)
    printed = cached.printed_s[pick]
    for title, ok, length, p in (
        ("cached set", ~cached.failed[pick], cached.digitised_s[pick], p_old),
        ("digitised now", fresh_ok, fresh_len, p_new),
    ):
        right = length_read_right(length, printed, ok)
        s = summarize(y, p)
        print(
            f"{title:>14}: n {len(y)}, not digitised {int((~ok).sum())}, length within 2 % "
            f"{right.mean():.3f}, challenge score {s['challenge_score']:.4f} "
            f"(raw {summarize(y, p_raw)['challenge_score']:.4f})"
        )
    print(f"grid style {grid!r}; wall time {time.time() - t0:.0f} s")
    return 0


def main() -> int:
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.errors import EcgViewerError
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.paths import data_dir, models_dir
    from ecgviewer.render import RenderStyle, random_style, render_ecg, resolve_distortions
    from ecgviewer.rhythm import CLASSES, classify, load_model
    from ecgviewer.rhythm.training.finalize import read_oof

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None)
    p.add_argument("--per-class", type=int, default=25, help="records per class (stratified)")
    p.add_argument("--preset", default="clean", help="distortions: clean, distorted or random")
    p.add_argument("--dpi", type=float, default=150.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--layout", default="auto", help="digitiser layout setting (auto = what a user gets)"
    )
    p.add_argument("--all", action="store_true", help="every record (cached paper set)")
    p.add_argument("--workers", type=int, default=2, help="--all: processes building the set")
    p.add_argument(
        "--subset-per-class", type=int, default=None, metavar="N",
        help="with --all: a seeded stratified subset of N records per class (seed: --seed)",
    )
    p.add_argument(
        "--partial", action="store_true",
        help="with --subset-per-class: score the chunks built so far, build nothing",
    )
    p.add_argument(
        "--fresh-grid",
        default=None,
        metavar="STYLE",
        help="with --all: re-digitise the pages of this grid style (e.g. none) with the current "
        "code and compare with the cached set",
    )
    a = p.parse_args()
    cinc = (Path(a.data) if a.data else data_dir()) / "cinc2017" / "training2017"
    if a.all and a.fresh_grid:
        return run_fresh(cinc, a.fresh_grid, a.workers)
    if a.all:
        return run_all(cinc, a.workers, a.subset_per_class, a.partial, a.seed)
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
    print(
        f"\n{len(pick)} records ({a.per_class} per class, seed {a.seed}), preset {a.preset!r}, "
        f"{a.dpi:g} dpi, digitiser layout {a.layout!r}; digitisation failed on {len(failed)}, "
        f"rhythm lead shorter than 90% of the record on {len(short)}"
    )
    compare(
        np.array(y),
        np.array(p_raw),
        np.array(p_img),
        "raw signal (OOF fold member)",
        "image -> digitised rhythm lead (same member, same records)",
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
