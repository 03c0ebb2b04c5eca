"""The digitisation pipeline: page image → calibrated leads (mV vs s).

Two cacheable stages so an interactive caller re-runs only what changed:

* :func:`prepare_page` — perspective and curl (photos), rotation, grid scale, a wrinkled
  sheet flattened by its grid (:mod:`ecgviewer.digitize.wrinkles`; scans and flat pages),
  grid-suppressed darkness map and (for "auto", on first use) the learned segmenter's trace probability (slow, depends only on
  the image, rotation and perspective settings);
* :func:`digitize_prepared` — crop, binarise, calibrate, layout, trace (fast; re-run after a
  threshold, crop, layout, speed or gain change).

:func:`digitize` runs both; :func:`digitization_to_record` turns the result into a
:class:`~ecgviewer.io.signals.Record` on a common timeline.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ecgviewer.digitize.binarize import AUTO_THRESHOLD, binarize
from ecgviewer.digitize.calibration import DEFAULT_PX_PER_MM, calibrate, reconcile_grid
from ecgviewer.digitize.checks import review_reasons
from ecgviewer.digitize.dewarp import correct_page_geometry
from ecgviewer.digitize.geometry import estimate_rotation_deg, rotate_image
from ecgviewer.digitize.grid import GridMeasurement, measure_grid
from ecgviewer.digitize.layout import LayoutDetection, detect_layout
from ecgviewer.digitize.learned import (
    LazyTraceMaps,
    TraceMaps,
    auto_map_threshold,
    combine_with_ink,
)
from ecgviewer.digitize.preprocess import as_rgb_uint8, trace_darkness
from ecgviewer.digitize.resample import page_points
from ecgviewer.digitize.rows import find_page_pulse, marks_ink
from ecgviewer.digitize.stages import MIN_CROP_PX, clip_crop, prepare_settings, signal_with_gaps
from ecgviewer.digitize.trace import TracePath, path_baseline, path_to_lead, trace_path
from ecgviewer.digitize.types import Digitization, DigitizeSettings, Lead
from ecgviewer.digitize.vector import digitize_if_vector
from ecgviewer.digitize.wrinkles import flatten_wrinkles
from ecgviewer.errors import NoTraceFoundError
from ecgviewer.io.images import LoadedImage, load_image
from ecgviewer.io.signals import Record
from ecgviewer.paper import STANDARD_LEADS, Calibration, Layout, LeadBox

_MIN_QUALITY = 0.1  # below this mean lead quality the page is reported as having no trace
_NAN_GAP_S = 0.05  # untraced stretches longer than this become NaN in a Record


@dataclass(frozen=True)
class PreparedPage:
    """The slow, image-only stage: the corrected page and everything measured on it."""

    image_rgb: np.ndarray  # rotated (and perspective-corrected) page, uint8 H×W×3
    darkness: np.ndarray  # float32 H×W in [0,1], higher = ink (grid suppressed)
    rotation_deg: float
    perspective_corrected: bool
    grid: GridMeasurement
    dpi: float | None
    warnings: tuple[str, ...] = ()
    timings_s: dict = field(default_factory=dict)
    wrinkles_flattened: bool = False  # resampled flat by its grid's local displacement
    maps: LazyTraceMaps | None = field(default=None, compare=False, repr=False)

    def trace_maps(self, compute: bool = True) -> TraceMaps | None:
        """The automatic method's trace probability (computed on first use, ~1 s, then
        cached); with ``compute=False`` only when already computed."""
        if self.maps is None:
            return None
        return self.maps.get() if compute else self.maps.peek()


def _as_loaded(
    image: str | os.PathLike | LoadedImage | np.ndarray,
) -> tuple[np.ndarray, float | None]:
    if isinstance(image, LoadedImage):
        return image.rgb, image.dpi
    if isinstance(image, (str, os.PathLike, Path)):
        loaded = load_image(image)  # a scanned PDF at its own dpi
        return loaded.rgb, loaded.dpi
    return as_rgb_uint8(np.asarray(image)), None


def prepare_page(
    image: str | os.PathLike | LoadedImage | np.ndarray,
    settings: DigitizeSettings | None = None,
) -> PreparedPage:
    """Load (if a path), straighten and measure a page; the result can be cached and re-used
    by :func:`digitize_prepared` while only the later settings change. Reads only the settings
    in :data:`~ecgviewer.digitize.stages.PREPARE_FIELDS` (the key of that cache)."""
    eager_maps = (settings or DigitizeSettings()).binarize_method == "auto"
    settings = prepare_settings(settings or DigitizeSettings())
    timings: dict[str, float] = {}
    t = time.perf_counter()
    rgb, dpi = _as_loaded(image)
    if dpi is None:
        dpi = settings.dpi
    timings["load"] = time.perf_counter() - t
    warnings: list[str] = []

    t = time.perf_counter()
    perspective = False
    if settings.correct_perspective:
        rgb, perspective = correct_page_geometry(rgb)  # photos: grid dewarp; scans: as is
    timings["perspective"] = time.perf_counter() - t

    t = time.perf_counter()
    angle = settings.rotation_deg
    if angle is None:
        angle = estimate_rotation_deg(rgb)
        if abs(angle) < 0.1:
            angle = 0.0
    if angle != 0.0:
        rgb = rotate_image(rgb, angle)
    timings["rotation"] = time.perf_counter() - t

    t = time.perf_counter()
    darkness = trace_darkness(rgb)
    timings["darkness"] = time.perf_counter() - t

    t = time.perf_counter()
    measured = measure_grid(rgb)
    grid = reconcile_grid(measured, dpi)  # a weak grid against a believable dpi: no grid
    if measured.found and not grid.found:
        warnings.append(grid.notes)
    timings["grid"] = time.perf_counter() - t

    t = time.perf_counter()
    flattened = False
    if settings.correct_perspective and not perspective and grid.found:  # a photo: dewarped
        ink = binarize(darkness, "modified_otsu").binary
        flat, _shift = flatten_wrinkles(rgb, ink, grid.px_per_mm_x, grid.px_per_mm_y)
        if flat is not rgb:
            rgb, darkness, flattened = flat, trace_darkness(flat), True
    timings["wrinkles"] = time.perf_counter() - t
    maps = LazyTraceMaps(rgb, darkness, grid.px_per_mm_x if grid.found else None, dpi)
    if eager_maps:  # the same result as computing it later; only when it costs is chosen
        t = time.perf_counter()
        maps.get()
        timings["segment"] = time.perf_counter() - t
    return PreparedPage(
        image_rgb=rgb,
        darkness=darkness,
        rotation_deg=float(angle),
        perspective_corrected=bool(perspective),
        wrinkles_flattened=flattened,
        grid=grid,
        dpi=dpi,
        warnings=tuple(warnings),
        timings_s=timings,
        maps=maps,
    )


def _pulse_scale(prepared: PreparedPage, settings: DigitizeSettings) -> float:
    """Vertical px/mm to look for the calibration pulse with (before calibration is final)."""
    if settings.px_per_mm:
        return float(settings.px_per_mm)
    if prepared.grid.found and prepared.grid.px_per_mm_y > 0:
        return float(prepared.grid.px_per_mm_y)
    if prepared.dpi:
        return float(prepared.dpi) / 25.4
    return DEFAULT_PX_PER_MM


def digitize_prepared(
    prepared: PreparedPage, settings: DigitizeSettings | None = None
) -> Digitization:
    """Crop, binarise, calibrate, find the layout and trace every lead of a prepared page."""
    settings = settings or DigitizeSettings()
    timings = dict(prepared.timings_s)
    warnings = list(prepared.warnings)
    h, w = prepared.darkness.shape
    crop = clip_crop(settings.crop, w, h)
    if crop.width < MIN_CROP_PX or crop.height < MIN_CROP_PX:
        raise NoTraceFoundError(f"the crop {settings.crop} is too small to hold a trace")

    t = time.perf_counter()
    def cut(page_map: np.ndarray | None) -> np.ndarray | None:
        return None if page_map is None else page_map[crop.y0 : crop.y1, crop.x0 : crop.x1]

    dark = cut(prepared.darkness)
    source, learned, marks_prob, grid_prob = dark, False, None, None
    if settings.binarize_method == "auto" and prepared.maps is not None:
        maps = prepared.trace_maps()
        if maps.warning:
            warnings.append(maps.warning)
        source = cut(maps.trace_prob)
        learned = maps.source == "segmenter"
        if learned:  # pulses, ticks and labels; visible grid lines
            marks_prob, grid_prob = cut(maps.marks_prob), cut(maps.grid_prob)
    timings["segment"] = timings.get("segment", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    px_per_mm = _pulse_scale(prepared, settings)
    threshold, faint = settings.threshold, False
    if learned:  # a faint trace's unsure map: a lower automatic threshold, its own ink added
        page_threshold = auto_map_threshold(source, AUTO_THRESHOLD, px_per_mm)
        faint = page_threshold < AUTO_THRESHOLD  # the page's, so the slider moves smoothly
        threshold = page_threshold if threshold is None else threshold
    bres = binarize(source, settings.binarize_method, threshold)
    binary = pulse_ink = bres.binary
    if learned:  # trace ink picked by the segmenter; pulses and marks from all the ink
        binary, pulse_ink, dark = combine_with_ink(
            binary, dark, source, px_per_mm, grid_prob, faint
        )
    timings["binarize"] = time.perf_counter() - t

    t = time.perf_counter()
    marks = marks_ink(binary, pulse_ink, marks_prob)
    pulse = find_page_pulse((pulse_ink, marks), px_per_mm)
    calibration, cal_warnings = calibrate(prepared.grid, pulse, settings, prepared.dpi, binary)
    warnings.extend(cal_warnings)
    timings["calibrate"] = time.perf_counter() - t

    t = time.perf_counter()
    found = detect_layout(binary, calibration, settings, pulse_ink, marks_prob)
    warnings.extend(found.warnings)
    timings["layout"] = time.perf_counter() - t

    t = time.perf_counter()
    leads, layout = _trace_leads(binary, dark, found, calibration, settings, (crop.x0, crop.y0))
    timings["trace"] = time.perf_counter() - t

    quality = float(np.mean([ld.quality for ld in leads])) if leads else 0.0
    if quality < _MIN_QUALITY:
        raise NoTraceFoundError(
            f"no usable ECG trace found (traced fraction {quality:.0%}); "
            "check the crop and threshold"
        )
    timings["total"] = sum(v for k, v in timings.items() if k != "total")
    dig = Digitization(
        image_rgb=prepared.image_rgb,
        binary=binary,
        crop=crop,
        rotation_deg=prepared.rotation_deg,
        calibration=calibration,
        layout=layout,
        leads=tuple(leads),
        warnings=tuple(warnings),
        quality=quality,
        threshold=float(bres.threshold),
        timings_s=timings,
    )
    return replace(dig, review_reasons=review_reasons(dig))  # a result that cannot be right


def _trace_box(
    binary: np.ndarray,
    darkness: np.ndarray,
    box: LeadBox,
    pulse_base_y: float | None,
    calibration: Calibration,
    bridge_px: int,
) -> tuple[TracePath, float]:
    """Trace one box; its 0 mV row is the foot of the row's calibration pulse when there is
    one (the printed reference) and agrees with the trace within 3 mm, else the path's mode."""
    scale = 0.5 * (box.y1 - box.y0)
    path = trace_path(
        binary, box.x0, box.x1, box.y0, box.y1, box.baseline_y, scale, bridge_px, darkness
    )
    mode = path_baseline(path)
    if pulse_base_y is not None:
        base = pulse_base_y - 0.5 * (path.thickness_px + 1.0)
        if mode is None or abs(base - mode) <= 3.0 * calibration.px_per_mm_y:
            return path, base
    return path, (mode if mode is not None else box.baseline_y)


def _trace_leads(
    binary: np.ndarray,
    darkness: np.ndarray,
    found: LayoutDetection,
    calibration: Calibration,
    settings: DigitizeSettings,
    offset_xy: tuple[int, int],
) -> tuple[list[Lead], Layout]:
    """Trace every box of the detected layout; returns the leads and the layout with each
    box's baseline set to the 0 mV row actually used."""
    fs = float(settings.output_fs_hz)
    boxes: list[LeadBox] = []
    traced = []
    bridge_px = max(2, round(1.5 * calibration.px_per_mm_y))
    for box, pulse_base in zip(found.layout.boxes, found.pulse_base_y):
        path, base = _trace_box(binary, darkness, box, pulse_base, calibration, bridge_px)
        boxes.append(replace(box, baseline_y=float(base)))
        traced.append(path)
    if found.layout.name == "single" and not any(b is not None for b in found.pulse_base_y):
        boxes = even_row_baselines(boxes, calibration.px_per_mm_y)
    layout = replace(found.layout, boxes=tuple(boxes))
    points = page_points(
        [(p.x_px, p.y_px) for p in traced], calibration.px_per_s, calibration.px_per_mm_y
    )  # drawn from sparse samples: rebuild them
    if layout.name == "single":
        return [_single_lead(traced, boxes, calibration, fs, offset_xy, points)], layout
    leads = [
        path_to_lead(
            p, b.name, b.baseline_y, calibration, fs, o, offset_xy=offset_xy, points=points
        )
        for p, b, o in zip(traced, boxes, found.origins_px)
    ]
    return leads, layout


EVEN_ROWS_MM = 1.5  # rows whose 0 mV lines are this close to an even spacing are evenly spaced


def even_row_baselines(boxes: list[LeadBox], px_per_mm: float) -> list[LeadBox]:
    """A pulse-less strip's 0 mV lines on one even spacing (a least-squares line through the
    rows' own levels) when the rows are evenly spaced within :data:`EVEN_ROWS_MM`: each row's
    level is its trace's most common height, which baseline wander moves by a few tenths of a
    millimetre per row; a printer spaces the rows evenly. Three rows or more."""
    if len(boxes) < 3:
        return boxes
    k = np.arange(len(boxes), dtype=float)
    levels = np.array([b.baseline_y for b in boxes])
    fitted = np.polyval(np.polyfit(k, levels, 1), k)
    if np.abs(levels - fitted).max() > EVEN_ROWS_MM * px_per_mm:
        return boxes
    return [replace(b, baseline_y=float(y)) for b, y in zip(boxes, fitted)]


def _single_lead(traced, boxes, calibration, fs, offset_xy, points=None) -> Lead:
    """Rows of one strip joined into one continuous lead named "ECG".

    Row k starts at k times the row duration (the full rows' duration, rounded to 0.5 s when
    within 2 %: printed strips show whole half seconds), so a pixel more or less per row does
    not accumulate into a drift along the record.
    """
    # rows of a strip start at the same column on paper: a row whose trace is found a little
    # later (faint or flat start) keeps that common origin instead of shifting its beats
    common_x0 = float(np.median([b.x0 for b in boxes]))
    tolerance_px = 1.0 * calibration.px_per_s
    origins = [common_x0 if 0 < b.x0 - common_x0 <= tolerance_px else float(b.x0) for b in boxes]
    parts = [
        path_to_lead(p, "ECG", b.baseline_y, calibration, fs, o, offset_xy=offset_xy, points=points)
        for p, b, o in zip(traced, boxes, origins)
    ]
    if len(parts) == 1:
        return parts[0]
    right = max(b.x1 for b in boxes)
    full = [
        p.duration_s for p, b in zip(parts, boxes) if right - b.x1 <= 2 * calibration.px_per_mm_x
    ]
    row_s = float(np.median(full)) if full else max(p.duration_s for p in parts)
    nice = round(row_s * 2.0) / 2.0
    if nice > 0 and abs(row_s - nice) <= 0.02 * nice:
        row_s = nice
    starts = [round((k * row_s + p.start_s) * fs) for k, p in enumerate(parts)]
    n_total = max(i0 + p.signal_mv.size for i0, p in zip(starts, parts))
    signal = np.full(n_total, np.nan)
    valid = np.zeros(n_total, bool)
    for i0, part in zip(starts, parts):
        i1 = min(n_total, i0 + part.signal_mv.size)
        signal[i0:i1] = part.signal_mv[: i1 - i0]
        valid[i0:i1] = part.valid_mask[: i1 - i0]
    known = np.isfinite(signal)
    if not known.all():  # rows shorter than the row duration: bridge, mark invalid
        idx = np.arange(n_total)
        signal = np.interp(idx, idx[known], signal[known])
    weights = [p.signal_mv.size for p in parts]
    return Lead(
        name="ECG",
        signal_mv=signal,
        fs_hz=fs,
        start_s=0.0,
        valid_mask=valid,
        quality=float(np.average([p.quality for p in parts], weights=weights)),
        trace_x_px=np.concatenate([p.trace_x_px for p in parts]),
        trace_y_px=np.concatenate([p.trace_y_px for p in parts]),
    )


def digitize(
    image: str | os.PathLike | LoadedImage | np.ndarray,
    settings: DigitizeSettings | None = None,
) -> Digitization:
    """Digitise a page: path, :class:`~ecgviewer.io.images.LoadedImage` or RGB uint8 array.
    A PDF page that draws its traces as paths is read from its drawing commands
    (:mod:`ecgviewer.digitize.vector`); pixels are the fallback.

    Raises :class:`~ecgviewer.errors.NoTraceFoundError` (and the image loading errors) with a
    one-line reason.
    """
    settings = settings or DigitizeSettings()
    vector = digitize_if_vector(image, settings)
    if vector is not None:
        return vector
    return digitize_prepared(prepare_page(image, settings), settings)


def digitization_to_record(
    dig: Digitization, fs_hz: float | None = None, name: str = "digitized"
) -> Record:
    """All leads on one timeline (NaN where a lead was not printed or not traced).

    A lead printed more than once (II in the grid and in a rhythm strip) contributes its longest
    copy. Leads come in standard order, then any others.
    """
    if not dig.leads:
        raise NoTraceFoundError("the digitisation has no leads")
    fs = float(fs_hz or dig.leads[0].fs_hz)
    longest: dict[str, Lead] = {}
    for ld in dig.leads:
        if ld.name not in longest or ld.duration_s > longest[ld.name].duration_s:
            longest[ld.name] = ld
    order = [n for n in STANDARD_LEADS if n in longest] + [
        n for n in longest if n not in STANDARD_LEADS
    ]
    end_s = max(ld.start_s + ld.duration_s for ld in longest.values())
    n_total = round(end_s * fs)
    out = np.full((n_total, len(order)), np.nan)
    for k, lead_name in enumerate(order):
        ld = longest[lead_name]
        sig = signal_with_gaps(ld, _NAN_GAP_S)
        if ld.fs_hz != fs:
            t_src = np.arange(sig.size) / ld.fs_hz
            t_dst = np.arange(round(ld.duration_s * fs)) / fs
            sig = np.interp(t_dst, t_src, sig)  # NaN propagates to neighbours: conservative
        i0 = round(ld.start_s * fs)
        i1 = min(n_total, i0 + sig.size)
        out[i0:i1, k] = sig[: i1 - i0]
    meta = {"layout": dig.layout.name, "rhythm_lead": dig.layout.rhythm_lead, "source": "digitized"}
    return Record(out, fs, tuple(order), name=name, meta=meta)
