"""Turn a finished cross-validation run into the shipped model, its card and its OOF table.

Reads ``fold{k}.pt``, ``oof_fold{k}.npz``, ``fold{k}.json``, ``folds.json`` and ``config.json``
from the run folder, fits the temperature on all OOF logits, and writes
``<models>/rhythm_cnn.pt`` (ensemble of the fold models), ``rhythm_cnn.json`` (card with
sha256), ``rhythm_cnn_oof.csv.gz`` (per-record OOF logits and fold) and ``rhythm_folds.json``.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ecgviewer.rhythm.calibrate import (
    crossfit_postprocess,
    crossfit_temperature_probs,
    fit_class_bias,
    fit_temperature,
)
from ecgviewer.rhythm.infer import MODEL_FORMAT, save_model
from ecgviewer.rhythm.metrics import reliability_table, softmax, summarize
from ecgviewer.rhythm.model import ModelConfig, RhythmCNN, count_parameters
from ecgviewer.rhythm.preprocess import BAND_HZ, MODEL_FS_HZ
from ecgviewer.rhythm.training.card import model_card_markdown
from ecgviewer.rhythm.training.data import read_reference
from ecgviewer.rhythm.types import CLASSES

LICENCE = (
    "Trained on the PhysioNet/CinC Challenge 2017 training set (ODC-By 1.0). Cite: Clifford GD "
    "et al., 'AF Classification from a Short Single Lead ECG Recording: the PhysioNet/Computing "
    "in Cardiology Challenge 2017', Computing in Cardiology 44, 2017; Goldberger AL et al., "
    "PhysioBank, PhysioToolkit, and PhysioNet, Circulation 101(23), 2000."
)


def served_inputs(
    logits: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    logits_paper: np.ndarray | None = None,
    paper_ok: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logits, labels, folds) of every OOF input the model serves, post-processing is fitted
    on: the raw records, then (when scored) the paper round trips that could be read."""
    if logits_paper is None:
        return logits, labels, folds
    return (
        np.concatenate([logits, logits_paper[paper_ok]]),
        np.concatenate([labels, labels[paper_ok]]),
        np.concatenate([folds, folds[paper_ok]]),
    )


def read_oof_paper(path: str | Path) -> dict | None:
    """The paper-round-trip OOF table (None if absent): as :func:`read_oof`, plus ``ok``
    (False where the page could not be digitised)."""
    return read_oof(path) if Path(path).exists() else None


def read_oof(path: str | Path) -> dict:
    """An OOF table: names, labels (ids), folds, logits (n, 4); and ``ok`` when the table has
    a ``digitised`` column (the paper round-trip table)."""
    with gzip.open(path, "rt") as fh:
        header, *rows = [ln.rstrip("\n").split(",") for ln in fh]
    first = 4 if "digitised" in header else 3
    out = {
        "names": [r[0] for r in rows],
        "labels": np.array([CLASSES.index(r[1]) for r in rows]),
        "folds": np.array([int(r[2]) for r in rows]),
        "logits": np.array([[float(v) for v in r[first : first + 4]] for r in rows]),
    }
    if first == 4:
        out["ok"] = np.array([r[3] == "1" for r in rows])
    return out


@dataclass(frozen=True)
class _OofRun:
    """A finished run, record-aligned: recipe, OOF logits (raw and, when every fold scored
    them, paper round trips), fold networks and fold summaries."""

    cfg: dict
    fold_seed: int
    k: int
    names: list[str]
    folds: np.ndarray
    labels: np.ndarray
    logits: np.ndarray
    logits_paper: np.ndarray | None  # None unless every fold scored the paper round trips
    paper_ok: np.ndarray | None
    states: list[dict]
    infos: list[dict]


def finalize(run_dir: str | Path, models_out: str | Path, data_dir: str | Path) -> dict:
    """Package the run in ``run_dir`` as the shipped model in ``models_out`` (the files listed
    in the module docstring, plus MODEL_CARD.md); returns the JSON card."""
    run, out = Path(run_dir), Path(models_out)
    oof = _read_run(run, Path(data_dir))
    cv, paper_cv, bias, t = _fit_postprocessing(oof)
    mcfg = ModelConfig.from_dict(oof.cfg["model"])
    sha = save_model(out / "rhythm_cnn.pt", oof.states, mcfg, t, MODEL_FS_HZ, tuple(bias))
    card = {
        "name": "rhythm_cnn",
        "format": MODEL_FORMAT,
        "sha256": sha,
        "size_bytes": (out / "rhythm_cnn.pt").stat().st_size,
        "classes": list(CLASSES),
        "input": {
            "units": "mV",
            "leads": 1,
            "lead_hint": "lead I-like (AliveCor); lead II also works",
            "any_fs_hz": True,
            "model_fs_hz": MODEL_FS_HZ,
            "bandpass_hz": list(BAND_HZ),
            "min_duration_s": 1.0,
            "reliable_from_s": 5.0,
            "trained_durations_s": [9, 61],
            "nan": "gaps allowed (masked)",
        },
        "architecture": {
            "type": "1-D residual CNN, masked global avg+max pooling",
            "config": mcfg.to_dict(),
            "params_per_member": count_parameters(RhythmCNN(mcfg)),
            "members": oof.k,
            "ensemble": "mean of member logits, each averaged over both polarities",
        },
        "temperature": t,
        "class_bias": [float(v) for v in bias],
        "cv_paper": paper_cv,
        "cv": cv,
        "training": {
            "config": oof.cfg,
            "base_config": _base_config(oof.cfg),
            "folds": oof.infos,
            "wall_s_total": float(sum(i["wall_s"] for i in oof.infos)),
            "hardware": "2-core shared x86_64 CPU, 1 torch thread",
        },
        "licence": LICENCE,
    }
    (out / "rhythm_cnn.json").write_text(json.dumps(card, indent=1))
    (out / "MODEL_CARD.md").write_text(model_card_markdown(card))
    _write_tables(oof, run, out)
    return card


def _read_run(run: Path, data_dir: Path) -> _OofRun:
    """Join a run folder's per-fold files, in the order of the data's reference table."""
    cfg = json.loads((run / "config.json").read_text())
    fold_of = json.loads((run / "folds.json").read_text())
    # the records the run used (all of them, or the first few of a smoke test)
    names = [n for n, _ in read_reference(data_dir) if n in fold_of["folds"]]
    k = fold_of["k"]
    logits = np.zeros((len(names), len(CLASSES)))
    labels = np.zeros(len(names), np.int64)
    folds = np.array([fold_of["folds"][n] for n in names])
    logits_paper = np.zeros_like(logits)
    paper_ok = np.zeros(len(names), bool)
    states, infos, has_paper = [], [], True
    for f in range(k):
        z = np.load(run / f"oof_fold{f}.npz")
        logits[z["idx"]] = z["logits"]
        labels[z["idx"]] = z["labels"]
        if "logits_paper" in z:
            logits_paper[z["idx"]] = z["logits_paper"]
            paper_ok[z["idx"]] = z["paper_ok"]
        else:
            has_paper = False
        states.append(torch.load(run / f"fold{f}.pt", weights_only=True))
        infos.append(json.loads((run / f"fold{f}.json").read_text()))
    return _OofRun(
        cfg,
        fold_of["seed"],
        k,
        names,
        folds,
        labels,
        logits,
        logits_paper if has_paper else None,
        paper_ok if has_paper else None,
        states,
        infos,
    )


def _fit_postprocessing(oof: _OofRun) -> tuple[dict, dict | None, np.ndarray, float]:
    """Fit the class offsets (kept only when they help) and the temperature; return the card's
    ``cv`` and ``cv_paper`` sections, the offsets and the temperature."""
    logits, labels, folds, k = oof.logits, oof.labels, oof.folds, oof.k
    has_paper = oof.logits_paper is not None
    # post-processing is fitted on every OOF prediction the model must serve: the raw records,
    # plus their paper round trips when the run scored those
    n = len(oof.names)
    fit_z, fit_y, fit_f = served_inputs(
        logits, labels, folds, *((oof.logits_paper, oof.paper_ok) if has_paper else ())
    )
    raw = summarize(labels, softmax(logits))
    cross_all = crossfit_temperature_probs(fit_z, fit_y, fit_f)
    bias_all = crossfit_postprocess(fit_z, fit_y, fit_f, use_bias=True)
    crossfit = summarize(labels, cross_all[:n])
    with_bias = summarize(labels, bias_all[:n])
    # keep the offsets only when they help on held-out folds (all inputs together)
    use_bias = (
        summarize(fit_y, bias_all)["challenge_score"]
        > summarize(fit_y, cross_all)["challenge_score"] + 0.003
    )
    bias = fit_class_bias(fit_z, fit_y) if use_bias else np.zeros(len(CLASSES))
    shipped = with_bias if use_bias else crossfit
    t = fit_temperature(fit_z + bias, fit_y)
    cal = summarize(labels, softmax(logits + bias, t))
    paper_cv = _paper_cv(oof, (bias_all if use_bias else cross_all)[n:]) if has_paper else None
    per_fold = [
        summarize(labels[folds == f], softmax(logits[folds == f]))["challenge_score"]
        for f in range(k)
    ]
    cv = {
        "protocol": f"stratified {k}-fold, seed {oof.fold_seed}; per fold, a 10% inner split of the "
        "training folds picks the epoch; scores are out-of-fold single-model predictions",
        "oof_uncalibrated": raw,
        "oof_calibrated_all_folds": cal,
        "oof_calibrated_crossfit": crossfit,
        "oof_bias_and_temperature_crossfit": with_bias,
        "class_bias_used": bool(use_bias),
        "oof_shipped_postprocessing_crossfit": shipped,
        "per_fold_challenge_score": per_fold,
        "reliability_calibrated": reliability_table(softmax(logits + bias, t), labels),
    }
    return cv, paper_cv, bias, t


def _paper_cv(oof: _OofRun, shipped_paper: np.ndarray) -> dict:
    """The card's ``cv_paper`` section: the paper round trips' scores, unreadable pages as '~'
    (``shipped_paper``: cross-fitted shipped post-processing of the readable ones)."""
    ok = oof.paper_ok
    return {
        "protocol": "the same held-out records printed on ECG paper (a seeded random "
        "single-lead strip, ecgviewer.rhythm.training.paper_variety) and digitised by the "
        "automatic method (ecgviewer.digitize; told layout, speed, gain, dpi); a "
        "record the digitiser could not read counts as predicted '~'",
        "not_digitised": int((~ok).sum()),
        "oof_uncalibrated": summarize(
            oof.labels, unreadable_as_noise(softmax(oof.logits_paper[ok]), ok)
        ),
        "oof_shipped_postprocessing_crossfit": summarize(
            oof.labels, unreadable_as_noise(shipped_paper, ok)
        ),
    }


def _write_tables(oof: _OofRun, run: Path, out: Path) -> None:
    """The fold table and the OOF logit tables (raw, and paper when the run scored it)."""
    shutil.copyfile(run / "folds.json", out / "rhythm_folds.json")
    lines = ["name,label,fold,logit_N,logit_A,logit_O,logit_noise"]
    lines += [
        f"{n},{CLASSES[y]},{f}," + ",".join(f"{v:.4f}" for v in z)
        for n, y, f, z in zip(oof.names, oof.labels, oof.folds, oof.logits)
    ]
    _write_gz(out / "rhythm_cnn_oof.csv.gz", lines)
    paper_table = out / "rhythm_cnn_oof_paper.csv.gz"
    if oof.logits_paper is not None:
        lines = ["name,label,fold,digitised,logit_N,logit_A,logit_O,logit_noise"]
        lines += [
            f"{n},{CLASSES[y]},{f},{int(ok)}," + ",".join(f"{v:.4f}" for v in z)
            for n, y, f, ok, z in zip(
                oof.names, oof.labels, oof.folds, oof.paper_ok, oof.logits_paper
            )
        ]
        _write_gz(paper_table, lines)
    elif paper_table.exists():
        paper_table.unlink()  # from an earlier model: it would not describe this one


def _base_config(cfg: dict) -> dict | None:
    """The recipe of the run a fine-tuning run started from (None when it did not)."""
    base = cfg.get("init_from")
    path = Path(base) / "config.json" if base else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def _write_gz(path: Path, lines: list[str]) -> None:
    """A gzipped text table; mtime=0 so the same run gives the same bytes."""
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))


def unreadable_as_noise(probs_ok: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Probabilities for every record: those given for the readable ones, certainty of '~'
    (too noisy to read) for the records the digitiser could not read."""
    out = np.zeros((ok.size, len(CLASSES)))
    out[:, CLASSES.index("~")] = 1.0
    out[ok] = probs_ok
    return out
