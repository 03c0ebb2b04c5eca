"""Page geometry in millimetres: where the grid, the calibration pulses and each lead segment go.

Pure arithmetic, no pixels: :func:`plan_page` turns a style and a record's duration into a
:class:`PagePlan` that the rasteriser draws and that becomes the ground-truth layout.

The arrangements themselves (which lead goes where) are the table
:data:`ecgviewer.paper.LAYOUT_SPECS`; this module turns one into millimetres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ecgviewer.paper.layouts import (
    LAYOUT_SPECS,
    PAPER_LAYOUTS,
    STANDARD_LEADS,
    canonical_lead_name,
)
from ecgviewer.render.style import PAPER_SIZES_MM, RenderStyle

MARGIN_X_MM = 5.0
MARGIN_TOP_MM = 8.0
MARGIN_BOTTOM_MM = 6.0
HEADER_LINE_MM = 5.0
PULSE_WIDTH_S = 0.2
PULSE_LEAD_IN_MM = 2.0


@dataclass(frozen=True)
class Segment:
    """One lead drawn over ``[t0_s, t1_s)`` of the record, from ``x0_mm`` with baseline ``y``.

    ``t_origin_s`` is the record time at ``x_origin_mm`` (the row's left edge), so a sample at
    time t sits at ``x_origin_mm + (t - t_origin_s) * paper_speed_mm_s``.
    """

    lead: str
    row: int
    col: int
    t0_s: float
    t1_s: float
    x_origin_mm: float
    t_origin_s: float
    x0_mm: float
    x1_mm: float
    baseline_mm: float
    row_top_mm: float
    row_bottom_mm: float


@dataclass(frozen=True)
class PagePlan:
    """Where everything goes on the page, in mm from the page's top-left corner."""

    page_w_mm: float
    page_h_mm: float
    grid_x0_mm: float
    grid_x1_mm: float
    grid_y0_mm: float
    grid_y1_mm: float
    plot_x0_mm: float
    segments: tuple[Segment, ...]
    pulse_x0_mm: float  # where each row's calibration pulse starts
    row_baselines_mm: tuple[float, ...]
    lead_names: tuple[str, ...]  # the truth record's leads, in order
    page_seconds: float  # record time shown on the page (may be cut short by the record)


def _grid_box(style: RenderStyle) -> tuple[float, float, float, float, float, float]:
    page_w, page_h = PAPER_SIZES_MM[style.paper]
    top = MARGIN_TOP_MM + HEADER_LINE_MM * len(style.header_lines)
    grid_w = math.floor((page_w - 2 * MARGIN_X_MM) / 5.0) * 5.0  # end on a major line
    grid_h = math.floor((page_h - top - MARGIN_BOTTOM_MM) / 5.0) * 5.0
    x0 = (page_w - grid_w) / 2.0
    return page_w, page_h, x0, x0 + grid_w, top, top + grid_h


def _pulse_area_mm(style: RenderStyle) -> float:
    """Room left of the traces for the 1 mV pulse, rounded up to a major (5 mm) line."""
    pulse_w = PULSE_WIDTH_S * style.paper_speed_mm_s
    if style.pulse_gap_s is not None:  # the trace starts this long after the pulse ends
        return PULSE_LEAD_IN_MM + pulse_w + max(0.0, style.pulse_gap_s) * style.paper_speed_mm_s
    return math.ceil((2 * PULSE_LEAD_IN_MM + pulse_w) / 5.0) * 5.0


def plan_page(style: RenderStyle, duration_s: float, lead_names: tuple[str, ...]) -> PagePlan:
    """Lay out a record of ``duration_s`` with ``lead_names`` (canonical) on one page."""
    page_w, page_h, gx0, gx1, gy0, gy1 = _grid_box(style)
    plot_x0 = gx0 + _pulse_area_mm(style)
    avail_s = (gx1 - plot_x0 - 1.0) / style.paper_speed_mm_s
    speed = style.paper_speed_mm_s
    if style.layout not in PAPER_LAYOUTS:
        raise ValueError(f"unknown layout {style.layout!r}")
    spec = LAYOUT_SPECS[style.layout]
    if spec.single:
        return _plan_single(style, duration_s, lead_names, page_w, page_h, gx0, gx1, gy0, gy1,
                            plot_x0, avail_s)
    page_s = style.page_seconds or min(10.0, math.floor(avail_s / 2.5) * 2.5)
    page_s = min(page_s, avail_s)
    grid_rows, rhythm = spec.grid_rows, spec.rhythm_leads
    n_rows = spec.n_rows
    row_h = (gy1 - gy0) / n_rows
    baselines = tuple(gy0 + row_h * (r + 0.55) for r in range(n_rows))
    segments = []
    for r, names in enumerate(grid_rows):
        n_cols = len(names)
        col_s = page_s / n_cols
        for c, name in enumerate(names):
            t0, t1 = c * col_s, (c + 1) * col_s
            segments.append(
                Segment(name, r, c, t0, t1, plot_x0, 0.0, plot_x0 + t0 * speed,
                        plot_x0 + t1 * speed, baselines[r], gy0 + r * row_h,
                        gy0 + (r + 1) * row_h)
            )
    for k, name in enumerate(rhythm):
        r = len(grid_rows) + k
        segments.append(
            Segment(name, r, 0, 0.0, page_s, plot_x0, 0.0, plot_x0, plot_x0 + page_s * speed,
                    baselines[r], gy0 + r * row_h, gy0 + (r + 1) * row_h)
        )
    return PagePlan(page_w, page_h, gx0, gx1, gy0, gy1, plot_x0, tuple(segments),
                    gx0 + PULSE_LEAD_IN_MM, baselines, STANDARD_LEADS, min(page_s, duration_s))


def _plan_single(style, duration_s, lead_names, page_w, page_h, gx0, gx1, gy0, gy1, plot_x0,
                 avail_s) -> PagePlan:
    speed = style.paper_speed_mm_s
    # a row that must shrink to fit the page keeps whole half seconds, as ECG printers do
    row_s = min(style.row_seconds, max(0.5, math.floor(avail_s * 2.0) / 2.0), avail_s)
    min_row_mm = max(15.0, 2.0 * style.gain_mm_mv)
    max_rows = max(1, int((gy1 - gy0) // min_row_mm))
    n_rows = max(1, min(max_rows, math.ceil(duration_s / row_s - 1e-9)))
    row_h = (gy1 - gy0) / n_rows
    baselines = tuple(gy0 + row_h * (r + 0.55) for r in range(n_rows))
    lead = style.single_lead or lead_names[0]
    lead = canonical_lead_name(lead)
    truth_name = lead if lead in STANDARD_LEADS else "ECG"
    segments = tuple(
        Segment(truth_name, r, 0, r * row_s, (r + 1) * row_s, plot_x0, r * row_s, plot_x0,
                plot_x0 + row_s * speed, baselines[r], gy0 + r * row_h, gy0 + (r + 1) * row_h)
        for r in range(n_rows)
    )
    return PagePlan(page_w, page_h, gx0, gx1, gy0, gy1, plot_x0, segments,
                    gx0 + PULSE_LEAD_IN_MM, baselines, (truth_name,),
                    min(n_rows * row_s, duration_s))
