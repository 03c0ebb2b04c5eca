"""Digitising a PDF page whose traces are vector paths: read the points the page draws.

A cart's PDF (or ours, :mod:`ecgviewer.render.pdf`) draws each lead segment as a polyline
through its samples. :func:`digitize_vector` tells the traces from the grid lines, calibration
pulses and separators (:func:`classify_polylines`), calibrates in page millimetres from the
grid pitch and the pulse height (or the page's stated speed and gain, else the settings),
groups the traces into rows, names them from the page's text labels
(:func:`name_traces`), places each segment at its time on the record and rebuilds each lead
band-limited at the output rate from the file's own points (:mod:`ecgviewer.digitize.resample`).
It returns None when the page draws no trace (a scan saved as PDF): the raster route applies.
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass, replace

import numpy as np

from ecgviewer.digitize.resample import bandlimited_at, regular_spacing
from ecgviewer.digitize.types import CropBox, Digitization, DigitizeSettings, Lead
from ecgviewer.digitize.vector_parts import (
    PageParts,
    Pulse,
    Trace,
    VectorCalibration,
    calibrate_vector,
    classify_polylines,
)
from ecgviewer.io.pdf_vector import PdfPageContent, read_pdf_page
from ecgviewer.paper import (
    LAYOUT_SPECS,
    STANDARD_LEADS,
    Calibration,
    Layout,
    LeadBox,
    canonical_lead_name,
)

VECTOR_NOTE = "read from vector PDF"
MIN_TOTAL_TRACE_MM = 50.0  # traces covering less than 2 s at 25 mm/s are not an ECG page


# --------------------------------------------------------------------------- rows and names


def group_rows(traces: tuple[Trace, ...], min_overlap_mm: float = 2.0) -> list[list[Trace]]:
    """Traces grouped into rows (top to bottom), each row left to right. Traces that overlap
    in x are in different rows; others join the nearest row within half the row pitch."""
    if not traces:
        return []

    def overlap(a: Trace, b: Trace) -> bool:
        return min(a.x1, b.x1) - max(a.x0, b.x0) > min_overlap_mm

    gaps = [abs(a.level - b.level) for i, a in enumerate(traces)
            for b in traces[i + 1:] if overlap(a, b)]
    limit = 0.5 * min(gaps) if gaps else math.inf
    rows: list[list[Trace]] = []
    for t in sorted(traces, key=lambda t: t.level):
        best = None
        for row in rows:
            dist = abs(np.mean([r.level for r in row]) - t.level)
            if dist < limit and not any(overlap(t, r) for r in row):
                if best is None or dist < best[0]:
                    best = (dist, row)
        if best is None:
            rows.append([t])
        else:
            best[1].append(t)
    for row in rows:
        row.sort(key=lambda t: t.x0)
    rows.sort(key=lambda row: np.mean([t.level for t in row]))
    return rows


def lead_labels(texts) -> list[tuple[str, float, float]]:
    """(lead name, x, y) of every text that is a standard lead name (centre, page mm)."""
    out = []
    for t in texts:
        name = canonical_lead_name(t.text.strip().rstrip(":"))
        if name in STANDARD_LEADS:
            out.append((name, *t.centre_mm))
    return out


def name_traces(rows: list[list[Trace]], labels) -> dict[tuple[int, int], str]:
    """(row, col) -> lead name: a least-cost matching of labels to segments, where a label
    costs its horizontal distance outside the segment's x extent plus its vertical distance
    from the segment's level; done twice, the second time around the median vertical offset
    of the first matching (labels sit above or below their trace by a fixed amount)."""
    from scipy.optimize import linear_sum_assignment

    slots = [(r, c, t) for r, row in enumerate(rows) for c, t in enumerate(row)]
    if not slots or not labels:
        return {}
    x0 = np.array([t.x0 for _, _, t in slots])[None, :]
    x1 = np.array([t.x1 for _, _, t in slots])[None, :]
    level = np.array([t.level for _, _, t in slots])[None, :]
    lx = np.array([x for _, x, _ in labels])[:, None]
    ly = np.array([y for _, _, y in labels])[:, None]
    outside = np.maximum(x0 - 5.0 - lx, 0.0) + np.maximum(lx - x1, 0.0)
    offset = 0.0
    for _ in range(2):
        cost = outside + np.abs(ly - level - offset)
        li, si = linear_sum_assignment(cost)
        offset = float(np.median(ly[li, 0] - level[0, si]))
    levels = sorted({round(t.level, 1) for _, _, t in slots})
    pitch = float(np.min(np.diff(levels))) if len(levels) > 1 else math.inf
    limit = max(0.4 * pitch, 5.0)
    return {slots[b][:2]: labels[a][0] for a, b in zip(li, si) if cost[a, b] <= limit}


# --------------------------------------------------------------------------- timing and signal


def _nice_duration(d: float, fs_pts: float) -> float:
    """A segment's duration rounded to 0.1 s when the points miss it by under 1.5 samples."""
    nice = round(d * 10.0) / 10.0
    return nice if nice > 0 and abs(d - nice) <= 1.5 / fs_pts else d


def segment_starts_s(
    rows: list[list[Trace]], speed_mm_s: float, fs_pts: float, abut_mm: float = 0.3
) -> list[list[float]]:
    """Record time of each segment's first point. The leftmost first point of the page is
    t = 0; a row's first segment sits at its x. A segment that starts where the previous one
    ends (within ``abut_mm``, or overlapping it, as writers that squeeze columns do) starts
    when the previous one ends; one after a visible gap starts at its own x."""
    x_origin = min(row[0].x0 for row in rows)
    out = []
    for row in rows:
        first = row[0]
        starts = [(first.x0 - x_origin) / speed_mm_s]
        for prev, seg in zip(row[:-1], row[1:]):
            if seg.x0 - prev.x1 <= abut_mm:
                dur = (prev.x1 - prev.x0) / speed_mm_s + 1.0 / fs_pts
                starts.append(starts[-1] + _nice_duration(dur, fs_pts))
            else:
                starts.append(starts[0] + (seg.x0 - first.x0) / speed_mm_s)
        out.append(starts)
    return out


def points_rate_hz(traces, speed_mm_s: float) -> float:
    """The rate of the drawn points: paper speed over their median spacing (page mm, x)."""
    steps = np.concatenate([np.diff(t.x_mm) for t in traces])
    step = float(np.median(steps[steps > 0])) if (steps > 0).any() else 0.0
    return speed_mm_s / step if step > 0 else 0.0


def rebuild(
    trace: Trace, start_s: float, baseline_y: float, cal: VectorCalibration, fs_out: float
) -> tuple[np.ndarray, float]:
    """The segment's samples in mV at ``fs_out`` on the record's time grid, and the time of
    the first one. Regularly spaced points are rebuilt band-limited, others linearly."""
    x = trace.x_mm / cal.scale_x
    v = (baseline_y - trace.y_mm) / cal.scale_y / cal.gain_mm_mv
    t = start_s + (x - x[0]) / cal.speed_mm_s
    first = math.ceil(t[0] * fs_out - 1e-6)
    last = math.floor(t[-1] * fs_out + 1e-6)
    t_out = np.arange(first, last + 1) / fs_out
    spacing = regular_spacing(x)
    if spacing is not None:
        fs_in = cal.speed_mm_s / spacing[1]
        t0 = start_s + (spacing[0] - x[0]) / cal.speed_mm_s
        sig = bandlimited_at(v, fs_in, t0, t_out, fs_out)
    else:
        sig = np.interp(t_out, t, v)
    return sig, first / fs_out


def _row_baseline(row: list[Trace], pulses: tuple[Pulse, ...], limit_mm: float) -> float:
    """0 mV of a row: the base of the pulse nearest the row's level, else the mode of its y."""
    level = float(np.median(np.concatenate([t.y_mm for t in row])))
    near = [p for p in pulses if abs(p.base_y - level) <= limit_mm]
    if near:
        return min(near, key=lambda p: abs(p.base_y - level)).base_y
    y = np.concatenate([t.y_mm for t in row])
    hist, edges = np.histogram(y, bins=max(10, int(np.ptp(y) / 0.1) + 1))
    k = int(np.argmax(hist))
    return float(0.5 * (edges[k] + edges[k + 1]))


# --------------------------------------------------------------------------- assembly


@dataclass(frozen=True)
class _Segment:
    """One trace placed on the record: its row and column, name, samples and start."""

    row: int
    col: int
    trace: Trace
    name: str | None
    signal_mv: np.ndarray
    start_s: float
    baseline_y: float


def _layout_name(rows: list[list[Trace]], single: bool) -> tuple[str, int]:
    """A layout name in the table's style ("3x4+1", "6x2", "12x1", "single") and the number
    of full-width strips below the grid."""
    if single:
        return "single", 0
    n_cols = max(len(r) for r in rows)
    if n_cols == 1:
        return f"{len(rows)}x1", 0
    width = max(r[-1].x1 - r[0].x0 for r in rows)
    strips = 0
    for row in reversed(rows):
        if len(row) == 1 and row[0].x1 - row[0].x0 >= 0.8 * width:
            strips += 1
        else:
            break
    name = f"{len(rows) - strips}x{n_cols}"
    return (f"{name}+{strips}" if strips else name), strips


def _names_from_layout(rows, names: dict, layout_name: str) -> dict:
    """Names of unlabelled segments from their place in a standard layout (the table's),
    when the page's rows have that layout's shape and no label contradicts it."""
    spec = LAYOUT_SPECS.get(layout_name)
    if spec is None or spec.single:
        return names
    table = [list(r) for r in spec.grid_rows] + [[lead] for lead in spec.rhythm_leads]
    if [len(r) for r in rows] != [len(r) for r in table]:
        return names
    if any(table[r][c] != name for (r, c), name in names.items()):
        return names
    return {(r, c): table[r][c] for r, row in enumerate(rows) for c in range(len(row))}


def _same_lead(seg: _Segment, named: list[_Segment], fs: float) -> str | None:
    """The name of a labelled segment that shows the same samples as ``seg`` (a rhythm strip
    repeats a lead of the grid), if one agrees closely over at least 1 s."""
    best = None
    for other in named:
        a0 = round(seg.start_s * fs)
        b0 = round(other.start_s * fs)
        lo, hi = max(a0, b0), min(a0 + seg.signal_mv.size, b0 + other.signal_mv.size)
        if hi - lo < fs:
            continue
        x = seg.signal_mv[lo - a0 : hi - a0]
        y = other.signal_mv[lo - b0 : hi - b0]
        x, y = x - x.mean(), y - y.mean()
        denom = math.sqrt(float(np.dot(x, x) * np.dot(y, y)))
        r = float(np.dot(x, y)) / denom if denom > 0 else 0.0
        if r > 0.99 and (best is None or r > best[0]):
            best = (r, other.name)
    return best[1] if best else None


def _name_unlabelled(segments: list[_Segment], settings: DigitizeSettings, fs: float) -> list:
    """Name the segments no label named: by matching a labelled one's samples, else the
    settings' rhythm lead (first unnamed strip), else "ECG2", "ECG3", ..."""
    named = [s for s in segments if s.name]
    taken = {s.name for s in named}
    out, k = [], 1
    for s in segments:
        if s.name is None:
            name = _same_lead(s, named, fs)
            if name is None and settings.rhythm_lead not in taken:
                name = settings.rhythm_lead
            if name is None:
                k += 1
                name = f"ECG{k}"
            taken.add(name)
            s = replace(s, name=name)
        out.append(s)
    return out


def _join_rows(segments: list[_Segment], fs: float, fs_pts: float) -> tuple[np.ndarray, list]:
    """One strip printed as rows: row k starts at k times the row duration (the full rows'
    duration, rounded to 0.5 s when within 2 %). Returns the samples and each row's start."""
    durs = [s.signal_mv.size / fs for s in segments]
    full = [d for d in durs if d >= 0.98 * max(durs)]
    row_s = float(np.median(full))
    nice = round(row_s * 2.0) / 2.0
    if nice > 0 and abs(row_s - nice) <= max(0.02 * nice, 1.5 / fs_pts):
        row_s = nice
    starts = [k * row_s + s.start_s for k, s in enumerate(segments)]
    idx = [round(t * fs) for t in starts]
    n = max(i + s.signal_mv.size for i, s in zip(idx, segments))
    out = np.full(n, np.nan)
    for i, s in zip(idx, segments):
        out[i : i + s.signal_mv.size] = s.signal_mv
    known = np.isfinite(out)
    if not known.all():
        grid = np.arange(n)
        out = np.interp(grid, grid[known], out[known])
    return out, starts


def _segments(rows, parts, cal, names, settings) -> tuple[list[_Segment], float]:
    """Every trace placed and rebuilt; returns them and the rate of the drawn points."""
    fs = float(settings.output_fs_hz)
    traces = [t for row in rows for t in row]
    fs_pts = points_rate_hz(traces, cal.speed_mm_s * cal.scale_x) or fs
    starts = segment_starts_s(rows, cal.speed_mm_s * cal.scale_x, fs_pts)
    levels = [float(np.median(np.concatenate([t.y_mm for t in row]))) for row in rows]
    pitch = float(np.min(np.diff(levels))) if len(levels) > 1 else math.inf
    limit = min(0.45 * pitch, 1.5 * cal.gain_mm_mv * cal.scale_y)
    out = []
    for r, row in enumerate(rows):
        base = _row_baseline(row, parts.pulses, limit)
        for c, trace in enumerate(row):
            sig, t0 = rebuild(trace, starts[r][c], base, cal, fs)
            out.append(_Segment(r, c, trace, names.get((r, c)), sig, t0, base))
    return out, fs_pts


def _is_single_strip(rows, names) -> bool:
    """One trace per row and at most one lead named (a long strip of one lead in rows)."""
    return all(len(r) == 1 for r in rows) and len(set(names.values())) <= 1 and (
        len(rows) > 1 or not names
    )


def _leads(segments, single: bool, fs: float, fs_pts: float, px_per_mm: float) -> list[Lead]:
    def px(s: _Segment) -> tuple[np.ndarray, np.ndarray]:
        return s.trace.x_mm * px_per_mm, s.trace.y_mm * px_per_mm

    if single:
        sig, _ = _join_rows(segments, fs, fs_pts)
        xs, ys = zip(*(px(s) for s in segments))
        name = segments[0].name or "ECG"
        valid = np.ones(sig.size, bool)
        return [Lead(name, sig, fs, 0.0, valid, 1.0, np.concatenate(xs), np.concatenate(ys))]
    return [
        Lead(s.name, s.signal_mv, fs, s.start_s, np.ones(s.signal_mv.size, bool), 1.0, *px(s))
        for s in segments
    ]


def _boxes(segments, rows, px_per_mm: float) -> tuple[LeadBox, ...]:
    levels = [float(np.median(np.concatenate([t.y_mm for t in row]))) for row in rows]
    edges = [levels[0] - 0.5 * (levels[1] - levels[0]) if len(levels) > 1 else levels[0] - 10.0]
    edges += [0.5 * (a + b) for a, b in zip(levels[:-1], levels[1:])]
    edges += [levels[-1] + (levels[-1] - edges[-1])]
    return tuple(
        LeadBox(
            name=s.name or "ECG",
            x0=round(s.trace.x0 * px_per_mm),
            x1=round(s.trace.x1 * px_per_mm),
            y0=round(edges[s.row] * px_per_mm),
            y1=round(edges[s.row + 1] * px_per_mm),
            baseline_y=s.baseline_y * px_per_mm,
            row=s.row,
            col=s.col,
        )
        for s in segments
    )


def digitize_vector(
    content: PdfPageContent,
    settings: DigitizeSettings | None = None,
    image_rgb: np.ndarray | None = None,
    image_dpi: float = 100.0,
    parts: PageParts | None = None,
) -> Digitization | None:
    """Digitise a page from its drawing commands; None when it draws no trace (raster route).

    ``image_rgb`` is the page rendered at ``image_dpi`` (what the result's pixel coordinates
    refer to, for overlays and the GUI); a blank page of the right size when not given.
    ``parts`` is ``classify_polylines(content.polylines)`` when the caller has it already.
    """
    settings = settings or DigitizeSettings()
    t_start = time.perf_counter()
    parts = parts or classify_polylines(content.polylines)
    if not parts.traces:
        return None
    cal = calibrate_vector(parts, content.texts, settings)
    rows = group_rows(parts.traces)
    names = name_traces(rows, lead_labels(content.texts))
    single = _is_single_strip(rows, names)
    layout_name, n_strips = _layout_name(rows, single)
    if not single:
        names = _names_from_layout(rows, names, layout_name)
    segments, fs_pts = _segments(rows, parts, cal, names, settings)
    fs = float(settings.output_fs_hz)
    if not single:
        segments = _name_unlabelled(segments, settings, fs)
    px_per_mm = image_dpi / 25.4  # image pixels per page mm
    if image_rgb is None:
        h, w = round(content.height_mm * px_per_mm), round(content.width_mm * px_per_mm)
        image_rgb = np.full((max(h, 1), max(w, 1), 3), 255, np.uint8)
    leads = _leads(segments, single, fs, fs_pts, px_per_mm)
    strips = [s.name for s in segments if s.row >= len(rows) - n_strips and n_strips]
    rhythm = leads[0].name if single else (
        settings.rhythm_lead if settings.rhythm_lead in strips else (strips[0] if strips else None)
    )
    calibration = Calibration(
        px_per_mm_x=px_per_mm * cal.scale_x,
        px_per_mm_y=px_per_mm * cal.scale_y,
        paper_speed_mm_s=cal.speed_mm_s,
        gain_mm_mv=cal.gain_mm_mv,
        source=cal.source,  # type: ignore[arg-type]
        grid_found=cal.grid_found,
        pulse_found=bool(parts.pulses),
        pulse_height_mm=cal.pulse_height_mm,
    )
    h, w = image_rgb.shape[:2]
    note = f"{VECTOR_NOTE}: {len(parts.traces)} traces, points at {fs_pts:.4g} Hz"
    elapsed = time.perf_counter() - t_start
    return Digitization(
        image_rgb=image_rgb,
        binary=image_rgb.min(axis=2) < 100,
        crop=CropBox(0, 0, w, h),
        rotation_deg=0.0,
        calibration=calibration,
        layout=Layout(layout_name, _boxes(segments, rows, px_per_mm), rhythm),
        leads=tuple(leads),
        warnings=(note,),
        quality=1.0,
        threshold=None,
        timings_s={"vector": elapsed, "total": elapsed},
    )


@functools.lru_cache(maxsize=4)
def _cached_page(path: str, page: int, mtime_ns: int, size: int) -> PdfPageContent:
    """The page's content, kept while the file is unchanged (the app digitises a page again
    after each settings change)."""
    return read_pdf_page(path, page)


def digitize_pdf(
    path: str | os.PathLike,
    page: int = 0,
    settings: DigitizeSettings | None = None,
    image=None,
) -> Digitization | None:
    """Read page ``page`` of a PDF as vector traces (see :func:`digitize_vector`); None when
    the page holds none. ``image`` is the page already rendered (a
    :class:`~ecgviewer.io.images.LoadedImage`); it is rendered at 100 dpi when not given."""
    t = time.perf_counter()
    try:
        st = os.stat(path)
    except OSError:
        content = read_pdf_page(path, page)  # raises the loader's typed error
    else:
        content = _cached_page(os.fspath(path), int(page), st.st_mtime_ns, st.st_size)
    t_read = time.perf_counter() - t
    parts = classify_polylines(content.polylines)
    if sum(t.x1 - t.x0 for t in parts.traces) < MIN_TOTAL_TRACE_MM:
        return None  # no trace, or a few stray strokes over a scanned page
    if image is None:
        from ecgviewer.io.images import load_image

        image = load_image(path, page=page, pdf_dpi=100.0)
    dig = digitize_vector(content, settings, image.rgb, float(image.dpi or 100.0), parts)
    if dig is not None:
        timings = {"read": t_read, **dig.timings_s}
        timings["total"] = timings["read"] + timings["vector"]
        dig = replace(dig, timings_s=timings)
    return dig


def digitize_if_vector(image, settings: DigitizeSettings | None = None) -> Digitization | None:
    """The vector reading of ``image`` when it is a PDF page that draws its traces as paths
    (a :class:`~ecgviewer.io.images.LoadedImage` of a PDF, or a path to a PDF); None for
    anything else, so the caller takes the raster route."""
    from ecgviewer.io.images import LoadedImage

    if isinstance(image, LoadedImage):
        if image.format != "PDF":
            return None
        return digitize_pdf(image.path, image.page, settings, image)
    if isinstance(image, (str, os.PathLike)):
        try:
            with open(image, "rb") as fh:
                if b"%PDF-" not in fh.read(1024):
                    return None
        except OSError:
            return None  # the raster route's loader says why
        return digitize_pdf(image, 0, settings)
    return None
