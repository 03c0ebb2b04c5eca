"""The extracted waveform: one row per lead in mV against seconds on ECG paper, the rhythm
strip highlighted with its probability timeline beneath, and hand correction of traces.

Correction modes: "view" (zoom/pan), "drag" (grab a point of a trace and move it; neighbours
follow smoothly) and "draw" (redraw a short stretch with the mouse). The view never changes
the document itself: it emits :attr:`WaveformView.edit_requested` and the window turns that
into an undoable command.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from ecgviewer.digitize.types import STANDARD_LEADS, Digitization
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
from ecgviewer.gui.document import signal_with_gaps
from ecgviewer.rhythm.types import CLASSES, RhythmResult

MINOR_S, MAJOR_S = 0.04, 0.2
MINOR_MV, MAJOR_MV = 0.1, 0.5
ROW_HEIGHT_PX = 58  # minimum; rows grow to fill the panel
TIMELINE_HEIGHT_PX = 64
PICK_TOLERANCE_PX = 12


def grid_lines(t0: float, t1: float, v0: float, v1: float, step_s: float, step_mv: float):
    """x, y arrays of vertical and horizontal grid segments (pairs) covering the box."""
    xs = np.arange(np.floor(t0 / step_s), np.ceil(t1 / step_s) + 1) * step_s
    ys = np.arange(np.floor(v0 / step_mv), np.ceil(v1 / step_mv) + 1) * step_mv
    vx = np.repeat(xs, 2)
    vy = np.tile([ys[0], ys[-1]], len(xs))
    hx = np.tile([xs[0], xs[-1]], len(ys))
    hy = np.repeat(ys, 2)
    return np.concatenate([vx, hx]), np.concatenate([vy, hy])


def window_edges(centres_s: np.ndarray, duration_s: float) -> np.ndarray:
    """Boundaries of the analysis windows around their centre times: half-way between
    neighbours, the ends at 0 and ``duration_s`` (len(centres) + 1 values)."""
    c = np.asarray(centres_s, dtype=np.float64)
    mids = (c[:-1] + c[1:]) / 2
    first = min(0.0, c[0]) if c.size else 0.0
    last = max(duration_s, c[-1]) if c.size else duration_s
    return np.concatenate([[first], mids, [last]])


def display_order(dig: Digitization, rhythm_index: int | None) -> list[int]:
    """Lead indices: the rhythm strip first (what a rhythm reader looks at), then the usual
    order (I, II, III, aVR, … V6), each lead's segments by time."""
    rank = {name.lower(): k for k, name in enumerate(STANDARD_LEADS)}
    order = sorted(
        range(len(dig.leads)),
        key=lambda i: (
            i != rhythm_index,
            rank.get(dig.leads[i].name.lower(), len(rank)),
            dig.leads[i].start_s,
            i,
        ),
    )
    return order


class _EditViewBox(pg.ViewBox):
    """A ViewBox that hands left-button drags to its row while an edit mode is on."""

    def __init__(self, row: _LeadRow) -> None:
        super().__init__()
        self._row = row

    def mouseDragEvent(self, ev, axis=None):
        if self._row.view.mode != "view" and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._row.drag(
                ev, self.mapSceneToView(ev.scenePos()), self.mapSceneToView(ev.buttonDownScenePos())
            )
            return
        super().mouseDragEvent(ev, axis)


class _LeadRow:
    """One lead's plot: grid, trace, and the in-progress correction preview."""

    def __init__(self, view: WaveformView, index: int, grid_row: int, pen) -> None:
        self.view = view
        self.index = index
        self.plot = view.graphics.addPlot(row=grid_row, col=0, viewBox=_EditViewBox(self))
        self.curve = self.plot.plot([], [], pen=pen, connect="finite")
        self.stroke = self.plot.plot([], [], pen=pg.mkPen((0, 150, 136), width=2))
        self._drag_origin: np.ndarray | None = None
        self._drag_index: int | None = None
        self._stroke_t: list[float] = []
        self._stroke_v: list[float] = []

    def lead(self):
        return self.view.digitization.leads[self.index]

    def time_axis(self) -> np.ndarray:
        lead = self.lead()
        return lead.start_s + np.arange(len(lead.signal_mv)) / lead.fs_hz

    def refresh(self) -> None:
        lead = self.lead()
        self.curve.setData(self.time_axis(), signal_with_gaps(lead))

    def drag(self, ev, pos, down_pos) -> None:
        if self.view.mode == "drag":
            self._drag_point(ev, pos, down_pos)
        else:
            self._draw(ev, pos)

    def _drag_point(self, ev, pos, down_pos) -> None:
        lead = self.lead()
        if ev.isStart():
            i = int(round((down_pos.x() - lead.start_s) * lead.fs_hz))
            self._drag_index = None
            if not 0 <= i < len(lead.signal_mv):
                return
            # tolerance in mV from pixels: how far from the trace a press still grabs it
            vb = self.plot.getViewBox()
            mv_per_px = vb.viewPixelSize()[1]
            lo, hi = max(0, i - 3), min(len(lead.signal_mv), i + 4)
            near = np.nanmin(np.abs(np.asarray(lead.signal_mv[lo:hi]) - down_pos.y()))
            if not near <= PICK_TOLERANCE_PX * mv_per_px:
                return
            self._drag_index = i
            self._drag_origin = np.asarray(lead.signal_mv, dtype=np.float64).copy()
        if self._drag_index is None or self._drag_origin is None:
            return
        delta = pos.y() - down_pos.y()
        start, values = trace_edit.drag_point(
            self._drag_origin, self._drag_index, delta, lead.fs_hz
        )
        preview = self._drag_origin.copy()
        preview[start : start + len(values)] = values
        self.curve.setData(self.time_axis(), preview)
        if ev.isFinish():
            self._drag_index = None
            self._drag_origin = None
            self.view.edit_requested.emit(self.index, start, values, "Move trace point")

    def _draw(self, ev, pos) -> None:
        if ev.isStart():
            self._stroke_t, self._stroke_v = [], []
        self._stroke_t.append(pos.x())
        self._stroke_v.append(pos.y())
        self.stroke.setData(self._stroke_t, self._stroke_v)
        if ev.isFinish():
            lead = self.lead()
            out = trace_edit.redraw_segment(
                lead.signal_mv,
                lead.fs_hz,
                lead.start_s,
                np.array(self._stroke_t),
                np.array(self._stroke_v),
            )
            self.stroke.setData([], [])
            self._stroke_t, self._stroke_v = [], []
            if out is not None:
                self.view.edit_requested.emit(self.index, out[0], out[1], "Redraw trace segment")


class WaveformView(QWidget):
    """Scrollable stack of lead rows sharing one time axis; see the module docstring."""

    edit_requested = Signal(int, int, object, str)  # lead index, first sample, values, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = "view"
        self.digitization: Digitization | None = None
        self.rhythm_index: int | None = None
        self.rows: list[_LeadRow] = []
        self.timeline_plot: pg.PlotItem | None = None
        self.timeline_curves: dict[str, pg.PlotDataItem] = {}
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(PAPER_RGB)
        self.graphics.ci.setSpacing(0)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.graphics)
        self.placeholder = QLabel("Open an ECG image (File ▸ Open, or drop a file here).")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.caption = QLabel(
            "Extracted signal in mV against time in s. Grid: small squares 0.04 s × 0.1 mV, "
            "large squares 0.2 s × 0.5 mV. Wheel: zoom, drag: pan."
        )
        self.caption.setStyleSheet("color:#555; padding:1px 4px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.caption, 0)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.scroll, 1)
        self.scroll.hide()

    # -- public -------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in ("view", "drag", "draw"):
            raise ValueError(f"unknown edit mode {mode!r}")
        self.mode = mode
        cursor = Qt.CursorShape.ArrowCursor if mode == "view" else Qt.CursorShape.CrossCursor
        self.graphics.setCursor(cursor)

    def show_message(self, text: str) -> None:
        """Replace the plots by a message (nothing digitised yet, or it failed)."""
        self.placeholder.setText(text)
        self.placeholder.show()
        self.scroll.hide()

    def show_digitization(self, dig: Digitization | None, rhythm_index: int | None) -> None:
        """Rebuild the rows for a new digitisation."""
        self.graphics.clear()
        self.rows = []
        self.timeline_plot = None
        self.timeline_curves = {}
        self.digitization = dig
        self.rhythm_index = rhythm_index
        if dig is None or not dig.leads:
            self.show_message("No waveform.")
            return
        self.placeholder.hide()
        self.scroll.show()
        t_end = max(ld.start_s + ld.duration_s for ld in dig.leads)
        t_start = min(ld.start_s for ld in dig.leads)
        first = None
        heights = 0
        for i in display_order(dig, rhythm_index):
            lead = dig.leads[i]
            is_rhythm = i == rhythm_index and len(dig.leads) > 1
            pen = pg.mkPen(RHYTHM_RGB if is_rhythm else TRACE_RGB, width=1.6 if is_rhythm else 1.2)
            row = _LeadRow(self, i, len(self.rows) * 2, pen)
            plot = row.plot
            self._style_row(plot, lead, is_rhythm, t_start, t_end)
            self.rows.append(row)
            row.refresh()
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            weight = 2 if is_rhythm or len(dig.leads) == 1 else 1
            plot.setMinimumHeight(ROW_HEIGHT_PX * weight)
            self.graphics.ci.layout.setRowStretchFactor(len(self.rows) * 2 - 2, weight)
            heights += ROW_HEIGHT_PX * weight
            if is_rhythm or len(dig.leads) == 1:
                self.timeline_plot = self._add_timeline(
                    len(self.rows) * 2 - 1, first, t_start, t_end
                )
                heights += TIMELINE_HEIGHT_PX
        last = self.rows[-1].plot
        last.showAxis("bottom")
        last.setLabel("bottom", "time", units="s")
        first.setXRange(t_start, t_end, padding=0.01)
        self.graphics.setMinimumHeight(int(heights) + 40)

    def refresh_lead(self, index: int) -> None:
        """Redraw one lead after a correction (or its undo)."""
        if self.digitization is None:
            return
        for row in self.rows:
            if row.index == index:
                row.refresh()

    def set_digitization_leads(self, dig: Digitization) -> None:
        """Take a digitisation whose leads changed (same rows) and redraw them."""
        self.digitization = dig
        for row in self.rows:
            row.refresh()

    def show_rhythm(self, result: RhythmResult | None, start_s: float = 0.0) -> None:
        """Draw the per-window class probabilities beneath the rhythm strip, each window as a
        step over the stretch it covers (so one window on a 10 s strip is still visible)."""
        if self.timeline_plot is None:
            return
        edges = None
        if result is not None and len(result.timeline_t_s):
            edges = start_s + window_edges(np.asarray(result.timeline_t_s), result.duration_s)
        for name, curve in self.timeline_curves.items():
            if edges is None:
                curve.setData([], [])
                continue
            probs = np.asarray(result.timeline_probs)[:, CLASSES.index(name)]
            curve.setData(edges, probs, stepMode="center")

    # -- building -----------------------------------------------------------------------------
    def _style_row(self, plot: pg.PlotItem, lead, is_rhythm: bool, t0: float, t1: float) -> None:
        sig = np.asarray(lead.signal_mv, dtype=np.float64)
        finite = sig[np.isfinite(sig)]
        lo = min(-1.3, float(np.percentile(finite, 0.5)) - 0.3) if finite.size else -1.5
        hi = max(1.3, float(np.percentile(finite, 99.5)) + 0.3) if finite.size else 1.5
        for step_s, step_mv, rgb, width in (
            (MINOR_S, MINOR_MV, MINOR_RGB, 0.6),
            (MAJOR_S, MAJOR_MV, MAJOR_RGB, 1.0),
        ):
            gx, gy = grid_lines(t0 - 1.0, t1 + 1.0, lo - 3.0, hi + 3.0, step_s, step_mv)
            item = pg.PlotCurveItem(gx, gy, connect="pairs", pen=pg.mkPen(rgb, width=width))
            item.setZValue(-10)
            plot.addItem(item)
        plot.setYRange(lo, hi, padding=0)
        plot.hideAxis("bottom")
        plot.setMenuEnabled(False)
        plot.hideButtons()
        tall = is_rhythm or len(self.digitization.leads) == 1
        plot.setLabel("left", f"{lead.name} (mV)" if tall else lead.name)  # short rows: name only
        plot.getAxis("left").setWidth(62)
        plot.getAxis("left").setTickSpacing(levels=[(1.0, 0.0)])  # labels at whole mV only
        plot.getViewBox().setLimits(xMin=t0 - 1.0, xMax=t1 + 1.0, yMin=lo - 3.0, yMax=hi + 3.0)
        plot.getViewBox().setMouseEnabled(x=True, y=True)
        if is_rhythm:
            plot.getViewBox().setBorder(pg.mkPen(RHYTHM_RGB, width=2))
            label = pg.TextItem(f"Rhythm strip ({lead.name})", color=RHYTHM_RGB, anchor=(0, 0))
            label.setPos(t0, hi)
            plot.addItem(label)

    def _add_timeline(self, row: int, link: pg.PlotItem, t0: float, t1: float) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=row, col=0)
        plot.setXLink(link)
        plot.setYRange(0, 1, padding=0.05)
        plot.setMaximumHeight(TIMELINE_HEIGHT_PX + 22)
        plot.setMinimumHeight(TIMELINE_HEIGHT_PX + 22)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=True, y=False)
        plot.setLabel("left", "P(class)")
        plot.getAxis("left").setWidth(62)
        plot.getAxis("left").setTicks([[(0, "0"), (0.5, ".5"), (1, "1")]])
        # no legend over the curves: the colours are those of the Rhythm panel's bars
        plot.getAxis("left").setToolTip(
            "Class probability per analysis window; colours as in the Rhythm panel"
        )
        for name in CLASSES:
            self.timeline_curves[name] = plot.plot(
                [], [], pen=pg.mkPen(CLASS_COLOURS[name], width=1.8), name=name
            )
        return plot
