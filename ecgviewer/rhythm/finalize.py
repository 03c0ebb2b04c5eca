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

from ecgviewer.rhythm.calibrate import (
    crossfit_postprocess,
    crossfit_temperature_probs,
    fit_class_bias,
    fit_temperature,
)
from ecgviewer.rhythm.data import read_reference
from ecgviewer.rhythm.infer import MODEL_FORMAT, save_model
from ecgviewer.rhythm.metrics import reliability_table, softmax, summarize
from ecgviewer.rhythm.model import ModelConfig, RhythmCNN, count_parameters
from ecgviewer.rhythm.preprocess import BAND_HZ, MODEL_FS_HZ
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


def finalize(run_dir: str | Path, models_out: str | Path, data_dir: str | Path) -> dict:
    run, out = Path(run_dir), Path(models_out)
    cfg = json.loads((run / "config.json").read_text())
    fold_of = json.loads((run / "folds.json").read_text())
    # the records the run used (all of them, or the first few of a smoke test)
    names = [n for n, _ in read_reference(Path(data_dir)) if n in fold_of["folds"]]
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
    # post-processing is fitted on every OOF prediction the model must serve: the raw records,
    # plus their paper round trips when the run scored those
    n = len(names)
    fit_z, fit_y, fit_f = served_inputs(
        logits, labels, folds, *((logits_paper, paper_ok) if has_paper else ())
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
    paper_cv = None
    if has_paper:
        shipped_paper = (bias_all if use_bias else cross_all)[n:]
        paper_cv = {
            "protocol": "the same held-out records printed on ECG paper (random single-lead "
            "style and distortions, ecgviewer.render) and digitised (ecgviewer.digitize); a "
            "record the digitiser could not read counts as predicted '~'",
            "not_digitised": int((~paper_ok).sum()),
            "oof_uncalibrated": summarize(
                labels, unreadable_as_noise(softmax(logits_paper[paper_ok]), paper_ok)
            ),
            "oof_shipped_postprocessing_crossfit": summarize(
                labels, unreadable_as_noise(shipped_paper, paper_ok)
            ),
        }
    per_fold = [
        summarize(labels[folds == f], softmax(logits[folds == f]))["challenge_score"]
        for f in range(k)
    ]
    mcfg = ModelConfig.from_dict(cfg["model"])
    sha = save_model(out / "rhythm_cnn.pt", states, mcfg, t, MODEL_FS_HZ, tuple(bias))
    n_params = count_parameters(RhythmCNN(mcfg))
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
            "params_per_member": n_params,
            "members": k,
            "ensemble": "mean of member logits, each averaged over both polarities",
        },
        "temperature": t,
        "class_bias": [float(v) for v in bias],
        "cv_paper": paper_cv,
        "cv": {
            "protocol": f"stratified {k}-fold, seed {fold_of['seed']}; per fold, a 10% inner split of the "
            "training folds picks the epoch; scores are out-of-fold single-model predictions",
            "oof_uncalibrated": raw,
            "oof_calibrated_all_folds": cal,
            "oof_calibrated_crossfit": crossfit,
            "oof_bias_and_temperature_crossfit": with_bias,
            "class_bias_used": bool(use_bias),
            "oof_shipped_postprocessing_crossfit": shipped,
            "per_fold_challenge_score": per_fold,
            "reliability_calibrated": reliability_table(softmax(logits + bias, t), labels),
        },
        "training": {
            "config": cfg,
            "base_config": _base_config(cfg),
            "folds": infos,
            "wall_s_total": float(sum(i["wall_s"] for i in infos)),
            "hardware": "2-core shared x86_64 CPU, 1 torch thread",
        },
        "licence": LICENCE,
    }
    (out / "rhythm_cnn.json").write_text(json.dumps(card, indent=1))
    (out / "MODEL_CARD.md").write_text(model_card_markdown(card))
    shutil.copyfile(run / "folds.json", out / "rhythm_folds.json")
    lines = ["name,label,fold,logit_N,logit_A,logit_O,logit_noise"]
    lines += [
        f"{n},{CLASSES[y]},{f}," + ",".join(f"{v:.4f}" for v in z)
        for n, y, f, z in zip(names, labels, folds, logits)
    ]
    _write_gz(out / "rhythm_cnn_oof.csv.gz", lines)
    paper_table = out / "rhythm_cnn_oof_paper.csv.gz"
    if has_paper:
        lines = ["name,label,fold,digitised,logit_N,logit_A,logit_O,logit_noise"]
        lines += [
            f"{n},{CLASSES[y]},{f},{int(ok)}," + ",".join(f"{v:.4f}" for v in z)
            for n, y, f, ok, z in zip(names, labels, folds, paper_ok, logits_paper)
        ]
        _write_gz(paper_table, lines)
    elif paper_table.exists():
        paper_table.unlink()  # from an earlier model: it would not describe this one
    return card


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Package a finished CV run as the shipped rhythm model")
    p.add_argument("--run", default="work_tmp/rhythm_cv")
    p.add_argument("--models", default="models")
    p.add_argument("--data", required=True)
    a = p.parse_args(argv)
    card = finalize(a.run, a.models, a.data)
    from ecgviewer.rhythm.metrics import format_summary

    print("OOF, uncalibrated:\n" + format_summary(card["cv"]["oof_uncalibrated"]))
    print(
        "OOF, shipped post-processing (cross-fitted):\n"
        + format_summary(card["cv"]["oof_shipped_postprocessing_crossfit"])
    )
    if card.get("cv_paper"):
        print(
            "OOF on image-derived signals, shipped post-processing (cross-fitted):\n"
            + format_summary(card["cv_paper"]["oof_shipped_postprocessing_crossfit"])
        )
    print(
        f"temperature {card['temperature']:.3f}; ECE after (cross-fitted): "
        f"{card['cv']['oof_calibrated_crossfit']['ece']:.4f}; sha256 {card['sha256']}"
    )
    return 0


def _cm_md(cm: list[list[int]]) -> str:
    lines = ["| ref \\ pred | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(CLASSES, cm)]
    return "\n".join(lines)


def _fold_row(info: dict) -> str:
    """One row of the card's per-fold table; a soup's fold shows its ingredients' scores."""
    if "soup_of" in info:
        scores = ", ".join(f"{v:.3f}" for v in info["ingredient_oof_scores"])
        chosen = f"soup of {len(info['soup_of'])} (OOF {scores})"
        sizes, inner = f"– / – / {info['n_test']}", "–"
    else:
        chosen, inner = str(info["best_epoch"]), f"{info['inner_val_score']:.3f}"
        sizes = f"{info['n_train']} / {info['n_inner_val']} / {info['n_test']}"
    return (
        f"| {info['fold']} | {sizes} | {chosen} | {inner} | {info['oof_score']:.3f} | "
        f"{info['wall_s'] / 60:.1f} |"
    )


def _finetune_note(cfg: dict) -> str:
    """One sentence on fine-tuning and paper round trips, when the recipe used them."""
    note = ""
    if cfg.get("init_from"):
        note += (
            f" Fine-tuned: every fold starts from the same fold's weights of the run "
            f"`{cfg['init_from']}` (whose recipe is in `rhythm_cnn.json`, training.base_config)."
        )
    if cfg.get("paper_frac"):
        note += (
            f" Each training record is drawn as its paper round trip (printed by"
            f" `ecgviewer.render`, digitised by `ecgviewer.digitize`) with probability"
            f" {cfg['paper_frac']:g}; "
            + (
                "the last epoch is kept."
                if cfg.get("keep_epoch") == "last"
                else "the epoch is picked on the mean of the raw and paper inner-validation scores."
            )
        )
    if cfg.get("soup_of"):
        ingredients = "; ".join(
            f"seed {c['seed']}, {c.get('keep_epoch', 'best')} epoch" for c in cfg["soup_configs"]
        )
        note += (
            f" Each fold's network is a model soup: the mean weights of {len(cfg['soup_of'])}"
            f" such fine-tunes of the same base fold ({ingredients};"
            " `python -m ecgviewer.rhythm.soup`)."
        )
    return note


def _paper_section(card: dict) -> str:
    """Markdown for the image-derived (paper round trip) CV results, if the run scored them."""
    paper = card.get("cv_paper")
    if not paper:
        return ""
    raw = card["cv"]["oof_uncalibrated"]
    unc, ship = paper["oof_uncalibrated"], paper["oof_shipped_postprocessing_crossfit"]
    raw_ship = card["cv"]["oof_shipped_postprocessing_crossfit"]
    row = lambda s: " | ".join(f"{s['f1'][c]:.3f}" for c in CLASSES)  # noqa: E731
    return f"""
## Cross-validated results on image-derived signals (same folds, same records)
Protocol: {paper["protocol"]}. Not digitised: {paper["not_digitised"]} of {unc["n"]}.

| input | F1 {" | F1 ".join(CLASSES)} | challenge score | accuracy | ECE |
|---|---|---|---|---|---|---|---|
| raw, raw OOF logits | {row(raw)} | **{raw["challenge_score"]:.4f}** | {raw["accuracy"]:.4f} | {raw["ece"]:.4f} |
| paper, raw OOF logits | {row(unc)} | **{unc["challenge_score"]:.4f}** | {unc["accuracy"]:.4f} | {unc["ece"]:.4f} |
| raw, shipped post-processing (cross-fitted) | {row(raw_ship)} | **{raw_ship["challenge_score"]:.4f}** | {raw_ship["accuracy"]:.4f} | {raw_ship["ece"]:.4f} |
| paper, shipped post-processing (cross-fitted) | {row(ship)} | **{ship["challenge_score"]:.4f}** | {ship["accuracy"]:.4f} | {ship["ece"]:.4f} |

Drop raw → paper (shipped post-processing): {raw_ship["challenge_score"] - ship["challenge_score"]:+.4f}.
Confusion matrix, paper, shipped post-processing (cross-fitted):

{_cm_md(ship["confusion"])}
"""


def model_card_markdown(card: dict) -> str:
    """The human model card (models/MODEL_CARD.md) from the JSON card."""
    cv = card["cv"]
    raw, cross, ship = (
        cv["oof_uncalibrated"],
        cv["oof_calibrated_crossfit"],
        cv["oof_shipped_postprocessing_crossfit"],
    )
    tr = card["training"]
    cfg = tr["config"]
    arch = card["architecture"]
    f1 = " | ".join(f"{raw['f1'][c]:.3f}" for c in CLASSES)
    f1_ship = " | ".join(f"{ship['f1'][c]:.3f}" for c in CLASSES)
    bias = ", ".join(f"{c}: {v:+.2f}" for c, v in zip(CLASSES, card["class_bias"]))
    folds = "\n".join(_fold_row(i) for i in tr["folds"])
    return f"""# Rhythm model card: `rhythm_cnn`

Research software, not a medical device. Classifies one ECG lead as **N** (normal sinus rhythm),
**A** (atrial fibrillation), **O** (other rhythm) or **~** (too noisy).

## Files
- `rhythm_cnn.pt` ({card["size_bytes"] / 1e6:.2f} MB, sha256 `{card["sha256"]}`), checked on load
  against `rhythm_cnn.json` (machine-readable card, everything below and more).
- `rhythm_cnn_oof.csv.gz`: out-of-fold logits of every training record, with its fold.
- `rhythm_folds.json`: the fold of every record (stratified {len(tr["folds"])}-fold, seed {cfg["seed"]}).
- `train_config.json`: the training recipe (and `finetune_paper_config.json`, the fine-tuning
  on paper round trips, when the card says the run started from another).
- `rhythm_cnn_oof_paper.csv.gz` (when the run scored paper round trips): the same records'
  out-of-fold logits from their printed-and-digitised version.

## Input
One lead in **mV**, any sampling rate (resampled to {card["input"]["model_fs_hz"]:g} Hz), band-pass
{card["input"]["bandpass_hz"][0]:g}-{card["input"]["bandpass_hz"][1]:g} Hz, robust amplitude normalisation, NaN = gap
(masked). Minimum 1 s; a warning below 5 s; trained on 9-61 s AliveCor records (lead I-like).
Both polarities are scored and averaged, so an inverted lead gives the same answer.

## Model
{arch["type"]}; {arch["params_per_member"]:,} parameters per member, {arch["members"]} members
(one per fold), {arch["ensemble"]}. Config: `{json.dumps(arch["config"])}`.
Post-processing: per-class logit offsets ({bias}; {"used" if cv["class_bias_used"] else "not used: no gain on held-out folds"})
fitted on OOF logits to maximise the challenge score, then temperature scaling (NLL on all
OOF logits): **T = {card["temperature"]:.3f}**.

## Data
PhysioNet/CinC Challenge 2017 training set as provided here: 7,528 records (N 4481, A 669,
O 2132, ~ 246), labels `REFERENCE-v3.csv`.

## Recipe
Stratified {len(tr["folds"])}-fold CV (seed {cfg["seed"]}). Per fold, 10% of the training folds
(stratified) is an inner validation split that picks the best epoch (challenge score), so the
held-out fold is never used for any choice. {cfg["epochs"]} epochs max (early stop after
{cfg["patience"]} without improvement), batch {cfg["batch_size"]}, random crops of
{cfg["crop_s"][0]:g}-{cfg["crop_s"][1]:g} s (one length per batch, length-bucketed), random polarity
inversion, amplitude scaling 0.8-1.25, Gaussian noise; class-weighted cross-entropy
(weights (n/count)^{cfg["class_weight_power"]}), label smoothing {cfg["label_smoothing"]}; AdamW
(lr {cfg["lr"]}, wd {cfg["weight_decay"]}), one-cycle schedule. CPU only, 1 torch thread.{_finetune_note(cfg)}

| fold | train / inner-val / test | best epoch | inner-val score | OOF score | minutes |
|---|---|---|---|---|---|
{folds}

Training wall time: **{tr["wall_s_total"] / 60:.0f} min** in total ({tr["hardware"]}; the CPU was
shared with other jobs, so this is an upper bound).

## Cross-validated results (out-of-fold, single fold models)
Challenge score (mean F1 of N, A, O), argmax of the raw OOF logits: **{raw["challenge_score"]:.4f}**
(accuracy {raw["accuracy"]:.4f}; per fold: {", ".join(f"{v:.3f}" for v in cv["per_fold_challenge_score"])}).
With the shipped post-processing, its parameters fitted on the other four folds for each fold
(cross-fitted, so still out-of-sample): **{ship["challenge_score"]:.4f}** (accuracy {ship["accuracy"]:.4f}).

| F1 | {" | ".join(CLASSES)} |
|---|---|---|---|---|
| raw OOF | {f1} |
| + post-processing (cross-fitted) | {f1_ship} |

Confusion matrix, raw OOF (rows = reference):

{_cm_md(raw["confusion"])}

Confusion matrix with the shipped post-processing (cross-fitted):

{_cm_md(ship["confusion"])}

Expected calibration error (10 bins, top label): {raw["ece"]:.4f} before temperature scaling,
{cross["ece"]:.4f} after (temperature fitted on the other four folds' OOF logits, so this is
an honest estimate); {ship["ece"]:.4f} with the shipped post-processing (cross-fitted). The shipped ensemble averages member logits; its calibration was not
measured separately (no data left that all members have not seen).

The shipped model is the ensemble of the {arch["members"]} fold models: the numbers above describe a
single member on unseen data; averaging members is usually as good or better but is not
separately validated here.

{_paper_section(card)}
Speed, PTB-XL cross-device and image-derived results: `rhythm_benchmarks.md`
(`benchmarks/bench_rhythm.py`, `benchmarks/bench_rhythm_images.py`).

## Limitations
- The challenge winners reached about 0.83 on the hidden test set; this CV estimate is on the
  public training data and is not comparable one-to-one.
- Single-lead AliveCor training data: other leads/devices (e.g. 12-lead lead II) shift the
  input distribution; see `benchmarks/bench_rhythm.py` for a PTB-XL check.
- Signals digitised from paper may be shorter (2.5-10 s) than the 9-61 s training records.

## Licence and citation
{card["licence"]}
"""


if __name__ == "__main__":
    raise SystemExit(main())
