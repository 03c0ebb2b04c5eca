"""Print a record as a vector PDF page: grid, traces, pulses, separators and labels as paths
and text, the way ECG carts export them (each trace a polyline through its samples).

The page geometry is the raster renderer's (:func:`~ecgviewer.render.layout.plan_page`), so a
PDF and a PNG of the same record and style agree to the millimetre, and the ground truth is
the same (the signal as plotted, clipped at the page edge, NaN where not printed). The file is
written by hand (one page, one Flate-compressed content stream, the base-14 Helvetica font):
no dependency beyond zlib, and every viewer (and pdfium, for reading back) accepts it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

import numpy as np

from ecgviewer.errors import SignalFormatError
from ecgviewer.io.signals import Record
from ecgviewer.paper.colours import GRID_PRESETS, TRACE_COLOURS
from ecgviewer.render.layout import PagePlan, plan_page
from ecgviewer.render.renderer import _furniture_polylines, _source_columns, _trace
from ecgviewer.render.style import RenderStyle

PT_PER_MM = 72.0 / 25.4
LABEL_SIZE_MM = 3.5
HEADER_SIZE_MM = 3.2


@dataclass(frozen=True)
class RenderedPdf:
    """A one-page vector PDF and its ground truth (as :class:`~ecgviewer.render.RenderedEcg`)."""

    pdf_bytes: bytes
    truth: Record
    style: RenderStyle
    plan: PagePlan

    def sidecar_json(self) -> str:
        """A JSON description (style, page size, segment times), like the raster sidecar."""
        segments = [
            {"lead": s.lead, "row": s.row, "col": s.col, "t0_s": s.t0_s, "t1_s": s.t1_s,
             "x0_mm": s.x0_mm, "x1_mm": s.x1_mm, "baseline_mm": s.baseline_mm}
            for s in self.plan.segments
        ]
        return json.dumps({
            "format": "ecgviewer-render-truth",
            "version": 1,
            "output": "pdf",
            "record": self.truth.name,
            "fs_hz": self.truth.fs_hz,
            "lead_names": list(self.truth.lead_names),
            "page_size_mm": [self.plan.page_w_mm, self.plan.page_h_mm],
            "style": self.style.to_dict(),
            "segments": segments,
        }, indent=1)


def render_pdf(record: Record, style: RenderStyle | None = None) -> RenderedPdf:
    """Print ``record`` as ``style`` says (its dpi and the distortions do not apply: a PDF has
    no pixels) on one vector PDF page."""
    style = style or RenderStyle()
    sig = np.asarray(record.signal_mv, dtype=np.float64)
    fs = float(record.fs_hz)
    if sig.shape[0] < 2:
        raise SignalFormatError(f"record {record.name!r} has too few samples to render")
    plan = plan_page(style, sig.shape[0] / fs, record.lead_names)
    columns = _source_columns(record, plan, style)
    # at 1 px per mm the renderer's pixel polylines are page millimetres less half a pixel
    traces = _trace(sig, fs, plan, columns, style, 1.0, plan.page_h_mm + 1.0)
    page = _Page(plan.page_w_mm, plan.page_h_mm)
    _grid(page, plan, style)
    ink = TRACE_COLOURS[style.trace_colour]
    page.stroke([p + 0.5 for p in traces.polylines], ink, style.trace_width_mm)
    page.stroke([p + 0.5 for p in _furniture_polylines(plan, style, 1.0)], ink,
                style.trace_width_mm)
    _text(page, plan, style, ink)
    truth = Record(traces.truth, fs, plan.lead_names, name=record.name,
                   meta={"source": "ecgviewer.render.pdf", "layout": style.layout})
    return RenderedPdf(page.to_pdf(title=record.name), truth, style, plan)


def _grid(page: _Page, plan: PagePlan, style: RenderStyle) -> None:
    grid = GRID_PRESETS[style.grid]
    if grid is None:
        return
    xs = np.arange(plan.grid_x0_mm, plan.grid_x1_mm + 1e-6, 1.0)
    ys = np.arange(plan.grid_y0_mm, plan.grid_y1_mm + 1e-6, 1.0)
    major_x = np.round(xs - plan.grid_x0_mm).astype(int) % 5 == 0
    major_y = np.round(ys - plan.grid_y0_mm).astype(int) % 5 == 0
    y0, y1, x0, x1 = plan.grid_y0_mm, plan.grid_y1_mm, plan.grid_x0_mm, plan.grid_x1_mm

    def lines(x_at, y_at) -> list[np.ndarray]:
        return [np.array([(x, y0), (x, y1)]) for x in x_at] + [
            np.array([(x0, y), (x1, y)]) for y in y_at
        ]

    page.stroke(lines(xs[~major_x], ys[~major_y]), grid.minor, style.grid_minor_width_mm)
    page.stroke(lines(xs[major_x], ys[major_y]), grid.major, style.grid_major_width_mm)


def _text(page: _Page, plan: PagePlan, style: RenderStyle, rgb) -> None:
    """Header lines above the grid and each lead's label by its segment's start (the raster
    renderer's places; PDF text sits on its baseline, so one text height lower)."""
    for k, line in enumerate(style.header_lines):
        page.text(line, plan.grid_x0_mm, 3.0 + k * 5.0 + HEADER_SIZE_MM, HEADER_SIZE_MM, rgb)
    if not style.lead_labels:
        return
    single = style.layout == "single"
    for seg in plan.segments:
        if single and (seg.lead == "ECG" or seg.row > 0):
            continue
        row_h = seg.row_bottom_mm - seg.row_top_mm
        if style.label_position == "below":
            top = min(seg.baseline_mm + min(0.2 * row_h, 0.3 * style.gain_mm_mv + 1.0),
                      seg.row_bottom_mm - 4.0)
        else:
            top = max(seg.baseline_mm - min(0.42 * row_h, 0.9 * style.gain_mm_mv + 4.0),
                      seg.row_top_mm + 0.5)
        page.text(seg.lead, seg.x0_mm + 1.5, top + LABEL_SIZE_MM, LABEL_SIZE_MM, rgb)


class _Page:
    """A PDF page being drawn in millimetres from the top-left corner (y down)."""

    def __init__(self, width_mm: float, height_mm: float) -> None:
        self.width_mm = width_mm
        self.height_mm = height_mm
        self.ops: list[str] = []

    def _xy(self, x_mm: float, y_mm: float) -> str:
        return f"{x_mm * PT_PER_MM:.3f} {(self.height_mm - y_mm) * PT_PER_MM:.3f}"

    def stroke(self, polylines, rgb, width_mm: float) -> None:
        """Stroke polylines (N×2 mm arrays) in one colour and width, round joins and caps."""
        if not polylines:
            return
        r, g, b = (c / 255.0 for c in rgb)
        ops = [f"{r:.4f} {g:.4f} {b:.4f} RG {width_mm * PT_PER_MM:.3f} w 1 J 1 j"]
        for pts in polylines:
            if len(pts) < 2:
                continue
            ops.append(self._xy(*pts[0]) + " m")
            ops.extend(f"{self._xy(x, y)} l" for x, y in pts[1:])
        ops.append("S")
        self.ops.append("\n".join(ops))

    def text(self, text: str, x_mm: float, baseline_mm: float, size_mm: float, rgb) -> None:
        r, g, b = (c / 255.0 for c in rgb)
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        safe = safe.encode("latin-1", errors="replace").decode("latin-1")
        self.ops.append(
            f"BT {r:.4f} {g:.4f} {b:.4f} rg /F1 {size_mm * PT_PER_MM:.2f} Tf "
            f"{self._xy(x_mm, baseline_mm)} Td ({safe}) Tj ET"
        )

    def to_pdf(self, title: str = "ECG") -> bytes:
        """The page as a complete PDF file."""
        content = zlib.compress("\n".join(self.ops).encode("latin-1"), 6)
        w, h = self.width_mm * PT_PER_MM, self.height_mm * PT_PER_MM
        safe_title = "".join(ch for ch in title if ch.isalnum() or ch in " _-.")
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w:.3f} {h:.3f}] "
             "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>").encode(),
            f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode()
            + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
            b"/Encoding /WinAnsiEncoding >>",
            f"<< /Producer (ECG Viewer) /Title ({safe_title}) >>".encode(),
        ]
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for k, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += f"{k} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
        out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>"
                f"\nstartxref\n{xref}\n%%EOF\n").encode()
        return bytes(out)
