"""Train the trace segmenter on cached synthetic windows (see :mod:`dataset`).

Loss: class-weighted BCE on every channel plus soft Dice on the trace channel; AdamW with a
warm-up and cosine decay; random 256-px crops with flips from a rotating pool of shards (new
shards written by a running generator are picked up). Checkpoints go to the work folder
(resumable); the best checkpoint by validation trace Dice is written to ``models/`` with a
JSON card. Seeds are fixed; with ``time_budget_s`` the schedule also follows the clock.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ecgviewer.segment.model import SegmenterConfig, TraceSegmenter, count_parameters
from ecgviewer.segment.preprocess import normalise, paper_white
from ecgviewer.segment.training import dataset
from ecgviewer.segment.weights import save_weights

TRACE_TRUE = 0.25  # a pixel at least this covered by the trace counts as trace
CLASS_WEIGHTS = (1.0, 0.3, 0.5)  # BCE weights of trace, grid, marks
TRACE_POS_WEIGHT = 3.0


@dataclass
class TrainConfig:
    shard_dir: Path
    work_dir: Path
    out_path: Path
    steps: int = 6000
    batch: int = 8
    crop: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: int = 150
    seed: int = 0
    threads: int = 1
    pool_shards: int = 8
    refresh_every: int = 100
    val_every: int = 500
    val_limit: int | None = 48  # windows per validation set while training (None: all)
    time_budget_s: float | None = None
    widths: tuple[int, ...] = field(default_factory=lambda: SegmenterConfig().widths)


class WindowPool:
    """Windows of a few random train shards held in memory; one shard swapped per refresh."""

    def __init__(self, shard_dir: Path, size: int, rng: np.random.Generator):
        self.shard_dir, self.size, self.rng = shard_dir, size, rng
        self.loaded: dict[Path, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def refresh(self) -> None:
        available = sorted(self.shard_dir.glob("train-[0-9][0-9][0-9][0-9].npz"))
        if not available:
            raise FileNotFoundError(f"no training shards in {self.shard_dir}")
        if len(self.loaded) >= self.size:
            del self.loaded[list(self.loaded)[int(self.rng.integers(len(self.loaded)))]]
        fresh = [p for p in available if p not in self.loaded]
        while fresh and len(self.loaded) < self.size:
            path = fresh.pop(int(self.rng.integers(len(fresh))))
            d = np.load(path)
            whites = np.stack([paper_white(im) for im in d["images"]])
            self.loaded[path] = (d["images"], d["masks"], whites)

    def batch(self, n: int, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
        keys = list(self.loaded)
        xs, ys = [], []
        for _ in range(n):
            images, masks, whites = self.loaded[keys[int(self.rng.integers(len(keys)))]]
            k = int(self.rng.integers(len(images)))
            s = images.shape[1]
            y0, x0 = self.rng.integers(0, s - crop + 1, 2)
            img = images[k, y0 : y0 + crop, x0 : x0 + crop]
            m = masks[k, y0 : y0 + crop, x0 : x0 + crop]
            if self.rng.random() < 0.5:
                img, m = img[:, ::-1], m[:, ::-1]
            if self.rng.random() < 0.5:
                img, m = img[::-1], m[::-1]
            xs.append(normalise(np.ascontiguousarray(img), whites[k]))
            ys.append(np.ascontiguousarray(m).transpose(2, 0, 1))
        x = torch.from_numpy(np.stack(xs))
        y = torch.from_numpy(np.stack(ys).astype(np.float32) / 255.0)
        return x, y


def trace_target(alpha: torch.Tensor) -> torch.Tensor:
    """Soft trace target: pixels half covered or more are 1 (thin traces stay visible)."""
    return torch.clamp(alpha * 2.0, 0.0, 1.0)


def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    target = torch.cat([trace_target(y[:, :1]), y[:, 1:]], dim=1)
    pos_weight = torch.tensor([TRACE_POS_WEIGHT, 1.0, 2.0]).view(1, 3, 1, 1)
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none")
    bce = (bce.mean(dim=(0, 2, 3)) * torch.tensor(CLASS_WEIGHTS)).sum()
    p = torch.sigmoid(logits[:, 0])
    t = target[:, 0]
    dice = 1 - (2 * (p * t).sum() + 1.0) / (p.sum() + t.sum() + 1.0)
    return bce + dice


def family_keys(family: str) -> list[str]:
    """Report groups of one window: its grid family, photo/scan, held-out styles."""
    grid = family.split("+")[0]
    keys = [f"grid:{grid}", "photo" if "+photo" in family else "scan"]
    if grid == "blue":
        keys.append("held:blue_grid")
    if "+crease" in family:
        keys.append("held:crease")
    return keys


@torch.no_grad()
def evaluate(net: TraceSegmenter, data: dict[str, np.ndarray], batch: int = 8) -> dict:
    """Trace Dice/IoU (threshold 0.5) per report group and overall; grid pixels called trace."""
    net.eval()
    counts: dict[str, np.ndarray] = {}
    grid_hit = grid_n = marks_hit = marks_n = 0
    for i in range(0, len(data["images"]), batch):
        imgs = data["images"][i : i + batch]
        x = torch.from_numpy(np.stack([normalise(im) for im in imgs]))
        pred = torch.sigmoid(net(x)).numpy() >= 0.5
        masks = data["masks"][i : i + batch].astype(np.float32) / 255.0
        for k in range(len(imgs)):
            true = masks[k, ..., 0] >= TRACE_TRUE
            p = pred[k, 0]
            tp, fp, fn = np.sum(p & true), np.sum(p & ~true), np.sum(~p & true)
            on_grid = (masks[k, ..., 1] >= 0.5) & ~true
            grid_hit += np.sum(p & on_grid)
            grid_n += np.sum(on_grid)
            marks = masks[k, ..., 2] >= 0.5
            marks_hit += np.sum(p & marks & ~true)
            marks_n += np.sum(marks & ~true)
            for key in ["all", *family_keys(str(data["family"][i + k]))]:
                counts.setdefault(key, np.zeros(3))
                counts[key] += (tp, fp, fn)
    out = {}
    for key, (tp, fp, fn) in sorted(counts.items()):
        out[key] = {"dice": 2 * tp / max(2 * tp + fp + fn, 1), "iou": tp / max(tp + fp + fn, 1)}
    out["grid_called_trace"] = grid_hit / max(grid_n, 1)
    out["marks_called_trace"] = marks_hit / max(marks_n, 1)
    net.train()
    return out


def _lr(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = step / cfg.steps
    if cfg.time_budget_s:
        progress = max(progress, elapsed_s / cfg.time_budget_s)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * min(progress, 1.0))))


def _load_val(shard_dir: Path, limit: int | None) -> tuple[dict, dict]:
    """Validation windows (training styles, held-out styles), strided down to ``limit``."""
    out = []
    for kind in ("val", "valheld"):
        data = dataset.load_shards(sorted(shard_dir.glob(f"{kind}-[0-9][0-9][0-9][0-9].npz")))
        step = max(1, len(data["images"]) // limit) if limit else 1
        out.append({k: v[::step] for k, v in data.items()})
    return out[0], out[1]


def _log(work_dir: Path, record: dict) -> None:
    with open(work_dir / "log.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training; returns the card of the exported best checkpoint."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    net = TraceSegmenter(SegmenterConfig(widths=tuple(cfg.widths)))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt_path = cfg.work_dir / "ckpt.pt"
    state = {"step": 0, "best_dice": -1.0, "elapsed_s": 0.0}
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        net.load_state_dict(ckpt["net"])
        opt.load_state_dict(ckpt["opt"])
        state = ckpt["state"]
    val: dict = {}  # loaded at the first validation (a generator may still be writing it)
    pool = WindowPool(cfg.shard_dir, cfg.pool_shards, np.random.default_rng([cfg.seed, state["step"]]))
    pool.refresh()
    t0, start_elapsed, running = time.perf_counter(), state["elapsed_s"], []
    net.train()
    while state["step"] < cfg.steps:
        step = state["step"]
        elapsed = start_elapsed + time.perf_counter() - t0
        if cfg.time_budget_s and elapsed > cfg.time_budget_s:
            if running:  # validate (and keep, if best) what the last steps learnt
                val = val or dict(zip(("val", "held"), _load_val(cfg.shard_dir, cfg.val_limit)))
                _validate_and_save(cfg, net, opt, state, val["val"], val["held"], running)
            break
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step, elapsed)
        x, y = pool.batch(cfg.batch, cfg.crop)
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append(loss.item())
        state["step"] = step + 1
        state["elapsed_s"] = start_elapsed + time.perf_counter() - t0
        if state["step"] % cfg.refresh_every == 0:
            pool.refresh()
        if state["step"] % cfg.val_every == 0 or state["step"] == cfg.steps:
            val = val or dict(zip(("val", "held"), _load_val(cfg.shard_dir, cfg.val_limit)))
            _validate_and_save(cfg, net, opt, state, val["val"], val["held"], running)
            running = []
    return json.loads(cfg.out_path.with_suffix(".json").read_text())


def _validate_and_save(cfg, net, opt, state, val, held, running) -> None:
    metrics = evaluate(net, val)
    metrics_held = evaluate(net, held)
    record = {"step": state["step"], "elapsed_s": round(state["elapsed_s"]),
              "loss": float(np.mean(running)) if running else None,
              "val_dice": metrics["all"]["dice"], "held_dice": metrics_held["all"]["dice"],
              "grid_called_trace": metrics["grid_called_trace"],
              "shards": len(list(cfg.shard_dir.glob("train-*.npz")))}
    _log(cfg.work_dir, record)
    if metrics["all"]["dice"] > state["best_dice"]:
        state["best_dice"] = metrics["all"]["dice"]
        card = {
            "parameters": count_parameters(net),
            "step": state["step"],
            "train_seconds": round(state["elapsed_s"]),
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
            "validation": metrics,
            "validation_held_out": metrics_held,
            "trace_true_coverage": TRACE_TRUE,
        }
        save_weights(cfg.out_path, net, card)
    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "state": state},
               cfg.work_dir / "ckpt.tmp")
    (cfg.work_dir / "ckpt.tmp").replace(cfg.work_dir / "ckpt.pt")
