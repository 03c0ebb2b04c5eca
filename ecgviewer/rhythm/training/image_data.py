"""Image-derived CinC records: every record printed on ECG paper and read back, cached.

As in the study, the rhythm model is also trained and scored on signals that went through
paper: each record is rendered by ``ecgviewer.render`` (a seeded, varied single-lead style
and distortions) and digitised by ``ecgviewer.digitize`` with what a user would tell the app
(single-lead layout, paper speed, gain, the file's dpi). The result is a
:class:`~ecgviewer.rhythm.training.data.RhythmDataset` with the same names, labels and order as the
raw one, so folds, training and scores compare record for record. Records the digitiser
cannot read are kept (all-invalid, ``failed`` set) so nothing silently drops out of a score.

Building takes about a CPU second per record; chunks are written as they finish (resumable)
by a pool of worker processes, then joined into one ``.npz`` beside the raw cache. The cache
keeps what the renderer and digitiser did when it was built: delete it (``*_paper_*`` in the
cache folder) after changing either, or bump ``IMAGE_CACHE_VERSION`` in the same commit.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ecgviewer.rhythm.preprocess import MODEL_FS_HZ, preprocess
from ecgviewer.rhythm.training.data import RhythmDataset, default_cache_dir, read_reference
from ecgviewer.rhythm.types import CLASSES

log = logging.getLogger("ecgviewer.rhythm.training.image_data")

IMAGE_CACHE_VERSION = 3  # 3: the learned segmenter became the automatic method (issue 18)
CHUNK = 64
LENGTH_TOLERANCE = 0.02  # a page whose digitised length is this close to the printed one was read right
DPI_CHOICES = (100.0, 150.0, 200.0)  # 300 dpi costs 3-4x the time and reads no better


@dataclass(frozen=True)
class PaperRoundTrip:
    """One record printed and read back: the digitised lead (NaN where not read) or an error."""

    signal_mv: np.ndarray
    fs_hz: float
    printed_s: float  # record time on the page (a long record at high gain may not fit)
    error: str | None = None

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


def page_style(seed: int):
    """The (style, distortions) a record's page is printed with: seeded, random single-lead."""
    from ecgviewer.render import random_style

    rng = np.random.default_rng(seed)
    style, distortions = random_style(rng, ("single",))
    return replace(style, dpi=float(rng.choice(DPI_CHOICES))), distortions


def print_and_read(record, seed: int, output_fs_hz: float = 250.0) -> PaperRoundTrip:
    """Render ``record`` (first lead) in a random single-lead style and digitise it back."""
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.errors import EcgViewerError
    from ecgviewer.render import render_ecg

    style, distortions = page_style(seed)
    page = None
    # a long record at 20 mm/mV or 50 mm/s may not fit the page: fall back to what fits
    for fallback in (
        {},
        {"gain_mm_mv": min(style.gain_mm_mv, 10.0)},
        {"gain_mm_mv": min(style.gain_mm_mv, 10.0), "paper_speed_mm_s": 25.0, "row_seconds": 10.0},
        {"gain_mm_mv": 5.0, "paper_speed_mm_s": 25.0, "row_seconds": 10.0},
    ):
        style_try = replace(style, **fallback)
        page = render_ecg(record, style_try, seed=seed, distortions=distortions)
        printed_s = page.box_times_s[-1][1] - page.box_times_s[0][0] if page.box_times_s else 0.0
        if printed_s >= record.duration_s - 0.05:
            break
    style = page.style
    settings = DigitizeSettings(
        layout="single",
        paper_speed_mm_s=style.paper_speed_mm_s,
        gain_mm_mv=style.gain_mm_mv,
        dpi=style.dpi,
        output_fs_hz=output_fs_hz,
    )
    try:
        lead = digitize(page.image_rgb, settings).rhythm_lead
        if lead is None:
            raise EcgViewerError("no rhythm lead found")
    except (EcgViewerError, ValueError) as exc:
        return PaperRoundTrip(np.zeros(0), output_fs_hz, printed_s, str(exc) or type(exc).__name__)
    x = np.asarray(lead.signal_mv, float).copy()
    x[~np.asarray(lead.valid_mask, bool)] = np.nan
    return PaperRoundTrip(x, lead.fs_hz, printed_s)


def record_seed(seed: int, index: int) -> int:
    """The seed of record ``index``'s page (style, distortions) in the set built with ``seed``."""
    return seed * 100_003 + index


def _chunk_path(chunk_dir: Path, k: int) -> Path:
    return chunk_dir / f"chunk{k:04d}.npz"


def _build_chunk(
    data_dir: str, names: list[str], first: int, seed: int, chunk_dir: str, k: int, fs_hz: float
) -> int:
    """Print and read records ``first..first+len(names)``; write one chunk file atomically."""
    from ecgviewer.io.signals import read_cinc_mat

    sigs, masks, failed, printed, digit_s, errors = [], [], [], [], [], []
    for j, name in enumerate(names):
        rec = read_cinc_mat(Path(data_dir) / f"{name}.mat")
        trip = print_and_read(rec, seed=record_seed(seed, first + j))
        x, m = trip.conditioned(fs_hz)
        digit_s.append(trip.duration_s)
        sigs.append(x)
        masks.append(m)
        failed.append(trip.error is not None)
        printed.append(trip.printed_s)
        errors.append(trip.error or "")
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


def load_image_derived(
    data_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 2017,
    workers: int = 2,
    fs_hz: float = MODEL_FS_HZ,
    limit: int | None = None,
) -> ImageDerivedSet:
    """All labelled records of ``data_dir`` printed and digitised (built once, then cached).

    ``limit`` builds only the first records (a smoke test); the full set is what training and
    the benchmarks use.
    """
    data_dir = Path(data_dir)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    tag = f"cinc2017_{data_dir.name}_paper_s{seed}_{fs_hz:g}hz_v{IMAGE_CACHE_VERSION}"
    rows = read_reference(data_dir)[:limit]
    final = cache_dir / f"{tag}{'' if limit is None else f'_first{limit}'}.npz"
    if not final.exists():
        chunk_dir = cache_dir / f"{tag}_chunks"
        chunk_dir.mkdir(parents=True, exist_ok=True)
        names = [n for n, _ in rows]
        todo = [
            k
            for k in range((len(names) + CHUNK - 1) // CHUNK)
            if not _chunk_path(chunk_dir, k).exists()
        ]
        t0 = time.time()
        # spawn, not fork: a forked child that runs torch (the trace segmenter) after the
        # parent started torch's thread pool deadlocks
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=spawn) as pool:
            futures = [
                pool.submit(
                    _build_chunk,
                    str(data_dir),
                    names[k * CHUNK : (k + 1) * CHUNK],
                    k * CHUNK,
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
        _join_chunks(chunk_dir, len(names), final)
    return _read(final, rows, fs_hz)


def _join_chunks(chunk_dir: Path, n_records: int, final: Path) -> None:
    parts = [np.load(_chunk_path(chunk_dir, k)) for k in range((n_records + CHUNK - 1) // CHUNK)]
    lengths = np.concatenate([p["lengths"] for p in parts])
    tmp = final.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        names=np.concatenate([p["names"] for p in parts]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        samples=np.concatenate([p["samples"] for p in parts]),
        valid=np.concatenate([p["valid"] for p in parts]),
        failed=np.concatenate([p["failed"] for p in parts]),
        printed_s=np.concatenate([p["printed_s"] for p in parts]),
        digitised_s=np.concatenate([p["digitised_s"] for p in parts]),
        errors=np.concatenate([p["errors"] for p in parts]),
    )
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
