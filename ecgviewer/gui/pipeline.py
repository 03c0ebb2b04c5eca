"""The jobs the app runs in its worker threads: plain functions that call the core.

The ``pipeline`` runner runs :func:`open_job` (load, then :func:`digitize_job`, then
:func:`rhythm_job`); the ``preview`` runner runs :func:`preview_job`, the live binary image.
Each job has the :mod:`ecgviewer.gui.workers` signature ``fn(token, report, ...)``, checks
``token`` between the stages and hands each stage's result to the GUI as a :class:`Stage`
through ``report.partial``, so the page appears before the waveform and the waveform before
the rhythm result. Nothing here imports Qt; the slow core (torch, the digitiser) is imported
lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgviewer.digitize.binarize import binarize_preview  # eager: the first preview stays quick
from ecgviewer.digitize.stages import prepare_key, signal_with_gaps
from ecgviewer.digitize.types import CropBox, DigitizeSettings
from ecgviewer.errors import EcgViewerError
from ecgviewer.gui.document import fresh_settings


@dataclass(frozen=True)
class Stage:
    """One stage's outcome: ``name`` in loaded, prepared, digitized, digitize_error, rhythm,
    rhythm_error; ``value`` is the result or a one-line message."""

    name: str
    value: Any


@dataclass(frozen=True)
class Prepared:
    """A prepared page with what the GUI needs from it for live previews."""

    key: tuple
    prepared: Any
    page_rgb: np.ndarray
    darkness: np.ndarray


def error_text(exc: BaseException) -> str:
    """One line for the user: our typed errors as they are, others with their type."""
    if isinstance(exc, EcgViewerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def load_job(token, report, path: Path, page: int = 0, pdf_dpi: float | None = None):
    """Decode one page (raises the core's typed errors: the caller keeps its document)."""
    from ecgviewer.io.images import load_image

    report.progress(0.02, f"Reading {Path(path).name}")
    return load_image(path, page=page, pdf_dpi=pdf_dpi)


def prepare_job(token, report, image, settings: DigitizeSettings, key: tuple) -> Prepared:
    """Rotation, perspective, darkness image and grid: the slow part of digitisation.
    ``image`` is a :class:`~ecgviewer.io.images.LoadedImage` (keeps its dpi) or an RGB array."""
    from ecgviewer.digitize import prepare_page

    report.progress(0.1, "Straightening the page and finding the grid")
    prepared = prepare_page(image, settings)
    token.check()
    return Prepared(key, prepared, prepared.image_rgb, prepared.darkness)


def classify_signal(signal_mv: np.ndarray, fs_hz: float):
    """The rhythm model on one lead (imported on first use; it runs single-threaded)."""
    from ecgviewer.rhythm import classify

    return classify(np.asarray(signal_mv, dtype=np.float64), float(fs_hz))


def rhythm_job(token, report, signal_mv: np.ndarray, fs_hz: float) -> Stage:
    """Classify the rhythm lead; a missing model or bad signal becomes a ``rhythm_error``."""
    report.progress(0.8, "Reading the rhythm")
    try:
        result = classify_signal(signal_mv, fs_hz)
    except EcgViewerError as exc:
        stage = Stage("rhythm_error", error_text(exc))
    except ImportError as exc:
        stage = Stage("rhythm_error", f"rhythm model not available ({exc})")
    else:
        stage = Stage("rhythm", result)
    token.check()
    report.partial(stage)
    report.progress(1.0, "Done")
    return stage


def digitize_job(
    token,
    report,
    settings: DigitizeSettings,
    image=None,
    prepared: Prepared | None = None,
    key: tuple = (),
    run_rhythm: bool = True,
) -> Stage:
    """Prepare (unless ``prepared`` fits), digitise, then classify the rhythm lead. A PDF
    page that draws its traces as paths is read from them (the prepared page still serves
    the previews).

    Every stage is reported as a partial :class:`Stage`; digitisation errors (no trace found)
    are a ``digitize_error`` stage, not an exception, since the page itself is fine.
    """
    from ecgviewer.digitize import digitize_prepared
    from ecgviewer.digitize.vector import digitize_if_vector

    if prepared is None:
        prepared = prepare_job(token, report, image, settings, key)
        report.partial(Stage("prepared", prepared))
        token.check()
    report.progress(0.5, "Tracing the leads")
    try:
        dig = digitize_if_vector(image, settings) or digitize_prepared(prepared.prepared, settings)
    except EcgViewerError as exc:
        stage = Stage("digitize_error", error_text(exc))
        token.check()
        report.partial(stage)
        return stage
    token.check()
    report.partial(Stage("digitized", dig))
    if not run_rhythm:
        return Stage("digitized", dig)
    lead = dig.rhythm_lead
    if lead is None or len(lead.signal_mv) == 0:
        stage = Stage("rhythm_error", "no lead to analyse")
        report.partial(stage)
        return stage
    return rhythm_job(token, report, signal_with_gaps(lead), lead.fs_hz)


def open_job(
    token,
    report,
    path: Path,
    page: int,
    pdf_dpi: float | None,
    settings: DigitizeSettings,
    keep_settings: bool = False,
) -> Stage:
    """Load a file then run :func:`digitize_job` on it. A load error raises (the GUI keeps the
    previous document); the loaded image is reported first so the page shows at once.
    ``keep_settings`` (a restored session) uses ``settings`` as they are, else the per-page
    choices go back to automatic."""
    image = load_job(token, report, path, page, pdf_dpi)
    token.check()
    report.partial(Stage("loaded", image))
    if not keep_settings:
        settings = fresh_settings(settings, image.dpi)
    return digitize_job(token, report, settings, image=image, key=prepare_key(settings))


def preview_job(
    token, report, darkness: np.ndarray, method: str, threshold: float | None, crop: CropBox
) -> tuple[np.ndarray, CropBox]:
    """The binary preview of ``darkness`` (the page inside ``crop``), returned with ``crop``
    (the ``preview`` runner keeps only the last setting)."""
    return binarize_preview(darkness, method, threshold), crop
