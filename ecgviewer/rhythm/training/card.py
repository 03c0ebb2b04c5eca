"""The human model card (models/MODEL_CARD.md), written from the JSON card ``finalize`` makes.

One function per section; :func:`model_card_markdown` joins them. The text is the record of
the shipped run: change it only together with models/MODEL_CARD.md.
"""

from __future__ import annotations

import json

from ecgviewer.rhythm.types import CLASSES


def model_card_markdown(card: dict) -> str:
    """The human model card (models/MODEL_CARD.md) from the JSON card."""
    return (
        _intro(card)
        + _model_and_data(card)
        + _recipe(card)
        + _cv_results(card)
        + _paper_section(card)
        + _closing(card)
    )


def _intro(card: dict) -> str:
    """Title, what the model does, its files and its input."""
    tr = card["training"]
    cfg = tr["config"]
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

"""


def _model_and_data(card: dict) -> str:
    """Architecture, post-processing and the training data."""
    cv = card["cv"]
    arch = card["architecture"]
    bias = ", ".join(f"{c}: {v:+.2f}" for c, v in zip(CLASSES, card["class_bias"]))
    return f"""## Model
{arch["type"]}; {arch["params_per_member"]:,} parameters per member, {arch["members"]} members
(one per fold), {arch["ensemble"]}. Config: `{json.dumps(arch["config"])}`.
Post-processing: per-class logit offsets ({bias}; {"used" if cv["class_bias_used"] else "not used: no gain on held-out folds"})
fitted on OOF logits to maximise the challenge score, then temperature scaling (NLL on all
OOF logits): **T = {card["temperature"]:.3f}**.

## Data
PhysioNet/CinC Challenge 2017 training set as provided here: 7,528 records (N 4481, A 669,
O 2132, ~ 246), labels `REFERENCE-v3.csv`.

"""


def _recipe(card: dict) -> str:
    """The training recipe and the per-fold table."""
    tr = card["training"]
    cfg = tr["config"]
    folds = "\n".join(_fold_row(i) for i in tr["folds"])
    return f"""## Recipe
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

"""


def _cv_results(card: dict) -> str:
    """Cross-validated scores, confusion matrices and calibration of the raw records."""
    cv = card["cv"]
    raw, cross, ship = (
        cv["oof_uncalibrated"],
        cv["oof_calibrated_crossfit"],
        cv["oof_shipped_postprocessing_crossfit"],
    )
    arch = card["architecture"]
    f1 = " | ".join(f"{raw['f1'][c]:.3f}" for c in CLASSES)
    f1_ship = " | ".join(f"{ship['f1'][c]:.3f}" for c in CLASSES)
    return f"""## Cross-validated results (out-of-fold, single fold models)
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

"""


def _closing(card: dict) -> str:
    """Pointers to the benchmarks, limitations and the licence."""
    return f"""
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
            f" `ecgviewer.rhythm.training.paper_variety`, digitised by `ecgviewer.digitize`)"
            f" with probability"
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
            " `ecgviewer train-soup`)."
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
