"""Turn a finished cross-validation run into the shipped model, its card and its OOF table.

Reads ``fold{k}.pt``, ``oof_fold{k}.npz``, ``fold{k}.json``, ``folds.json`` and ``config.json``
from the run folder, fits the temperature on all OOF logits, and writes
``<models>/rhythm_cnn.pt`` (ensemble of the fold models), ``rhythm_cnn.json`` (card with
sha256), ``rhythm_cnn_oof.csv.gz`` (per-record OOF logits and fold) and ``rhythm_folds.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from ecgviewer.rhythm.calibrate import crossfit_temperature_probs, fit_temperature
from ecgviewer.rhythm.data import read_reference
from ecgviewer.rhythm.infer import MODEL_FORMAT, save_model
from ecgviewer.rhythm.metrics import reliability_table, softmax, summarize
from ecgviewer.rhythm.model import ModelConfig, RhythmCNN, count_parameters
from ecgviewer.rhythm.preprocess import BAND_HZ, MODEL_FS_HZ
from ecgviewer.rhythm.types import CLASSES

LICENCE = ("Trained on the PhysioNet/CinC Challenge 2017 training set (ODC-By 1.0). Cite: Clifford GD "
           "et al., 'AF Classification from a Short Single Lead ECG Recording: the PhysioNet/Computing "
           "in Cardiology Challenge 2017', Computing in Cardiology 44, 2017; Goldberger AL et al., "
           "PhysioBank, PhysioToolkit, and PhysioNet, Circulation 101(23), 2000.")


def read_oof(path: str | Path) -> dict:
    """The OOF table: names, labels (ids), folds, logits (n, 4)."""
    with gzip.open(path, "rt") as fh:
        rows = [ln.rstrip("\n").split(",") for ln in fh][1:]
    return {
        "names": [r[0] for r in rows],
        "labels": np.array([CLASSES.index(r[1]) for r in rows]),
        "folds": np.array([int(r[2]) for r in rows]),
        "logits": np.array([[float(v) for v in r[3:7]] for r in rows]),
    }


def finalize(run_dir: str | Path, models_out: str | Path, data_dir: str | Path) -> dict:
    run, out = Path(run_dir), Path(models_out)
    cfg = json.loads((run / "config.json").read_text())
    names = [n for n, _ in read_reference(Path(data_dir))]
    fold_of = json.loads((run / "folds.json").read_text())
    k = fold_of["k"]
    logits = np.zeros((len(names), len(CLASSES)))
    labels = np.zeros(len(names), np.int64)
    folds = np.array([fold_of["folds"][n] for n in names])
    states, infos = [], []
    for f in range(k):
        z = np.load(run / f"oof_fold{f}.npz")
        logits[z["idx"]] = z["logits"]
        labels[z["idx"]] = z["labels"]
        states.append(torch.load(run / f"fold{f}.pt", weights_only=True))
        infos.append(json.loads((run / f"fold{f}.json").read_text()))
    t = fit_temperature(logits, labels)
    raw = summarize(labels, softmax(logits))
    cal = summarize(labels, softmax(logits, t))
    crossfit = summarize(labels, crossfit_temperature_probs(logits, labels, folds))
    per_fold = [summarize(labels[folds == f], softmax(logits[folds == f]))["challenge_score"] for f in range(k)]
    mcfg = ModelConfig.from_dict(cfg["model"])
    sha = save_model(out / "rhythm_cnn.pt", states, mcfg, t, MODEL_FS_HZ)
    n_params = count_parameters(RhythmCNN(mcfg))
    card = {
        "name": "rhythm_cnn",
        "format": MODEL_FORMAT,
        "sha256": sha,
        "size_bytes": (out / "rhythm_cnn.pt").stat().st_size,
        "classes": list(CLASSES),
        "input": {"units": "mV", "leads": 1, "lead_hint": "lead I-like (AliveCor); lead II also works",
                  "any_fs_hz": True, "model_fs_hz": MODEL_FS_HZ, "bandpass_hz": list(BAND_HZ),
                  "min_duration_s": 1.0, "reliable_from_s": 5.0, "trained_durations_s": [9, 61],
                  "nan": "gaps allowed (masked)"},
        "architecture": {"type": "1-D residual CNN, masked global avg+max pooling", "config": mcfg.to_dict(),
                         "params_per_member": n_params, "members": k,
                         "ensemble": "mean of member logits, each averaged over both polarities"},
        "temperature": t,
        "cv": {"protocol": f"stratified {k}-fold, seed {fold_of['seed']}; per fold, a 10% inner split of the "
                           "training folds picks the epoch; scores are out-of-fold single-model predictions",
               "oof_uncalibrated": raw, "oof_calibrated_all_folds": cal,
               "oof_calibrated_crossfit": crossfit, "per_fold_challenge_score": per_fold,
               "reliability_calibrated": reliability_table(softmax(logits, t), labels)},
        "training": {"config": cfg, "folds": infos, "wall_s_total": float(sum(i["wall_s"] for i in infos)),
                     "hardware": "2-core shared x86_64 CPU, 1 torch thread, nice 5"},
        "licence": LICENCE,
    }
    (out / "rhythm_cnn.json").write_text(json.dumps(card, indent=1))
    shutil.copyfile(run / "folds.json", out / "rhythm_folds.json")
    with gzip.open(out / "rhythm_cnn_oof.csv.gz", "wt") as fh:
        fh.write("name,label,fold,logit_N,logit_A,logit_O,logit_noise\n")
        for n, y, f, z in zip(names, labels, folds, logits):
            fh.write(f"{n},{CLASSES[y]},{f}," + ",".join(f"{v:.4f}" for v in z) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Package a finished CV run as the shipped rhythm model")
    p.add_argument("--run", default="work_tmp/rhythm_cv")
    p.add_argument("--models", default="models")
    p.add_argument("--data", required=True)
    a = p.parse_args(argv)
    card = finalize(a.run, a.models, a.data)
    from ecgviewer.rhythm.metrics import format_summary

    print("OOF, uncalibrated:\n" + format_summary(card["cv"]["oof_uncalibrated"]))
    print(f"temperature {card['temperature']:.3f}; ECE after (cross-fitted): "
          f"{card['cv']['oof_calibrated_crossfit']['ece']:.4f}; sha256 {card['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
