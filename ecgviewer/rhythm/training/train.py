"""Cross-validated training of the rhythm CNN on CinC 2017 (CPU friendly, resumable).

Per fold: a stratified inner validation split (10 % of the training folds) picks the best
epoch, so the held-out fold's out-of-fold (OOF) logits are never used for any choice. Each
fold writes ``fold{k}.pt`` and ``oof_fold{k}.npz``; a finished fold is skipped on restart.
``finalize`` joins the OOF logits, fits the temperature and writes the shipped model + card.

With ``paper_frac > 0`` every training record is drawn, with that probability, as its paper
round trip (printed and digitised, :mod:`ecgviewer.rhythm.training.image_data`) instead of the raw
samples, and each held-out fold is scored on both, record for record. ``init_from`` starts each
fold from the weights of an earlier run's same fold: fine-tuning, as the study did.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgviewer.rhythm.metrics import challenge_score
from ecgviewer.rhythm.model import ModelConfig, RhythmCNN
from ecgviewer.rhythm.training.data import (
    RhythmDataset,
    concat_datasets,
    first_records,
    load_cinc,
    load_folds,
    save_folds,
    stratified_folds,
)

log = logging.getLogger("ecgviewer.rhythm.training.train")


@dataclass(frozen=True)
class TrainConfig:
    data_dir: str = ""
    out_dir: str = "work_tmp/rhythm_cv"
    cache_dir: str | None = None
    seed: int = 2017
    k_folds: int = 5
    folds: tuple[int, ...] = (0, 1, 2, 3, 4)
    epochs: int = 30
    batch_size: int = 32
    crop_s: tuple[float, float] = (15.0, 30.0)
    lr: float = 3e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.05
    class_weight_power: float = 0.5  # weight = (n / count) ** power
    inner_val_frac: float = 0.1
    patience: int = 8
    keep_epoch: str = "best"  # "best" inner-val epoch, or "last" (annealed; for fine-tuning,
    # where a 10 % inner split cannot tell the epochs apart and picking among them adds noise)
    threads: int = 1
    max_batches: int = 0  # >0: smoke test, stop each epoch after this many batches
    paper_frac: float = 0.0  # probability a training record is drawn as its paper round trip
    paper_seed: int = 2017  # seed of the paper round-trip set (styles, distortions)
    paper_workers: int = 2  # processes building that set the first time
    paper_limit: int | None = None  # smoke test: only the first records (and only those trained)
    init_from: str | None = None  # run folder with fold{k}.pt to fine-tune from
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if self.keep_epoch not in ("best", "last"):
            raise ValueError(f"keep_epoch must be 'best' or 'last', got {self.keep_epoch!r}")

    @classmethod
    def from_json(cls, path: str | Path, **over) -> TrainConfig:
        d = json.loads(Path(path).read_text()) if path else {}
        d.update({k: v for k, v in over.items() if v is not None})
        if "model" in d and isinstance(d["model"], dict):
            d["model"] = ModelConfig.from_dict(d["model"])
        for k in ("folds", "crop_s"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


# ----------------------------------------------------------------------------- batches


def make_batch(
    ds: RhythmDataset,
    idx: np.ndarray,
    length: int | None,
    rng: np.random.Generator | None,
    augment: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack records (random crop of ``length`` samples, or whole when None) with masks."""
    lens = ds.lengths()[idx]
    L = int(lens.max()) if length is None else int(min(length, lens.max()))
    x = np.zeros((len(idx), 1, L), np.float32)
    m = np.zeros((len(idx), 1, L), np.float32)
    for j, i in enumerate(idx):
        s, v = ds.signal(i), ds.mask(i)
        n = s.size
        start = int(rng.integers(0, n - L + 1)) if (rng is not None and n > L) else 0
        seg, vs = s[start : start + L], v[start : start + L]
        x[j, 0, : seg.size] = seg
        m[j, 0, : seg.size] = vs
    if augment and rng is not None:
        b = len(idx)
        sign = np.where(rng.random(b) < 0.5, -1.0, 1.0).astype(np.float32)
        scale = np.exp(rng.uniform(np.log(0.8), np.log(1.25), b)).astype(np.float32)
        x = x * (sign * scale)[:, None, None]
        noise = rng.uniform(0.0, 0.05, b).astype(np.float32)[:, None, None]
        x = (x + noise * rng.standard_normal(x.shape).astype(np.float32)) * m
    return torch.from_numpy(x), torch.from_numpy(m)


def predict_logits(
    model: nn.Module, ds: RhythmDataset, idx: np.ndarray, batch_size: int = 32
) -> np.ndarray:
    """Whole-record logits averaged over both polarities (test-time augmentation)."""
    model.eval()
    dev = next(model.parameters()).device
    order = idx[np.argsort(ds.lengths()[idx], kind="stable")]
    out = {}
    with torch.no_grad():
        for a in range(0, len(order), batch_size):
            b = order[a : a + batch_size]
            x, m = (t.to(dev) for t in make_batch(ds, b, None, None, False))
            z = 0.5 * (model(x, m) + model(-x, m))
            for i, row in zip(b, z.cpu().numpy()):
                out[int(i)] = row
    return np.stack([out[int(i)] for i in idx])


# ----------------------------------------------------------------------------- training


def _inner_split(
    labels: np.ndarray, train_idx: np.ndarray, frac: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels[train_idx]):
        ids = train_idx[labels[train_idx] == c].copy()
        rng.shuffle(ids)
        val.extend(ids[: max(1, round(frac * ids.size))])
    val = np.array(sorted(val), np.int64)
    return np.setdiff1d(train_idx, val), val


def train_fold(
    cfg: TrainConfig,
    ds: RhythmDataset,
    fold: np.ndarray,
    k: int,
    device: str = "cpu",
    paper_ok: np.ndarray | None = None,
) -> dict:
    """Train on folds != k, early-stop on the inner split, save weights and OOF logits of fold k.

    ``ds`` holds the raw records, followed (when ``paper_ok`` is given: one flag per raw
    record, False where the digitiser failed) by their paper round trips in the same order.
    """
    out = Path(cfg.out_dir)
    n_raw = len(fold)
    torch.manual_seed(cfg.seed + k)
    rng = np.random.default_rng(cfg.seed + 100 * k)
    tr, va = _inner_split(ds.labels, np.flatnonzero(fold != k), cfg.inner_val_frac, cfg.seed + k)
    te = np.flatnonzero(fold == k)
    loss_fn = _class_weighted_loss(cfg, ds.labels[tr], device)
    model = _start_model(cfg, k, device)
    t_fold = time.time()
    fit = _Fit(cfg, ds, n_raw, paper_ok, device, rng)
    best, best_state, best_epoch = fit.run(model, loss_fn, tr, va, k)
    model.load_state_dict(best_state)
    wall = time.time() - t_fold
    torch.save(best_state, out / f"fold{k}.pt")
    paper = (ds, te + n_raw, paper_ok[te]) if paper_ok is not None else None
    scores = write_held_out(out / f"oof_fold{k}.npz", model, ds.labels[te], (ds, te), paper)
    info = {
        "fold": k,
        "best_epoch": best_epoch,
        "inner_val_score": best,
        **scores,
        "wall_s": wall,
        "n_train": int(tr.size),
        "n_inner_val": int(va.size),
        "n_test": int(te.size),
    }
    (out / f"fold{k}.json").write_text(json.dumps(info, indent=1))
    log.info(
        "fold %d done: best epoch %d, inner-val %.4f, OOF %.4f, %.1f min",
        k,
        best_epoch,
        best,
        scores["oof_score"],
        wall / 60,
    )
    return info


def _class_weighted_loss(cfg: TrainConfig, labels: np.ndarray, device: str) -> nn.Module:
    """Cross-entropy with class weights (n / count) ** power over the training ``labels``,
    scaled so that the mean weight per record is 1; label smoothing from the recipe."""
    counts = np.bincount(labels, minlength=cfg.model.n_classes).astype(float)
    w = (counts.sum() / np.maximum(counts, 1)) ** cfg.class_weight_power
    w = w / (w * counts).sum() * counts.sum()
    return nn.CrossEntropyLoss(
        weight=torch.tensor(w, dtype=torch.float32, device=device),
        label_smoothing=cfg.label_smoothing,
    )


def _start_model(cfg: TrainConfig, k: int, device: str) -> RhythmCNN:
    """A fresh network, or fold k of the run ``cfg.init_from`` when fine-tuning."""
    model = RhythmCNN(cfg.model).to(device)
    if cfg.init_from:
        model.load_state_dict(torch.load(Path(cfg.init_from) / f"fold{k}.pt", weights_only=True))
        log.info("fold %d starts from %s", k, Path(cfg.init_from) / f"fold{k}.pt")
    return model


@dataclass
class _Fit:
    """The epoch loop of one fold: what every epoch needs besides the network and the split."""

    cfg: TrainConfig
    ds: RhythmDataset
    n_raw: int  # paper round trip of record i is record i + n_raw of ``ds``
    paper_ok: np.ndarray | None
    device: str
    rng: np.random.Generator

    def run(
        self, model: nn.Module, loss_fn: nn.Module, tr: np.ndarray, va: np.ndarray, k: int
    ) -> tuple[float, dict, int]:
        """Train on ``tr``, pick the epoch on ``va``; (score, weights, index) of that epoch."""
        cfg = self.cfg
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        n_batches = int(np.ceil(tr.size / cfg.batch_size))
        if cfg.max_batches:
            n_batches = min(n_batches, cfg.max_batches)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=cfg.epochs * n_batches, pct_start=0.2
        )
        best, best_state, best_epoch, stale = -1.0, None, -1, 0
        for epoch in range(cfg.epochs):
            t0 = time.time()
            model.train()
            batches = self.bucketed_batches(tr)[:n_batches]
            loss = self.train_epoch(model, loss_fn, opt, sched, batches)
            t_train = time.time() - t0
            score = self.inner_val_score(model, va)
            log.info(
                "fold %d epoch %d loss %.4f inner-val score %.4f (train %.0f s, val %.0f s)",
                k,
                epoch,
                loss,
                score,
                t_train,
                time.time() - t0 - t_train,
            )
            if score > best or cfg.keep_epoch == "last":
                best, best_epoch, stale = score, epoch, 0
                best_state = {n: t.detach().cpu().clone() for n, t in model.state_dict().items()}
            else:
                stale += 1
                if stale >= cfg.patience:
                    log.info("fold %d early stop at epoch %d", k, epoch)
                    break
        return best, best_state, best_epoch

    def bucketed_batches(self, tr: np.ndarray) -> list[np.ndarray]:
        """One epoch's batches: shuffle, sort by length within chunks of 16 batches (less
        padding), then shuffle the batches."""
        lens = self.ds.lengths()
        perm = self.rng.permutation(tr)
        chunk = 16 * self.cfg.batch_size
        perm = np.concatenate(
            [
                c[np.argsort(lens[c], kind="stable")]
                for c in np.array_split(perm, max(1, perm.size // chunk))
            ]
        )
        size = self.cfg.batch_size
        batches = [perm[a : a + size] for a in range(0, perm.size, size)]
        self.rng.shuffle(batches)
        return batches

    def train_epoch(
        self,
        model: nn.Module,
        loss_fn: nn.Module,
        opt: torch.optim.Optimizer,
        sched: torch.optim.lr_scheduler.LRScheduler,
        batches: list[np.ndarray],
    ) -> float:
        """One pass over ``batches`` (random crops; with paper round trips, each record drawn
        as its round trip with probability ``paper_frac``); returns the mean loss."""
        cfg, ds, rng = self.cfg, self.ds, self.rng
        total, seen = 0.0, 0
        for b in batches:
            crop = int(rng.uniform(*cfg.crop_s) * ds.fs_hz)
            if self.paper_ok is not None:
                paper = self.paper_ok[b] & (rng.random(b.size) < cfg.paper_frac)
                b = np.where(paper, b + self.n_raw, b)
            x, m = (t.to(self.device) for t in make_batch(ds, b, crop, rng, True))
            y = torch.from_numpy(ds.labels[b]).to(self.device)
            loss = loss_fn(model(x, m), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
            seen += len(b)
        return total / max(seen, 1)

    def inner_val_score(self, model: nn.Module, va: np.ndarray) -> float:
        """Challenge score on the inner split; with paper round trips the model must serve both
        inputs: the mean of the raw and the paper score."""
        ds = self.ds
        score = challenge_score(ds.labels[va], predict_logits(model, ds, va).argmax(1))
        if self.paper_ok is not None:
            vp = va[self.paper_ok[va]]
            zp = predict_logits(model, ds, vp + self.n_raw)
            score = 0.5 * (score + challenge_score(ds.labels[vp], zp.argmax(1)))
        return score


def write_held_out(
    path: Path,
    model: nn.Module,
    labels: np.ndarray,
    raw: tuple[RhythmDataset, np.ndarray],
    paper: tuple[RhythmDataset, np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Score a fold's held-out records from their raw samples (``raw``: dataset, indices) and,
    when ``paper`` is given (dataset, indices, readable flags), from their paper round trips,
    an unreadable page counting as '~'; write the OOF table ``path`` (.npz) that ``finalize``
    reads; return ``oof_score`` (and ``oof_score_paper``)."""
    ds, idx = raw
    z = predict_logits(model, ds, idx)
    scores = {"oof_score": challenge_score(labels, z.argmax(1))}
    extra = {}
    if paper is not None:
        paper_ds, paper_idx, ok = paper
        zp = predict_logits(model, paper_ds, paper_idx)
        extra = {"logits_paper": zp, "paper_ok": ok}
        scores["oof_score_paper"] = challenge_score(labels, np.where(ok, zp.argmax(1), 3))
    np.savez(path, idx=idx, logits=z, labels=labels, **extra)
    return scores


def train_cv(cfg: TrainConfig) -> list[dict]:
    """Run (or resume) every fold in ``cfg.folds``; returns their summaries."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _setup_logging(out / "train.log")
    torch.set_num_threads(cfg.threads)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.use_deterministic_algorithms(True, warn_only=dev != "cpu")
    log.info("device %s, %d CPU thread(s)", dev, cfg.threads)
    # the run's recipe: the same for every invocation, whichever folds each one trains (folds
    # can be trained by parallel processes into the same run folder)
    cfg_json = {**asdict(cfg), "folds": list(range(cfg.k_folds))}
    (out / "config.json").write_text(json.dumps(cfg_json, indent=1))
    t0 = time.time()
    ds = load_cinc(cfg.data_dir, cfg.cache_dir)
    log.info("loaded %d records in %.1f s", len(ds), time.time() - t0)
    paper_ok = None
    if cfg.paper_frac > 0:
        from ecgviewer.rhythm.training.image_data import load_image_derived

        paper = load_image_derived(
            cfg.data_dir, cfg.cache_dir, cfg.paper_seed, cfg.paper_workers, limit=cfg.paper_limit
        )
        n = len(paper.dataset)
        if n < len(ds):  # smoke test on the first records only
            ds = first_records(ds, n)
        paper_ok = ~paper.failed
        ds = concat_datasets(ds, paper.dataset)
        log.info("paper round trips: %d records, %d not digitised", n, int(paper.failed.sum()))
    folds_path = out / "folds.json"
    names = ds.names[: len(ds) if paper_ok is None else len(paper_ok)]
    labels = ds.labels[: len(names)]
    if folds_path.exists():
        fold = load_folds(folds_path, names)
    elif cfg.init_from:  # fine-tuning keeps the folds (and their seed) of the run it starts from
        base_folds = Path(cfg.init_from) / "folds.json"
        fold = load_folds(base_folds, names)
        save_folds(folds_path, names, fold, json.loads(base_folds.read_text())["seed"])
    else:
        fold = stratified_folds(labels, cfg.k_folds, cfg.seed)
        save_folds(folds_path, names, fold, cfg.seed)
    infos = []
    for k in cfg.folds:
        if (out / f"fold{k}.json").exists():
            infos.append(json.loads((out / f"fold{k}.json").read_text()))
            log.info("fold %d already done, skipped", k)
            continue
        infos.append(train_fold(cfg, ds, fold, k, dev, paper_ok))
    return infos


def _setup_logging(path: Path) -> None:
    root = logging.getLogger("ecgviewer")
    root.setLevel(logging.INFO)
    if not any(isinstance(h, logging.FileHandler) for h in root.handlers):
        fh = logging.FileHandler(path)
        fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        root.addHandler(fh)
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        root.addHandler(sh)
