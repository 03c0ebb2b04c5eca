"""Model soup: one network per fold from the mean weights of several fine-tunes of one base.

Fine-tuning runs that start from the same base run (``init_from``) stay in its loss basin, so
the average of their weights is a single network, with no extra parameters or inference time,
that is usually better than each of them (Wortsman et al., "Model soups", ICML 2022). The soup
is written as a run folder that :mod:`ecgviewer.rhythm.training.finalize` packages like any other:
``fold{k}.pt`` (mean weights), ``oof_fold{k}.npz`` (the held-out fold scored again, raw and,
when the ingredients were, printed and digitised), ``fold{k}.json``, ``folds.json`` and
``config.json`` (the first ingredient's recipe, plus ``soup_of`` and every ingredient's
recipe in ``soup_configs``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from ecgviewer.rhythm.model import ModelConfig, RhythmCNN
from ecgviewer.rhythm.training.data import load_cinc
from ecgviewer.rhythm.training.train import write_held_out

log = logging.getLogger("ecgviewer.rhythm.training.soup")


def mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts with the same keys and shapes (integer buffers such as
    BatchNorm's batch counter are rounded back to their type)."""
    if not states:
        raise ValueError("a soup needs at least one ingredient")
    keys = list(states[0])
    for s in states[1:]:
        if list(s) != keys or any(s[k].shape != states[0][k].shape for k in keys):
            raise ValueError("soup ingredients have different architectures")
    out = {}
    for k in keys:
        mean = torch.stack([s[k].double() for s in states]).mean(dim=0)
        dtype = states[0][k].dtype
        out[k] = (mean.round() if not dtype.is_floating_point else mean).to(dtype)
    return out


def _same_recipe_base(configs: list[dict], runs: list[Path]) -> None:
    """Refuse ingredients that cannot be averaged: another architecture or another base."""
    for key in ("model", "init_from", "k_folds"):
        values = {json.dumps(c.get(key), sort_keys=True) for c in configs}
        if len(values) > 1:
            raise ValueError(f"soup ingredients differ in {key!r}: {[str(r) for r in runs]}")
    if not configs[0].get("init_from"):
        raise ValueError("soup ingredients must be fine-tunes of one base run (init_from)")


def make_soup(
    runs: list[str | Path], out_dir: str | Path, data_dir: str | Path, cache_dir: str | None = None
) -> list[dict]:
    """Average every fold's weights over ``runs`` and score the held-out folds again."""
    runs, out = [Path(r) for r in runs], Path(out_dir)
    configs = [json.loads((r / "config.json").read_text()) for r in runs]
    _same_recipe_base(configs, runs)
    folds_json = (runs[0] / "folds.json").read_text()
    for r in runs[1:]:
        if json.loads((r / "folds.json").read_text())["folds"] != json.loads(folds_json)["folds"]:
            raise ValueError(f"soup ingredients {runs[0]} and {r} have different folds")
    cfg = configs[0]
    mcfg = ModelConfig.from_dict(cfg["model"])
    torch.set_num_threads(int(cfg.get("threads", 1)))
    raw = load_cinc(data_dir, cache_dir)
    first = np.load(runs[0] / "oof_fold0.npz")
    paper = None
    if "logits_paper" in first:
        from ecgviewer.rhythm.training.image_data import load_image_derived

        paper = load_image_derived(data_dir, cache_dir, cfg.get("paper_seed", 2017)).dataset
    out.mkdir(parents=True, exist_ok=True)
    (out / "folds.json").write_text(folds_json)
    (out / "config.json").write_text(
        json.dumps({**cfg, "soup_of": [str(r) for r in runs], "soup_configs": configs}, indent=1)
    )
    infos = []
    for k in range(int(cfg["k_folds"])):
        t0 = time.time()
        state = mean_state([torch.load(r / f"fold{k}.pt", weights_only=True) for r in runs])
        net = RhythmCNN(mcfg)
        net.load_state_dict(state)
        held = np.load(runs[0] / f"oof_fold{k}.npz")
        idx, labels = held["idx"], held["labels"]
        torch.save(state, out / f"fold{k}.pt")
        scores = write_held_out(
            out / f"oof_fold{k}.npz",
            net,
            labels,
            (raw, idx),
            (paper, idx, held["paper_ok"]) if paper is not None else None,
        )
        ingredients = [json.loads((r / f"fold{k}.json").read_text()) for r in runs]
        info = {
            "fold": k,
            "soup_of": [str(r) for r in runs],
            **scores,
            "ingredient_oof_scores": [i["oof_score"] for i in ingredients],
            # training time of the ingredients; the averaging itself takes seconds
            "wall_s": float(sum(i["wall_s"] for i in ingredients)),
            "n_test": int(idx.size),
        }
        (out / f"fold{k}.json").write_text(json.dumps(info, indent=1))
        log.info("fold %d soup: %s (%.0f s)", k, scores, time.time() - t0)
        infos.append(info)
    return infos
