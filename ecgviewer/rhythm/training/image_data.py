"""Image-derived CinC records: every record printed on ECG paper and read back, cached.

As in the study, the rhythm model is also trained and scored on signals that went through
paper: each record is printed on a seeded, varied single-lead strip
(:mod:`~ecgviewer.rhythm.training.paper_variety`: issue 18's grids, inks, pulses, marks,
handwriting and scanner damage) and digitised by ``ecgviewer.digitize``'s automatic (learned)
method with what a user would tell the app (single-lead layout, paper speed, gain, the file's
dpi). The result is a
:class:`~ecgviewer.rhythm.training.data.RhythmDataset` with the same names, labels and order as the
raw one, so folds, training and scores compare record for record. Records the digitiser
cannot read are kept (all-invalid, ``failed`` set) so nothing silently drops out of a score.

Building takes 5-8 CPU seconds per record; chunks are written as they finish (resumable)
by a pool of worker processes, then joined into one ``.npz`` beside the raw cache. The cache
keeps what the renderer and digitiser did when it was built: delete it (``*_paper_*`` in the
cache folder) after changing either, or bump ``IMAGE_CACHE_VERSION`` in the same commit.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.rhythm.preprocess import MODEL_FS_HZ, preprocess
from ecgviewer.rhythm.training.data import RhythmDataset, default_cache_dir, read_reference
from ecgviewer.rhythm.types import CLASSES

log = logging.getLogger("ecgviewer.rhythm.training.image_data")

# 3: the learned segmenter became the automatic method; 4: issue 18's variety of paper
IMAGE_CACHE_VERSION = 4
CHUNK = 64
SUBSET_CHUNK = 16  # a subset is built in smaller chunks, so a partial build can be scored
LENGTH_TOLERANCE = 0.02  # a page whose digitised length is this close to the printed one was read right


@dataclass(frozen=True)
class PaperRoundTrip:
    """One record printed and read back: the digitised lead (NaN where not read) or an error."""

    signal_mv: np.ndarray
    fs_hz: float
    printed_s: float  # record time on the page (a long record at high gain may not fit)
    error: str | None = None
    tags: str = ""  # what the page had (paper_variety.VarietyPage.tags)

    @property
    def duration_s(self) -> float:
        """Seconds of the digitised lead (0 when the page could not be read)."""
        return self.signal_mv.size / self.fs_hz if self.error is None else 0.0

    def conditioned(self, fs_hz: float = MODEL_FS_HZ) -> tuple[np.ndarray, np.ndarray]:
        """(samples, valid mask) as the network sees them; one invalid sample if unreadable."""
        if self.error is not None:
            return np.zeros(1, np.float32), np.zeros(1, bool)
        return preprocess(self.signal_mv, self.fs_hz, fs_hz)


def length_read_right(digitised_s: np.ndarray, printed_s: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per page: digitised and its length within ``LENGTH_TOLERANCE`` of the printed length
    (a misread length means rows lost, added or mis-scaled)."""
    ratio = np.asarray(digitised_s) / np.maximum(np.asarray(printed_s), 1e-9)
    return np.asarray(ok, bool) & (np.abs(ratio - 1.0) <= LENGTH_TOLERANCE)


def print_and_read(record, seed: int, output_fs_hz: float = 250.0) -> PaperRoundTrip:
    """Print ``record`` (first lead) on a random strip of the variety and digitise it back
    (automatic method; told the single-lead layout, speed, gain and the file's dpi)."""
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.errors import EcgViewerError
    from ecgviewer.rhythm.training.paper_variety import DPI, draw_page

    page = draw_page(record, seed)
    settings = DigitizeSettings(
        layout="single",
        paper_speed_mm_s=page.style.paper_speed_mm_s,
        gain_mm_mv=page.style.gain_mm_mv,
        dpi=DPI,
        output_fs_hz=output_fs_hz,
    )
    try:
        lead = digitize(page.image_rgb, settings).rhythm_lead
        if lead is None:
            raise EcgViewerError("no rhythm lead found")
    except (EcgViewerError, ValueError) as exc:
        error = str(exc) or type(exc).__name__
        return PaperRoundTrip(np.zeros(0), output_fs_hz, page.printed_s, error, page.tags)
    x = np.asarray(lead.signal_mv, float).copy()
    x[~np.asarray(lead.valid_mask, bool)] = np.nan
    return PaperRoundTrip(x, lead.fs_hz, page.printed_s, tags=page.tags)


def record_seed(seed: int, index: int) -> int:
    """The seed of record ``index``'s page (style, distortions) in the set built with ``seed``."""
    return seed * 100_003 + index


def _chunk_path(chunk_dir: Path, k: int) -> Path:
    return chunk_dir / f"chunk{k:04d}.npz"


def _build_chunk(
    data_dir: str, names: list[str], index: list[int], seed: int, chunk_dir: str, k: int,
    fs_hz: float,
) -> int:
    """Print and read records ``names`` (``index``: their places in the full set, which seed
    their pages); write one chunk file atomically."""
    from ecgviewer.io.signals import read_cinc_mat

    sigs, masks, failed, printed, digit_s, errors, tags = [], [], [], [], [], [], []
    for name, i in zip(names, index):
        rec = read_cinc_mat(Path(data_dir) / f"{name}.mat")
        trip = print_and_read(rec, seed=record_seed(seed, i))
        x, m = trip.conditioned(fs_hz)
        digit_s.append(trip.duration_s)
        sigs.append(x)
        masks.append(m)
        failed.append(trip.error is not None)
        printed.append(trip.printed_s)
        errors.append(trip.error or "")
        tags.append(trip.tags)
    out = _chunk_path(Path(chunk_dir), k)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        names=np.array(names),
        lengths=np.array([s.size for s in sigs], np.int64),
        samples=np.concatenate(sigs),
        valid=np.concatenate(masks),
        failed=np.array(failed),
        printed_s=np.array(printed),
        digitised_s=np.array(digit_s),
        errors=np.array(errors),
        tags=np.array(tags),
    )
    os.replace(tmp, out)
    return k


@dataclass(frozen=True)
class ImageDerivedSet:
    """The image-derived dataset and per-record facts about the round trip."""

    dataset: RhythmDataset
    failed: np.ndarray  # bool per record: the digitiser raised (scored as unreadable)
    printed_s: np.ndarray  # record seconds on the page
    digitised_s: np.ndarray  # seconds of the digitised lead
    errors: tuple[str, ...]
    tags: tuple[str, ...]  # per record: what its page had (``grid=red pulse=apart pen=0``)


def load_image_derived(
    data_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 2017,
    workers: int = 2,
    fs_hz: float = MODEL_FS_HZ,
    limit: int | None = None,
    indices: list[int] | None = None,
    build: bool = True,
) -> ImageDerivedSet:
    """All labelled records of ``data_dir`` printed and digitised (built once, then cached).

    ``limit`` builds only the first records (a smoke test); ``indices`` only those records
    (a benchmark subset, in that order; each page is the one the full set has). The full set
    is what training uses. ``build=False`` builds nothing and returns the records of the
    chunks finished so far (scoring a build still running).
    """
    data_dir = Path(data_dir)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    tag = f"cinc2017_{data_dir.name}_paper_s{seed}_{fs_hz:g}hz_v{IMAGE_CACHE_VERSION}"
    every = read_reference(data_dir)
    chunk = CHUNK
    if indices is not None:
        digest = hashlib.sha1(np.asarray(indices, np.int64).tobytes()).hexdigest()[:10]
        tag, chunk = f"{tag}_subset{len(indices)}_{digest}", SUBSET_CHUNK
    elif limit is not None:
        tag = f"{tag}_first{limit}"
    index = list(range(len(every)))[:limit] if indices is None else [int(i) for i in indices]
    rows = [every[i] for i in index]
    final = cache_dir / f"{tag}.npz"
    chunk_dir = cache_dir / f"{tag}_chunks"
    n_chunks = (len(rows) + chunk - 1) // chunk
    if not final.exists() and not build:
        done = [k for k in range(n_chunks) if _chunk_path(chunk_dir, k).exists()]
        if not done:
            raise FileNotFoundError(f"{chunk_dir}: no chunk of this set is finished yet")
        partial = cache_dir / f"{tag}_partial.npz"
        _join_chunks(chunk_dir, done, partial)
        got = {str(n) for k in done for n in np.load(_chunk_path(chunk_dir, k))["names"]}
        return _read(partial, [r for r in rows if r[0] in got], fs_hz)
    if not final.exists():
        chunk_dir.mkdir(parents=True, exist_ok=True)
        names = [n for n, _ in rows]
        todo = [k for k in range(n_chunks) if not _chunk_path(chunk_dir, k).exists()]
        t0 = time.time()
        # spawn, not fork: a forked child that runs torch (the trace segmenter) after the
        # parent started torch's thread pool deadlocks
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=spawn) as pool:
            futures = [
                pool.submit(
                    _build_chunk,
                    str(data_dir),
                    names[k * chunk : (k + 1) * chunk],
                    index[k * chunk : (k + 1) * chunk],
                    seed,
                    str(chunk_dir),
                    k,
                    fs_hz,
                )
                for k in todo
            ]
            for n_done, fut in enumerate(as_completed(futures), 1):
                fut.result()
                log.info(
                    "paper round trip: %d/%d chunks, %.0f s", n_done, len(todo), time.time() - t0
                )
        _join_chunks(chunk_dir, range(n_chunks), final)
    return _read(final, rows, fs_hz)


def _join_chunks(chunk_dir: Path, chunks, final: Path) -> None:
    parts = [np.load(_chunk_path(chunk_dir, k)) for k in chunks]
    lengths = np.concatenate([p["lengths"] for p in parts] or [np.zeros(0, np.int64)])
    tmp = final.with_suffix(".tmp.npz")
    joined = {
        key: np.concatenate([p[key] for p in parts])
        for key in ("names", "samples", "valid", "failed", "printed_s", "digitised_s", "errors",
                    "tags")
    }
    np.savez(tmp, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), **joined)
    os.replace(tmp, final)


def _read(path: Path, rows: list[tuple[str, str]], fs_hz: float) -> ImageDerivedSet:
    z = np.load(path)
    names = tuple(str(n) for n in z["names"])
    if names != tuple(n for n, _ in rows):
        raise ValueError(f"{path}: cached records do not match the labels; delete it to rebuild")
    ds = RhythmDataset(
        names=names,
        labels=np.array([CLASSES.index(lab) for _, lab in rows], np.int64),
        samples=z["samples"],
        valid=z["valid"],
        offsets=z["offsets"],
        fs_hz=fs_hz,
    )
    return ImageDerivedSet(
        dataset=ds,
        failed=z["failed"],
        printed_s=z["printed_s"],
        digitised_s=z["digitised_s"],
        errors=tuple(str(e) for e in z["errors"]),
        tags=tuple(str(t) for t in z["tags"]),
    )


def describe(s: ImageDerivedSet, data_dir: str | Path) -> str:
    """How well a paper set was read: unreadable pages, pages whose digitised length is within
    2 % of the printed one, the median ratio, and how many pages printed the whole record."""
    n = len(s.dataset)
    ratio = s.digitised_s / np.maximum(s.printed_s, 1e-9)
    ok = ~s.failed
    right = length_read_right(s.digitised_s, s.printed_s, ok)
    whole = s.printed_s >= _durations(data_dir)[:n] - 0.05
    return (
        f"{int(s.failed.sum())} not digitised; "
        f"digitised/printed duration within 2 %: {right[ok].mean():.3f}, "
        f"median {np.median(ratio[ok]):.3f}; printed the whole record: "
        f"{whole.mean():.3f}"
    )


def _durations(data_dir: str | Path) -> np.ndarray:
    """Raw record durations (from the raw cache when present)."""
    from ecgviewer.rhythm.training.data import load_cinc

    raw = load_cinc(data_dir)
    return raw.lengths() / raw.fs_hz
