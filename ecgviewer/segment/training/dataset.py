"""Cached training windows: npz shards of synthetic pages, written ahead of training.

Shards live in a work folder (``work_tmp/segdata/`` by default, git-ignored): ``train-*.npz``
from training records and styles, ``val-*.npz`` (validation records, training styles) and
``valheld-*.npz`` (validation records, held-out styles). Each shard holds ``images`` and
``masks`` (N×S×S×3 uint8) and ``family`` (N strings). Generation is seeded per shard, so a
shard is the same whenever it is made, and an existing shard is never rewritten (resumable).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ecgviewer.segment.training import synth

TRAIN_PTBXL = range(1, 281)  # PTB-XL 301-400 belong to the benchmarks
VAL_PTBXL = range(281, 301)
TRAIN_CINC = (0, 5000)  # CinC RECORDS indices; the tail belongs to the benchmarks
VAL_CINC = (5000, 5300)


def set_threads(threads: int) -> None:
    """Threads torch may use for the warps (the command layer does not import torch)."""
    torch.set_num_threads(max(1, int(threads)))


def split_records(data_dir: Path, split: str) -> list[Path]:
    """Record files of ``split`` ("train" or "val"); PTB-XL three times as likely as CinC."""
    if split == "train":
        ptb, cinc = synth.ptbxl_records(data_dir, TRAIN_PTBXL), synth.cinc_records(data_dir, *TRAIN_CINC)
    else:
        ptb, cinc = synth.ptbxl_records(data_dir, VAL_PTBXL), synth.cinc_records(data_dir, *VAL_CINC)
    rng = np.random.default_rng(0)
    cinc = [cinc[i] for i in rng.choice(len(cinc), size=max(len(ptb) // 3, 1), replace=False)]
    return ptb + cinc


def write_shard(path: Path, records: list[Path], seed: int, pages: int, windows: int,
                size: int, held_out: bool) -> None:
    rng = np.random.default_rng(seed)
    images, masks, families = [], [], []
    for _ in range(pages):
        page = synth.make_windows(records, rng, n_windows=windows, size=size, held_out=held_out)
        images.append(page.image_rgb)
        masks.append(page.masks)
        families += [page.family] * len(page.image_rgb)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, images=np.concatenate(images), masks=np.concatenate(masks),
             family=np.asarray(families))
    os.replace(tmp, path)


def generate(out_dir: Path, data_dir: Path, kind: str, n_shards: int, seed: int = 0,
             pages_per_shard: int = 8, windows: int = 4, size: int = 512,
             first: int = 0) -> list[Path]:
    """Make shards ``{kind}-{k:04d}.npz`` (kind: train, val, valheld), k in [first, n_shards),
    that do not exist yet (several processes may share the work with different ``first``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = split_records(data_dir, "train" if kind == "train" else "val")
    offset = {"train": 0, "val": 1_000_000, "valheld": 2_000_000}[kind]
    paths = []
    for k in range(first, n_shards):
        path = out_dir / f"{kind}-{k:04d}.npz"
        if not path.exists():
            write_shard(path, records, seed * 10_000_000 + offset + k, pages_per_shard, windows,
                        size, held_out=kind == "valheld")
        paths.append(path)
    return paths


def load_shards(paths: list[Path]) -> dict[str, np.ndarray]:
    parts = [np.load(p) for p in paths]
    return {key: np.concatenate([p[key] for p in parts]) for key in ("images", "masks", "family")}
