"""Writers of a digitisation's outputs (signal file, JSON summary, overlay PNG), no GUI.

Shared by the ``digitize`` command, the batch runner and the GUI's export actions. Every file
is written atomically (temporary file, then rename), so a failure leaves any earlier file
intact, and nothing is replaced unless ``overwrite=True``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np

from ecgviewer import RESEARCH_NOTICE, __version__
from ecgviewer.digitize.types import Digitization, DigitizeSettings
from ecgviewer.errors import EcgViewerError, OutputExistsError
from ecgviewer.io.names import safe_stem
from ecgviewer.io.signals import Record, atomic_write_bytes, write_csv, write_dicom, write_wfdb

SignalFormat = Literal["wfdb", "csv", "edf", "dicom"]
SIGNAL_FORMATS: tuple[str, ...] = ("wfdb", "csv", "edf", "dicom")
SUMMARY_SCHEMA = "ecgviewer.digitization/1"
OVERLAY_RGB = (0, 120, 255)  # bright blue: stands out on red, green or grey grids and black ink
_SUFFIXES = {
    "wfdb": (".hea", ".dat"),
    "csv": (".csv",),
    "edf": (".edf",),
    "dicom": (".dcm",),
}


# --------------------------------------------------------------------------- paths


def signal_paths(base: str | os.PathLike, format: SignalFormat = "wfdb") -> tuple[Path, ...]:
    """The files :func:`export_signal` writes for ``base`` (a path without extension)."""
    if format not in _SUFFIXES:
        raise EcgViewerError(f"unknown signal format {format!r}; choose from {SIGNAL_FORMATS}")
    base = _strip_suffix(Path(base))
    return tuple(base.parent / (base.name + s) for s in _SUFFIXES[format])


def _strip_suffix(path: Path) -> Path:
    known = {s for sfx in _SUFFIXES.values() for s in sfx} | {".json", ".png"}
    return path.with_suffix("") if path.suffix.lower() in known else path


def check_writable(paths: Iterable[str | os.PathLike], overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` naming the first existing path unless ``overwrite``."""
    if overwrite:
        return
    for p in paths:
        if Path(p).exists():
            raise OutputExistsError(f"{p} exists (use --overwrite to replace it)")


# --------------------------------------------------------------------------- signal


def as_record(
    dig_or_record: Digitization | Record, fs_hz: float | None = None, name: str | None = None
) -> Record:
    """A :class:`Record` (leads on one timeline, NaN in gaps) from a digitisation or record."""
    if isinstance(dig_or_record, Record):
        rec = dig_or_record
    else:
        from ecgviewer.digitize.pipeline import digitization_to_record

        rec = digitization_to_record(dig_or_record, fs_hz=fs_hz)
    return dataclasses.replace(rec, name=name) if name else rec


def export_signal(
    dig_or_record: Digitization | Record,
    path: str | os.PathLike,
    format: SignalFormat = "wfdb",
    *,
    overwrite: bool = False,
    fs_hz: float | None = None,
) -> tuple[Path, ...]:
    """Write the signal in mV as WFDB (``.hea`` + ``.dat``), CSV, EDF or a DICOM ECG waveform
    (``.dcm``); returns the files.

    ``path`` is the output path with or without its extension. WFDB record names may hold
    only letters, digits, ``_`` and ``-``: other characters in the name become ``_``.
    """
    base = _strip_suffix(Path(path))
    if format == "wfdb":
        base = base.with_name(safe_stem(base.name))
    paths = signal_paths(base, format)
    check_writable(paths, overwrite)
    record = as_record(dig_or_record, fs_hz=fs_hz, name=base.name)
    if format == "wfdb":
        return write_wfdb(record, base)
    if format == "csv":
        return (write_csv(record, paths[0]),)
    if format == "dicom":
        return (write_dicom(record, paths[0]),)
    from ecgviewer.io.edf import write_edf

    return (write_edf(record, paths[0]),)


# --------------------------------------------------------------------------- summary


def _jsonable(value):
    """Plain JSON types from dataclasses, numpy scalars/arrays and paths; NaN/inf → null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    if isinstance(value, Path):
        return value.as_posix()
    return value


def summary_dict(
    dig: Digitization, settings: DigitizeSettings | None = None, extra: dict | None = None
) -> dict:
    """What was found on the page, as plain JSON data (see :func:`write_summary_json`)."""
    cal = dig.calibration
    leads = []
    for ld in dig.leads:
        valid = np.asarray(ld.valid_mask, bool)
        leads.append(
            {
                "name": ld.name,
                "fs_hz": ld.fs_hz,
                "start_s": ld.start_s,
                "duration_s": ld.duration_s,
                "n_samples": int(len(ld.signal_mv)),
                "valid_fraction": float(valid.mean()) if valid.size else 0.0,
                "quality": ld.quality,
            }
        )
    out = {
        "schema": SUMMARY_SCHEMA,
        "ecgviewer_version": __version__,
        "notice": RESEARCH_NOTICE,
        "image": {"width_px": dig.image_rgb.shape[1], "height_px": dig.image_rgb.shape[0]},
        "rotation_deg": dig.rotation_deg,
        "crop": dig.crop,
        "threshold": dig.threshold,
        "calibration": {**_jsonable(cal), "px_per_s": cal.px_per_s, "px_per_mv": cal.px_per_mv},
        "layout": {
            "name": dig.layout.name,
            "rhythm_lead": dig.layout.rhythm_lead,
            "boxes": dig.layout.boxes,
        },
        "leads": leads,
        "quality": dig.quality,
        "status": dig.status,  # "ok" or "needs_review" (then review_reasons say why)
        "review_reasons": list(dig.review_reasons),
        "warnings": list(dig.warnings),
        "timings_s": dig.timings_s,
        "settings": settings,
    }
    out.update(extra or {})
    return _jsonable(out)


def write_summary_json(
    dig: Digitization,
    path: str | os.PathLike,
    extra: dict | None = None,
    *,
    settings: DigitizeSettings | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the JSON summary: calibration, layout boxes, leads (name, fs, start, duration,
    valid fraction, quality), warnings, timings, settings, plus ``extra`` (e.g. ``input`` and
    the ``outputs`` list that marks a batch item complete: write this file last)."""
    path = Path(path)
    check_writable([path], overwrite)
    text = json.dumps(summary_dict(dig, settings, extra), indent=1, allow_nan=False)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


# --------------------------------------------------------------------------- overlay


def _polylines(x: np.ndarray, y: np.ndarray, max_step_px: float) -> list[list[tuple[float, float]]]:
    """Split a trace into drawable runs at NaNs and at jumps wider than ``max_step_px``."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return []
    breaks = np.flatnonzero(np.abs(np.diff(x)) > max_step_px) + 1
    runs = []
    for xs, ys in zip(np.split(x, breaks), np.split(y, breaks)):
        pts = list(zip(xs.tolist(), ys.tolist()))
        runs.append(pts if len(pts) > 1 else pts * 2)
    return runs


def render_overlay(dig: Digitization) -> np.ndarray:
    """The page (faded) with each lead's extracted trace in bright blue, its box and name."""
    from PIL import Image, ImageDraw, ImageFont

    page = np.asarray(dig.image_rgb, np.uint8)
    faded = (page.astype(np.float32) * 0.55 + 255 * 0.45).astype(np.uint8)
    base = Image.fromarray(faded).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    h, w = page.shape[:2]
    width_px = max(1, round(min(h, w) / 500))
    font_px = max(10, round(min(h, w) / 45))
    try:
        font = ImageFont.load_default(size=font_px)
    except (TypeError, OSError):  # Pillow without FreeType
        font = ImageFont.load_default()
    for box in dig.layout.boxes:  # sorted corners: never fail a batch over a drawing detail
        xs, ys = sorted((box.x0, box.x1)), sorted((box.y0, box.y1))
        draw.rectangle([xs[0], ys[0], xs[1], ys[1]], outline=(0, 160, 0, 110), width=1)
    for ld in dig.leads:
        for run in _polylines(ld.trace_x_px, ld.trace_y_px, max_step_px=3 * width_px + 2):
            draw.line(run, fill=(*OVERLAY_RGB, 235), width=width_px, joint="curve")
    labelled = set()
    for box in dig.layout.boxes:
        if (box.name, box.x0, box.y0) in labelled:
            continue
        labelled.add((box.name, box.x0, box.y0))
        xy = (min(box.x0, box.x1) + 3, min(box.y0, box.y1) + 2)
        draw.rectangle(draw.textbbox(xy, box.name, font=font), fill=(255, 255, 255, 200))
        draw.text(xy, box.name, fill=(*OVERLAY_RGB, 255), font=font)
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))


def write_overlay_png(
    dig: Digitization, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write :func:`render_overlay` as a PNG: a quick visual check of what was traced."""
    from PIL import Image

    path = Path(path)
    check_writable([path], overwrite)
    buf = io.BytesIO()
    Image.fromarray(render_overlay(dig)).save(buf, format="PNG", compress_level=4)
    return atomic_write_bytes(path, buf.getvalue())
