"""Shift test-time augmentation for the rhythm model, scored out of fold (tried, not shipped).

Usage: python benchmarks/bench_rhythm_tta.py [--data ../shared/data] [--shifts 0,32,64,96]

The network downsamples its 100 Hz input 128-fold, so its output depends on where a record
starts relative to that stride. This benchmark delays every record by a few masked zero
samples (no data lost), scores each held-out record with its own fold member of the shipped
model (both polarities, as in training's OOF scoring), and prints the challenge score of each
shift alone and of the mean logits over shifts, raw and from the cached paper round trips
(``ecgviewer train-paper-set``; 38 unreadable pages count as '~'). Shift 0 must
reproduce ``models/rhythm_cnn_oof*.csv.gz``; the script checks that when 0 is among them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def delayed(ds, shift: int):
    """``ds`` with ``shift`` masked zero samples before every record."""
    from ecgviewer.rhythm.training.data import RhythmDataset

    pad_x, pad_m = np.zeros(shift, np.float32), np.zeros(shift, bool)
    sigs = [np.concatenate([pad_x, ds.signal(i)]) for i in range(len(ds))]
    masks = [np.concatenate([pad_m, ds.mask(i)]) for i in range(len(ds))]
    return RhythmDataset.from_signals(ds.names, ds.labels, sigs, masks, ds.fs_hz)


def main() -> int:
    import torch
    from bench_rhythm_images import member_logits  # this script's folder is on sys.path

    from ecgviewer.rhythm.infer import load_model
    from ecgviewer.rhythm.metrics import challenge_score, softmax
    from ecgviewer.rhythm.training.data import load_cinc, load_folds
    from ecgviewer.rhythm.training.finalize import read_oof, unreadable_as_noise
    from ecgviewer.rhythm.training.image_data import load_image_derived

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--shifts", default="0,32,64,96")
    a = p.parse_args()
    shifts = [int(s) for s in a.shifts.split(",")]
    torch.set_num_threads(1)
    cinc = Path(a.data) / "cinc2017" / "training2017"
    models = Path(__file__).resolve().parents[1] / "models"
    model = load_model()
    raw = load_cinc(cinc)
    paper = load_image_derived(cinc)
    fold = load_folds(models / "rhythm_folds.json", raw.names)
    inputs = {
        "raw": (raw, np.ones(len(raw), bool), models / "rhythm_cnn_oof.csv.gz"),
        "paper": (paper.dataset, ~paper.failed, models / "rhythm_cnn_oof_paper.csv.gz"),
    }
    print("| input | " + " | ".join(f"shift {s}" for s in shifts) + " | mean over shifts |")
    print("|---|" + "---|" * (len(shifts) + 1))
    for name, (ds, ok, table) in inputs.items():
        every = np.arange(len(ds))
        z = {s: member_logits(model, fold, delayed(ds, s), every) for s in shifts}
        if 0 in z:
            drift = np.abs(read_oof(table)["logits"][ok] - z[0][ok]).max()
            assert drift < 1e-3, f"shift 0 does not reproduce {table.name} (max diff {drift})"

        def score(logits: np.ndarray) -> float:
            probs = unreadable_as_noise(softmax(logits[ok]), ok)
            return challenge_score(ds.labels, probs.argmax(1))

        cells = [f"{score(z[s]):.4f}" for s in shifts]
        cells.append(f"{score(np.mean([z[s] for s in shifts], axis=0)):.4f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
