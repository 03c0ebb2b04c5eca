"""Render a :class:`~ecgviewer.io.signals.Record` onto ECG paper, with exact ground truth.

The returned :class:`RenderedEcg` holds the image, the signal exactly as plotted (after
clipping at the page edge; NaN where a lead is not on the page, as in the PhysioNet
Challenge 2024 labels), the layout boxes and the calibration, so digitisation can be scored
against what is really on the paper.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ecgviewer.errors import SignalFormatError
from ecgviewer.io.signals import Record
from ecgviewer.paper.colours import GRID_PRESETS, TRACE_COLOURS
from ecgviewer.paper.layouts import LAYOUT_SPECS, canonical_lead_name
from ecgviewer.paper.types import Calibration, Layout, LeadBox
from ecgviewer.render.distort import apply_distortions
from ecgviewer.render.draw import (
    composite,
    composite_lines,
    line_coverage_1d,
    mm_to_px,
    polyline_mask,
    supersample_factor,
)
from ecgviewer.render.layout import (
    PULSE_LEAD_IN_MM,
    PULSE_WIDTH_S,
    PagePlan,
    Segment,
    plan_page,
)
from ecgviewer.render.style import Distortions, RenderStyle

WHITE = (255, 255, 255)


@dataclass(frozen=True)
class RenderedEcg:
    """A rendered page and its ground truth.

    ``layout`` and ``calibration`` describe the page before distortion (rotation moves the
    content by ``distortions.rotation_deg`` about the image centre).
    """

    image_rgb: np.ndarray  # uint8 H×W×3
    truth: Record  # plotted signal per lead at the record's fs; NaN where not plotted
    layout: Layout
    calibration: Calibration
    style: RenderStyle
    distortions: Distortions = field(default_factory=Distortions)
    seed: int = 0
    clipped_fraction: float = 0.0  # plotted samples clipped at the page edge
    box_times_s: tuple[tuple[float, float], ...] = ()  # record time [t0, t1) of each box

    def sidecar(self) -> dict:
        """A JSON-serialisable description (style, distortions, calibration, layout boxes)."""
        cal = self.calibration
        return {
            "format": "ecgviewer-render-truth",
            "version": 1,
            "record": self.truth.name,
            "fs_hz": self.truth.fs_hz,
            "lead_names": list(self.truth.lead_names),
            "image_size_wh": [int(self.image_rgb.shape[1]), int(self.image_rgb.shape[0])],
            "seed": self.seed,
            "style": self.style.to_dict(),
            "distortions": self.distortions.to_dict(),
            "calibration": {
                "px_per_mm_x": cal.px_per_mm_x,
                "px_per_mm_y": cal.px_per_mm_y,
                "paper_speed_mm_s": cal.paper_speed_mm_s,
                "gain_mm_mv": cal.gain_mm_mv,
                "px_per_s": cal.px_per_s,
                "px_per_mv": cal.px_per_mv,
            },
            "layout": {
                "name": self.layout.name,
                "rhythm_lead": self.layout.rhythm_lead,
                "boxes": [
                    {**b.__dict__, "t0_s": t[0], "t1_s": t[1]}
                    for b, t in zip(self.layout.boxes, self.box_times_s or
                                    [(None, None)] * len(self.layout.boxes))
                ],
            },
            "clipped_fraction": self.clipped_fraction,
        }

    def sidecar_json(self) -> str:
        return json.dumps(self.sidecar(), indent=1)


def _source_columns(record: Record, plan: PagePlan, style: RenderStyle) -> dict[str, int]:
    """Truth lead name -> column of ``record`` holding its samples."""
    canon = [canonical_lead_name(n) for n in record.lead_names]
    if style.layout == "single":
        want = canonical_lead_name(style.single_lead) if style.single_lead else canon[0]
        if want not in canon:
            raise SignalFormatError(f"lead {style.single_lead!r} not in {record.lead_names}")
        return {plan.lead_names[0]: canon.index(want)}
    missing = [n for n in plan.lead_names if n not in canon]
    if missing:
        raise SignalFormatError(
            f"layout {style.layout} needs the 12 standard leads; record {record.name!r} "
            f"lacks {missing} (use layout 'single' for fewer leads)"
        )
    return {n: canon.index(n) for n in plan.lead_names}


def _font(size_px: float) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=max(round(size_px), 6))
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


@dataclass
class _Traces:
    """The traces of a page in pixels and the signal exactly as plotted (see :func:`_trace`)."""

    truth: np.ndarray  # n_samples × n_leads, NaN where not plotted
    polylines: list[np.ndarray] = field(default_factory=list)
    boxes: list[LeadBox] = field(default_factory=list)
    box_times: list[tuple[float, float]] = field(default_factory=list)
    n_plotted: int = 0
    n_clipped: int = 0


def render_ecg(
    record: Record,
    style: RenderStyle | None = None,
    seed: int = 0,
    distortions: Distortions | None = None,
) -> RenderedEcg:
    """Print ``record`` on ECG paper as ``style`` says, degrade it with ``distortions``.

    Multi-lead layouts need the 12 standard leads (names matched case-insensitively); the
    ``single`` layout prints one lead (``style.single_lead`` or the first) as rows.
    """
    style = style or RenderStyle()
    distortions = distortions or Distortions()
    if not 50 <= style.dpi <= 1200:
        raise ValueError(f"dpi {style.dpi} out of range 50..1200")
    sig, fs, plan, columns = plan_record(record, style)
    px_per_mm = style.dpi / 25.4
    shape_hw = (round(plan.page_h_mm * px_per_mm), round(plan.page_w_mm * px_per_mm))
    traces = _trace(sig, fs, plan, columns, style, px_per_mm, shape_hw[0])
    page, paper = _draw_page(plan, style, traces.polylines, px_per_mm, shape_hw)
    rng = np.random.default_rng(seed)
    out = apply_distortions(page, distortions, rng, fill_rgb=paper)
    truth_rec = Record(
        signal_mv=traces.truth,
        fs_hz=fs,
        lead_names=plan.lead_names,
        name=record.name,
        meta={"source": "ecgviewer.render", "layout": style.layout},
    )
    spec = LAYOUT_SPECS[style.layout]
    rhythm = plan.lead_names[0] if spec.single else spec.rhythm_lead
    return RenderedEcg(
        image_rgb=out,
        truth=truth_rec,
        layout=Layout(name=style.layout, boxes=tuple(traces.boxes), rhythm_lead=rhythm),
        calibration=_calibration(style, px_per_mm),
        style=style,
        distortions=distortions,
        seed=seed,
        clipped_fraction=traces.n_clipped / max(traces.n_plotted, 1),
        box_times_s=tuple(traces.box_times),
    )


def plan_record(
    record: Record, style: RenderStyle
) -> tuple[np.ndarray, float, PagePlan, dict[str, int]]:
    """The record's samples (float64), its rate, its page plan and each truth lead's column
    of samples: what every page renderer (raster or vector) starts from."""
    sig = np.asarray(record.signal_mv, dtype=np.float64)
    fs = float(record.fs_hz)
    if sig.shape[0] < 2:
        raise SignalFormatError(f"record {record.name!r} has too few samples to render")
    plan = plan_page(style, sig.shape[0] / fs, record.lead_names)
    return sig, fs, plan, _source_columns(record, plan, style)


def _trace(
    sig: np.ndarray,
    fs: float,
    plan: PagePlan,
    columns: dict[str, int],
    style: RenderStyle,
    px_per_mm: float,
    h_px: int,
) -> _Traces:
    """Every segment of ``plan`` as pixel polylines (clipped to the page, broken at NaN gaps),
    its lead box and time span, and the truth: the signal as plotted after clipping."""
    n_samples = sig.shape[0]
    px_per_s = px_per_mm * style.paper_speed_mm_s
    px_per_mv = px_per_mm * style.gain_mm_mv
    out = _Traces(truth=np.full((n_samples, len(plan.lead_names)), np.nan))
    lead_index = {n: i for i, n in enumerate(plan.lead_names)}
    for seg in plan.segments:
        i0 = max(int(np.ceil(seg.t0_s * fs - 1e-9)), 0)
        i1 = min(int(np.ceil(seg.t1_s * fs - 1e-9)), n_samples)
        box = _segment_box(seg, px_per_mm)
        baseline_px = box.baseline_y
        out.boxes.append(box)
        out.box_times.append((float(seg.t0_s), float(min(seg.t1_s, n_samples / fs))))
        if i1 <= i0:
            continue
        idx = np.arange(i0, i1)
        v = sig[idx, columns[seg.lead]]
        x = mm_to_px(seg.x_origin_mm, px_per_mm) + (idx / fs - seg.t_origin_s) * px_per_s
        y = baseline_px - v * px_per_mv
        y_clip = np.clip(y, 0.0, h_px - 1.0)
        ok = np.isfinite(v)
        out.n_plotted += int(ok.sum())
        out.n_clipped += int((ok & (y_clip != y)).sum())
        out.truth[idx[ok], lead_index[seg.lead]] = (baseline_px - y_clip[ok]) / px_per_mv
        out.polylines += _split_at_gaps(np.column_stack([x, y_clip]), ok)
    return out


def _segment_box(seg: Segment, px_per_mm: float) -> LeadBox:
    """The ground-truth lead box of one planned segment, in pixels."""
    return LeadBox(
        name=seg.lead,
        x0=round(float(mm_to_px(seg.x0_mm, px_per_mm))),
        x1=round(float(mm_to_px(seg.x1_mm, px_per_mm))),
        y0=round(mm_to_px(seg.row_top_mm, px_per_mm)),
        y1=round(mm_to_px(seg.row_bottom_mm, px_per_mm)),
        baseline_y=float(mm_to_px(seg.baseline_mm, px_per_mm)),
        row=seg.row,
        col=seg.col,
    )


def _split_at_gaps(pts: np.ndarray, ok: np.ndarray) -> list[np.ndarray]:
    """The runs of ``pts`` between samples that are not ``ok`` (NaN samples are not drawn)."""
    pieces = []
    start = 0
    for b in [*np.flatnonzero(~ok), len(pts)]:
        if b > start:
            pieces.append(pts[start:b])
        start = b + 1
    return pieces


def _draw_page(
    plan: PagePlan,
    style: RenderStyle,
    polylines: list[np.ndarray],
    px_per_mm: float,
    shape_hw: tuple[int, int],
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The undistorted page (paper, grid, traces, pulses, text) and its paper colour."""
    h_px, w_px = shape_hw
    grid = GRID_PRESETS[style.grid]
    paper = grid.tinted_paper if (grid is not None and style.tinted_paper) else WHITE
    image = np.empty((h_px, w_px, 3), dtype=np.uint8)
    image[:] = np.asarray(paper, dtype=np.uint8)
    if grid is not None:
        _draw_grid(image, plan, px_per_mm, style, grid.minor, grid.major)
    ink = polylines + _furniture_polylines(plan, style, px_per_mm)
    factor = supersample_factor(px_per_mm)
    trace_alpha = polyline_mask((h_px, w_px), ink, style.trace_width_mm * px_per_mm, factor)
    trace_colour = TRACE_COLOURS[style.trace_colour]
    composite(image, trace_alpha, trace_colour)
    page = Image.fromarray(image, "RGB")
    _draw_text(page, plan, style, px_per_mm, trace_colour)
    return np.asarray(page), paper


def _calibration(style: RenderStyle, px_per_mm: float) -> Calibration:
    """The page's true calibration (before any distortion)."""
    return Calibration(
        px_per_mm_x=px_per_mm,
        px_per_mm_y=px_per_mm,
        paper_speed_mm_s=style.paper_speed_mm_s,
        gain_mm_mv=style.gain_mm_mv,
        source="dpi",
        grid_found=GRID_PRESETS[style.grid] is not None,
        pulse_found=style.calibration_pulse,
        pulse_height_mm=style.gain_mm_mv if style.calibration_pulse else None,
    )


def _draw_grid(image, plan: PagePlan, px_per_mm, style, minor_rgb, major_rgb) -> None:
    """Minor (1 mm) and major (5 mm) lines over the grid area, exactly antialiased."""
    h_px, w_px = image.shape[:2]
    xs_mm = np.arange(plan.grid_x0_mm, plan.grid_x1_mm + 1e-6, 1.0)
    ys_mm = np.arange(plan.grid_y0_mm, plan.grid_y1_mm + 1e-6, 1.0)
    major_x = xs_mm[np.round(xs_mm - plan.grid_x0_mm).astype(int) % 5 == 0]
    major_y = ys_mm[np.round(ys_mm - plan.grid_y0_mm).astype(int) % 5 == 0]
    minor_w = style.grid_minor_width_mm * px_per_mm
    major_w = style.grid_major_width_mm * px_per_mm
    # restrict to the grid area (lines end where the grid ends)
    ext = max(major_w, minor_w)
    x_lo = max(int(np.floor(mm_to_px(plan.grid_x0_mm, px_per_mm) - ext)), 0)
    x_hi = min(int(np.ceil(mm_to_px(plan.grid_x1_mm, px_per_mm) + ext)) + 1, w_px)
    y_lo = max(int(np.floor(mm_to_px(plan.grid_y0_mm, px_per_mm) - ext)), 0)
    y_hi = min(int(np.ceil(mm_to_px(plan.grid_y1_mm, px_per_mm) + ext)) + 1, h_px)
    rows, cols = slice(y_lo, y_hi), slice(x_lo, x_hi)
    x_px, y_px = mm_to_px(xs_mm, px_per_mm), mm_to_px(ys_mm, px_per_mm)
    if style.grid_dotted:
        dot = max(minor_w, 0.18 * px_per_mm)
        dx = line_coverage_1d(w_px, x_px, dot)
        dy = line_coverage_1d(h_px, y_px, dot)
        dx[:x_lo], dx[x_hi:], dy[:y_lo], dy[y_hi:] = 0, 0, 0, 0
        iy, ix = np.flatnonzero(dy), np.flatnonzero(dx)
        block = np.zeros((h_px, w_px), dtype=np.float32)
        block[np.ix_(iy, ix)] = np.outer(dy[iy], dx[ix])
        composite(image, block, minor_rgb)
    else:
        composite_lines(image, line_coverage_1d(w_px, x_px, minor_w), minor_rgb, 1, rows)
        composite_lines(image, line_coverage_1d(h_px, y_px, minor_w), minor_rgb, 0, cols)
    mx = line_coverage_1d(w_px, mm_to_px(major_x, px_per_mm), major_w)
    my = line_coverage_1d(h_px, mm_to_px(major_y, px_per_mm), major_w)
    composite_lines(image, mx, major_rgb, 1, rows)
    composite_lines(image, my, major_rgb, 0, cols)


def _furniture_polylines(plan: PagePlan, style: RenderStyle, px_per_mm: float) -> list:
    """Calibration pulses (1 mV high, 0.2 s wide) and column separators, in pixels."""
    out = []
    gain, speed = style.gain_mm_mv, style.paper_speed_mm_s
    if style.calibration_pulse:
        pw = PULSE_WIDTH_S * speed
        for base in plan.row_baselines_mm:
            x0 = plan.pulse_x0_mm
            pts_mm = np.array(
                [
                    (x0 - PULSE_LEAD_IN_MM / 2, base),
                    (x0, base),
                    (x0, base - gain),
                    (x0 + pw, base - gain),
                    (x0 + pw, base),
                    (x0 + pw + PULSE_LEAD_IN_MM / 2, base),
                ]
            )
            out.append(mm_to_px(pts_mm, px_per_mm))
    if style.separators:
        tick = 0.25 * gain + 1.0
        for seg in plan.segments:
            if seg.col > 0:
                pts_mm = np.array(
                    [(seg.x0_mm, seg.baseline_mm - tick), (seg.x0_mm, seg.baseline_mm + tick)]
                )
                out.append(mm_to_px(pts_mm, px_per_mm))
    return out


def _draw_text(page: Image.Image, plan: PagePlan, style: RenderStyle, px_per_mm, colour) -> None:
    draw = ImageDraw.Draw(page)
    if style.header_lines:
        font = _font(3.2 * px_per_mm)
        for k, line in enumerate(style.header_lines):
            y_mm = 3.0 + k * 5.0
            draw.text(
                (mm_to_px(plan.grid_x0_mm, px_per_mm), mm_to_px(y_mm, px_per_mm)),
                line,
                fill=colour,
                font=font,
            )
    if style.lead_labels:
        font = _font(3.5 * px_per_mm)
        for seg in plan.segments:
            if seg.lead == "ECG" and style.layout == "single":
                continue
            if style.layout == "single" and seg.row > 0:
                continue
            row_h = seg.row_bottom_mm - seg.row_top_mm
            x_mm = seg.x0_mm + 1.5
            if style.label_position == "below":
                y_mm = seg.baseline_mm + min(0.2 * row_h, 0.3 * style.gain_mm_mv + 1.0)
                y_mm = min(y_mm, seg.row_bottom_mm - 4.0)
            else:
                y_mm = seg.baseline_mm - min(0.42 * row_h, 0.9 * style.gain_mm_mv + 4.0)
                y_mm = max(y_mm, seg.row_top_mm + 0.5)
            draw.text(
                (mm_to_px(x_mm, px_per_mm), mm_to_px(y_mm, px_per_mm)),
                seg.lead,
                fill=colour,
                font=font,
            )
