"""CinC 2017 training data: read every record once, preprocess, cache as one .npz; fixed folds."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.rhythm.preprocess import MODEL_FS_HZ, preprocess
from ecgviewer.rhythm.types import CLASSES

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get("ECGVIEWER_CACHE", Path.home() / ".cache" / "ecgviewer"))


@dataclass(frozen=True)
class RhythmDataset:
    """Preprocessed records at ``fs_hz``: ``signal(i)`` and ``valid(i)``; labels are class ids."""

    names: tuple[str, ...]
    labels: np.ndarray  # int64 index into CLASSES
    samples: np.ndarray  # float32, all records concatenated
    valid: np.ndarray  # bool, same shape as samples
    offsets: np.ndarray  # int64, len(names) + 1
    fs_hz: float

    def __len__(self) -> int:
        return len(self.names)

    def signal(self, i: int) -> np.ndarray:
        return self.samples[self.offsets[i] : self.offsets[i + 1]]

    def mask(self, i: int) -> np.ndarray:
        return self.valid[self.offsets[i] : self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def from_signals(
        cls,
        names: tuple[str, ...],
        labels: np.ndarray,
        signals: list[np.ndarray],
        masks: list[np.ndarray],
        fs_hz: float,
    ) -> RhythmDataset:
        """One dataset from per-record (samples, valid mask) pairs, in order."""
        return cls(
            names=tuple(names),
            labels=np.asarray(labels, np.int64),
            samples=np.concatenate(signals),
            valid=np.concatenate(masks),
            offsets=np.concatenate([[0], np.cumsum([x.size for x in signals])]).astype(np.int64),
            fs_hz=fs_hz,
        )


def first_records(ds: RhythmDataset, n: int) -> RhythmDataset:
    """The first ``n`` records of ``ds`` (smoke tests)."""
    end = int(ds.offsets[n])
    return RhythmDataset(
        ds.names[:n], ds.labels[:n], ds.samples[:end], ds.valid[:end], ds.offsets[: n + 1], ds.fs_hz
    )


def concat_datasets(a: RhythmDataset, b: RhythmDataset) -> RhythmDataset:
    """Records of ``a`` then those of ``b`` (same rate): record ``len(a) + i`` is ``b``'s ``i``."""
    if a.fs_hz != b.fs_hz:
        raise ValueError(f"cannot join datasets at {a.fs_hz} Hz and {b.fs_hz} Hz")
    return RhythmDataset(
        names=a.names + b.names,
        labels=np.concatenate([a.labels, b.labels]),
        samples=np.concatenate([a.samples, b.samples]),
        valid=np.concatenate([a.valid, b.valid]),
        offsets=np.concatenate([a.offsets, a.offsets[-1] + b.offsets[1:]]),
        fs_hz=a.fs_hz,
    )


def read_reference(data_dir: Path) -> list[tuple[str, str]]:
    """(name, label) rows of REFERENCE-v3.csv (or any REFERENCE*.csv) in ``data_dir``."""
    data_dir = Path(data_dir)
    refs = sorted(data_dir.glob("REFERENCE*.csv"), reverse=True)
    if not refs:
        from ecgviewer.errors import SignalFormatError

        raise SignalFormatError(f"{data_dir}: no REFERENCE*.csv with labels")
    with refs[0].open() as fh:
        return [(r[0].strip(), r[1].strip()) for r in csv.reader(fh) if len(r) >= 2]


def load_cinc(
    data_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    fs_hz: float = MODEL_FS_HZ,
) -> RhythmDataset:
    """All labelled records of ``data_dir``, preprocessed; cached under ``cache_dir``."""
    from ecgviewer.io.signals import read_cinc_mat

    data_dir = Path(data_dir)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache = cache_dir / f"cinc2017_{data_dir.name}_{fs_hz:g}hz_v{CACHE_VERSION}.npz"
    rows = read_reference(data_dir)
    if cache.exists():
        z = np.load(cache)
        if len(z["names"]) == len(rows):
            return RhythmDataset(
                names=tuple(str(n) for n in z["names"]),
                labels=z["labels"],
                samples=z["samples"],
                valid=z["valid"],
                offsets=z["offsets"],
                fs_hz=float(z["fs_hz"]),
            )
    sigs, masks, labels, names = [], [], [], []
    for name, lab in rows:
        rec = read_cinc_mat(data_dir / f"{name}.mat")
        x, m = preprocess(rec.signal_mv[:, 0], rec.fs_hz, fs_hz)
        sigs.append(x)
        masks.append(m)
        labels.append(CLASSES.index(lab))
        names.append(name)
    ds = RhythmDataset.from_signals(tuple(names), np.array(labels), sigs, masks, fs_hz)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        names=np.array(names),
        labels=ds.labels,
        samples=ds.samples,
        valid=ds.valid,
        offsets=ds.offsets,
        fs_hz=fs_hz,
    )
    os.replace(tmp, cache)
    return ds


def stratified_folds(labels: np.ndarray, k: int = 5, seed: int = 2017) -> np.ndarray:
    """Fold id (0..k-1) per record, stratified by label, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        fold[idx] = np.arange(idx.size) % k
    return fold


def save_folds(
    path: str | os.PathLike, names: tuple[str, ...], fold: np.ndarray, seed: int
) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(
        json.dumps(
            {
                "seed": seed,
                "k": int(fold.max()) + 1,
                "folds": {n: int(f) for n, f in zip(names, fold)},
            }
        )
    )


def load_folds(path: str | os.PathLike, names: tuple[str, ...]) -> np.ndarray:
    d = json.loads(Path(path).read_text())["folds"]
    return np.array([d[n] for n in names], np.int64)
