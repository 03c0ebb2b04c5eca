"""The extracted waveform drawn as printed ECG paper: one sheet in mm (see :mod:`.sheet`) in
ONE plot with a locked aspect, so the grid stays square and the wheel zooms the whole sheet,
never one row's amplitude. Samples the digitiser bridged or doubts are faded and dashed; each
lead's trace quality shows beside its name when it is low; the rhythm-class probabilities run
in a band under the sheet with a legend.

Correction modes: "view" (zoom/pan), "drag" (grab a point of a trace and move it; neighbours
follow smoothly) and "draw" (redraw a short stretch with the mouse). The view never changes
the document itself: it emits :attr:`WaveformView.edit_requested` and the window turns that
into an undoable command.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ecgviewer.digitize.stages import signal_with_gaps
from ecgviewer.digitize.types import Digitization
from ecgviewer.gui import trace_edit
from ecgviewer.gui._pg import (
    CLASS_COLOURS,
    MAJOR_RGB,
    MINOR_RGB,
    PAPER_RGB,
    RHYTHM_RGB,
    TRACE_RGB,
    pg,
)
from ecgviewer.gui.lead_labels import LeadLabel, add_label, caption_text, lead_label_texts
from ecgviewer.gui.sheet import (
    ARRANGEMENTS,
    Placement,
    Sheet,
    doubted,
    grid_lines,
    is_rhythm_strip,
    layout_sheet,
    window_edges,
)
from ecgviewer.rhythm.types import CLASS_NAMES, CLASSES, RhythmResult

PICK_TOLERANCE_PX = 12
LOW_QUALITY = 0.7  # a lead's trace quality is shown beside its name below this
DOUBT_RGBA = (120, 120, 120, 170)
REVIEW_STYLE = "background:#fde0dc; color:#7a1c0c; border:1px solid #e8a79b; padding:3px;"


class _SheetViewBox(pg.ViewBox):
    """The sheet's ViewBox: hands left-button drags to the view while an edit mode is on;
    a double click fits the whole sheet."""

    def __init__(self, view: WaveformView) -> None:
        super().__init__(lockAspect=True, enableMenu=False)
        self._view = view

    def mouseDragEvent(self, ev, axis=None):
        if self._view.mode != "view" and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view.drag(
                ev, self.mapSceneToView(ev.scenePos()), self.mapSceneToView(ev.buttonDownScenePos())
            )
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):
        if ev.double():
            ev.accept()
            self._view.fit()
            return
        super().mouseClickEvent(ev)


class _Trace:
    """One placement's curves: the solid trace, the doubted stretches, its label."""

    def __init__(self, view: WaveformView, place: Placement, pen) -> None:
        self.place = place
        self.view = view
        self.curve = view.plot.plot([], [], pen=pen, connect="finite")
        self.doubt = view.plot.plot(
            [], [], pen=pg.mkPen(DOUBT_RGBA, width=1.2, style=Qt.PenStyle.DashLine)
        )

    @property
    def index(self) -> int:
        return self.place.index

    def refresh(self, values: np.ndarray | None = None) -> None:
        lead = self.view.digitization.leads[self.place.index]
        p = self.place
        k = np.arange(p.first, p.first + p.count)
        sig = signal_with_gaps(lead) if values is None else np.asarray(values, dtype=np.float64)
        x = p.x_mm(k)
        self.curve.setData(x, p.y_mm(sig[k]))
        doubt = doubted(lead.valid_mask, lead.signal_mv)[k] if values is None else k * np.nan
        self.doubt.setData(x, p.y_mm(doubt), connect="finite")


class WaveformView(QWidget):
    """The sheet of ECG paper with the extracted leads; see the module docstring."""

    edit_requested = Signal(int, int, object, str)  # lead index, first sample, values, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = "view"
        self.arrangement = "paper"
        self.digitization: Digitization | None = None
        self.rhythm_index: int | None = None
        self.sheet: Sheet | None = None
        self.traces: list[_Trace] = []
        self.labels: list[LeadLabel] = []
        self.timeline_curves: dict[str, pg.PlotDataItem] = {}
        self._grab = None  # (placement, sample, original signal) while dragging a point
        self._stroke: list[tuple[float, float]] = []
        self._stroke_place: Placement | None = None
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(PAPER_RGB)
        self.plot = self.graphics.addPlot(viewBox=_SheetViewBox(self))
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.view_box.sigTransformChanged.connect(self._fit_labels)  # zoom, pane resize
        self.placeholder = QLabel("Open an ECG image (File ▸ Open, or drop a file here).")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.caption = QLabel(caption_text(None))
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color:#555; padding:1px 4px;")
        self.review = QLabel("")
        self.review.setWordWrap(True)
        self.review.setStyleSheet(REVIEW_STYLE)
        self.review.setObjectName("reviewNotice")
        self.review.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.caption, 0)
        layout.addWidget(self.review, 0)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.graphics, 1)
        self.graphics.hide()

    # -- public -------------------------------------------------------------------------------
    @property
    def view_box(self) -> pg.ViewBox:
        return self.plot.getViewBox()

    def set_mode(self, mode: str) -> None:
        if mode not in ("view", "drag", "draw"):
            raise ValueError(f"unknown edit mode {mode!r}")
        self.mode = mode
        cursor = Qt.CursorShape.ArrowCursor if mode == "view" else Qt.CursorShape.CrossCursor
        self.graphics.setCursor(cursor)

    def set_arrangement(self, arrangement: str) -> None:
        """``"paper"`` (the page's layout) or ``"rows"`` (one lead per row); redraws."""
        if arrangement not in ARRANGEMENTS:
            raise ValueError(f"unknown arrangement {arrangement!r}; use one of {ARRANGEMENTS}")
        self.arrangement = arrangement
        if self.digitization is not None:
            self.show_digitization(self.digitization, self.rhythm_index)

    def show_message(self, text: str) -> None:
        """Replace the sheet by a message (nothing digitised yet, or it failed)."""
        self.placeholder.setText(text)
        self.placeholder.show()
        self.graphics.hide()
        self.review.hide()

    def show_digitization(self, dig: Digitization | None, rhythm_index: int | None) -> None:
        """Lay out and draw a new digitisation."""
        self.plot.clear()
        self.traces = []
        self.labels = []
        self.timeline_curves = {}
        self.digitization = dig
        self.rhythm_index = rhythm_index
        if dig is None or not dig.leads:
            self.sheet = None
            self.show_message("No waveform.")
            return
        self.sheet = sheet = layout_sheet(dig, rhythm_index, self.arrangement)
        self.placeholder.hide()
        self.graphics.show()
        self.caption.setText(caption_text(sheet))
        self._show_review(dig)
        self._draw_grid(sheet)
        labelled: set[int] = set()
        for place in sheet.placements:
            is_rhythm = place.index == rhythm_index and len(dig.leads) > 1
            pen = pg.mkPen(RHYTHM_RGB if is_rhythm else TRACE_RGB, width=1.4 if is_rhythm else 1.1)
            trace = _Trace(self, place, pen)
            trace.refresh()
            self.traces.append(trace)
            self._add_label(place, is_rhythm, first=place.index not in labelled)
            labelled.add(place.index)
        self.stroke = self.plot.plot([], [], pen=pg.mkPen((0, 150, 136), width=2))
        if rhythm_index is not None:
            self._add_timeline(sheet)
        self.fit()
        self._fit_labels()

    def fit(self) -> None:
        """Show the whole sheet (and the rhythm band), as large as the pane allows."""
        s = self.sheet
        if s is None:
            return
        bottom = s.band()[0] - self._legend_room_mm() if self.timeline_curves else s.bottom_mm
        self.view_box.setRange(
            xRange=(s.left_mm, s.right_mm), yRange=(bottom, s.top_mm), padding=0.01
        )

    def _legend_room_mm(self) -> float:
        """mm under the band for its legend (fixed px): more when a tall sheet fills a low pane."""
        px = self.timeline_legend.boundingRect().height() + 2
        span, h = self.sheet.top_mm - self.sheet.band()[0], self.view_box.height()
        return 6.0 if h <= 3 * px else max(6.0, px * span / (h - px))

    def refresh_lead(self, index: int) -> None:
        """Redraw one lead after a correction (or its undo)."""
        for trace in self.traces:
            if trace.index == index:
                trace.refresh()

    def set_digitization_leads(self, dig: Digitization) -> None:
        """Take a digitisation whose leads changed (same places) and redraw them."""
        self.digitization = dig
        for trace in self.traces:
            trace.refresh()

    def show_rhythm(self, result: RhythmResult | None, start_s: float = 0.0) -> None:
        """Draw the per-window class probabilities in the band, each window as a step over
        the stretch it covers (so one window on a 10 s strip is still visible)."""
        if not self.timeline_curves or self.sheet is None:
            return
        s = self.sheet
        lo, hi = s.band()
        edges = None
        if result is not None and len(result.timeline_t_s):
            edges = window_edges(np.asarray(result.timeline_t_s), result.duration_s)
            if s.timeline is not None:
                edges = s.timeline[0] + edges * s.timeline[1]
            else:  # a wrapped strip: the band spans the sheet's width
                edges = s.left_mm + edges / max(result.duration_s, 1e-9) * (s.right_mm - s.left_mm)
        for name, curve in self.timeline_curves.items():
            if edges is None:
                curve.setData([], [])
                continue
            probs = np.asarray(result.timeline_probs)[:, CLASSES.index(name)]
            curve.setData(edges, lo + probs * (hi - lo), stepMode="center")

    # -- building -----------------------------------------------------------------------------
    def _show_review(self, dig: Digitization) -> None:
        reasons = tuple(getattr(dig, "review_reasons", ()) or ())
        if getattr(dig, "status", "ok") == "needs_review" or reasons:
            text = "; ".join(reasons) if reasons else "the self-checks found it implausible"
            self.review.setText(
                f"⚠ Needs review – this result cannot be right as it stands: {text}"
            )
            self.review.show()
        else:
            self.review.hide()

    def _draw_grid(self, s: Sheet) -> None:
        bottom = s.band()[0] - 5 if self.rhythm_index is not None else s.bottom_mm
        bottom = 5 * np.floor(bottom / 5)
        for step, rgb, width in ((1.0, MINOR_RGB, 0.5), (5.0, MAJOR_RGB, 0.9)):
            gx, gy = grid_lines(s.left_mm, s.right_mm, bottom, s.top_mm, step, step)
            item = pg.PlotCurveItem(gx, gy, connect="pairs", pen=pg.mkPen(rgb, width=width))
            item.setZValue(-10)
            self.plot.addItem(item)
        margin = 10 * max(s.right_mm - s.left_mm, s.top_mm - bottom)  # any pane aspect fits
        self.view_box.setLimits(
            xMin=s.left_mm - margin, xMax=s.right_mm + margin,
            yMin=bottom - margin, yMax=s.top_mm + margin, minXRange=4.0, minYRange=4.0,
        )  # fmt: skip

    def _add_label(self, place: Placement, is_rhythm: bool, first: bool) -> None:
        lead = self.digitization.leads[place.index]
        tip = ""
        if first:
            quality = lead.quality if lead.quality < LOW_QUALITY else None
            strip = is_rhythm and is_rhythm_strip(self.digitization, place.index)
            texts, tip = lead_label_texts(lead.name, quality, is_rhythm, strip)
        else:  # a later row of a wrapped strip: its start time
            texts = (f"<span style='color:#666'>{place.first / place.fs_hz:.0f} s</span>",)
        label = add_label(self.plot, self.sheet, place, texts)
        label.item.setToolTip(tip)
        self.labels.append(label)

    def _fit_labels(self, *_args) -> None:
        """Let each label say as much as fits before the next column at the current zoom."""
        (x0, x1), _ = self.view_box.viewRange()
        px_per_mm = self.view_box.width() / max(x1 - x0, 1e-9)
        for label in self.labels:
            label.fit(px_per_mm)

    def _add_timeline(self, s: Sheet) -> None:
        lo, hi = s.band()
        x = [s.left_mm, s.right_mm]
        for y in (lo, (lo + hi) / 2, hi):
            self.plot.addItem(pg.PlotCurveItem(x, [y, y], pen=pg.mkPen((150, 150, 150), width=0.7)))
        for name in CLASSES:
            self.timeline_curves[name] = self.plot.plot(
                [], [], pen=pg.mkPen(CLASS_COLOURS[name], width=1.8), name=name
            )
        keys = " ".join(
            f"<span style='color:rgb{CLASS_COLOURS[n]}'>■ {CLASS_NAMES[n]}</span>" for n in CLASSES
        )
        title = "<span style='color:#333'>Class probability per window:</span>"
        self.timeline_legend = pg.TextItem(html=f"{title} {keys}", anchor=(0, 0))
        self.timeline_legend.setPos(s.left_mm, lo - 0.5)
        self.plot.addItem(self.timeline_legend)
        for level, text in ((0.0, "0"), (1.0, "1")):
            tick = pg.TextItem(text, color=(90, 90, 90), anchor=(1, 0.5))
            tick.setPos(s.left_mm, lo + level * (hi - lo))
            self.plot.addItem(tick)

    # -- hand corrections ---------------------------------------------------------------------
    def pick(self, x_mm: float, y_mm: float, tol_mm: float) -> tuple[Placement, int] | None:
        """The placement whose trace passes within ``tol_mm`` of the point, and the sample."""
        best = None
        for place in self.sheet.placements if self.sheet else ():
            if not place.covers(x_mm):
                continue
            sig = np.asarray(self.digitization.leads[place.index].signal_mv, dtype=np.float64)
            k = int(round(place.sample_at(x_mm)))
            lo, hi = max(place.first, k - 3), min(place.first + place.count, k + 4)
            if not lo <= k < hi:
                continue
            with np.errstate(invalid="ignore"):
                d = np.nanmin(np.abs(place.y_mm(sig[lo:hi]) - y_mm)) if hi > lo else np.inf
            if d <= tol_mm and (best is None or d < best[0]):
                best = (d, place, k)
        return None if best is None else (best[1], best[2])

    def pick_row(self, x_mm: float, y_mm: float) -> Placement | None:
        """The placement under the point whose baseline is nearest (for redrawing)."""
        rows = [p for p in (self.sheet.placements if self.sheet else ()) if p.covers(x_mm)]
        if not rows:
            return None
        place = min(rows, key=lambda p: abs(p.baseline_mm - y_mm))
        return place if abs(place.baseline_mm - y_mm) <= 0.75 * self.sheet.pitch_mm else None

    def drag(self, ev, pos, down_pos) -> None:
        """A left-button drag in an edit mode, ``pos``/``down_pos`` in sheet mm."""
        if self.mode == "drag":
            self._drag_point(ev, pos, down_pos)
        else:
            self._draw(ev, pos)

    def _drag_point(self, ev, pos, down_pos) -> None:
        if ev.isStart():
            self._grab = None
            tol = PICK_TOLERANCE_PX * self.view_box.viewPixelSize()[1]
            hit = self.pick(down_pos.x(), down_pos.y(), tol)
            if hit is None:
                return
            lead = self.digitization.leads[hit[0].index]
            self._grab = (hit[0], hit[1], np.asarray(lead.signal_mv, dtype=np.float64).copy())
        if self._grab is None:
            return
        place, k, origin = self._grab
        delta_mv = (pos.y() - down_pos.y()) / place.mm_per_mv
        start, values = trace_edit.drag_point(origin, k, delta_mv, place.fs_hz)
        preview = origin.copy()
        preview[start : start + len(values)] = values
        for trace in self.traces:
            if trace.index == place.index:
                trace.refresh(preview)
        if ev.isFinish():
            self._grab = None
            self.edit_requested.emit(place.index, start, values, "Move trace point")

    def _draw(self, ev, pos) -> None:
        if ev.isStart():
            self._stroke = []
            self._stroke_place = self.pick_row(pos.x(), pos.y())
        place = self._stroke_place
        if place is None:
            return
        self._stroke.append((pos.x(), pos.y()))
        xs, ys = np.array(self._stroke).T
        self.stroke.setData(xs, ys)
        if ev.isFinish():
            lead = self.digitization.leads[place.index]
            t = lead.start_s + np.array([place.sample_at(x) for x in xs]) / lead.fs_hz
            v = (ys - place.baseline_mm) / place.mm_per_mv
            out = trace_edit.redraw_segment(lead.signal_mv, lead.fs_hz, lead.start_s, t, v)
            self.stroke.setData([], [])
            self._stroke, self._stroke_place = [], None
            if out is not None:
                self.edit_requested.emit(place.index, out[0], out[1], "Redraw trace segment")
