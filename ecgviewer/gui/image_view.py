"""The page: the (straightened) scan, its binarised trace image, the extracted traces drawn on
top so mistakes are visible, and a draggable, resizable crop box.

Modes: "side" (the default: the scan with the traces, and beside it the binary image, the two
views zoomed and panned together), "scan", "binary" (black ink on white) and "both" (magenta
ink over the scan, above the traces so the ink stays visible). The binary image never goes
blank: without ink it shows the page faded, with a message saying what to do."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QWidget

from ecgviewer.digitize.types import CropBox, Lead
from ecgviewer.gui._pg import RHYTHM_RGB, pg
from ecgviewer.gui.document import overlay_breaks

VIEW_MODES = ("side", "scan", "binary", "both")
MIN_INK_FRACTION = 1e-4  # less ink than this is "nothing found": say so over the image
NO_INK_TEXT = "No trace ink at this threshold: lower the threshold (Settings ▸ Binarisation)."

# lookup tables for the 0/1 binary image: black ink on white, or magenta ink on transparent
_LUT_BINARY = np.array([[255, 255, 255, 255], [0, 0, 0, 255]], dtype=np.uint8)
_LUT_OVERLAY = np.array([[0, 0, 0, 0], [200, 0, 200, 255]], dtype=np.uint8)


class ImageView(pg.GraphicsLayoutWidget):
    """Shows one page; emits crop changes in page pixels.

    ``crop_moving`` fires continuously while the box is dragged (for the live binary preview),
    ``crop_changed`` once when the user lets go (to digitise again).
    """

    crop_moving = Signal(object)
    crop_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground((236, 236, 236))
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.page_item = pg.ImageItem(axisOrder="row-major")
        self.binary_item = pg.ImageItem(axisOrder="row-major")
        self.binary_item.setZValue(15)  # above the traces: the ink they follow stays visible
        self.view.addItem(self.page_item)
        self.view.addItem(self.binary_item)
        # the binary image beside the scan ("side"), zoomed and panned with it
        self.side_view = self.addViewBox(
            row=0, col=1, lockAspect=True, invertY=True, enableMenu=False
        )
        self.side_view.setXLink(self.view)
        self.side_view.setYLink(self.view)
        self.side_item = pg.ImageItem(axisOrder="row-major")
        self.side_item.setLookupTable(_LUT_BINARY)
        self.side_view.addItem(self.side_item)
        self.notes = []
        for vb in (self.view, self.side_view):
            note = pg.TextItem(
                color=(120, 20, 0), fill=pg.mkBrush(255, 243, 205, 235), anchor=(0, 0)
            )
            note.setZValue(30)
            note.hide()
            vb.addItem(note, ignoreBounds=True)
            self.notes.append(note)
        self.note_text = ""
        self.trace_items: list[pg.PlotCurveItem] = []
        self.roi = pg.RectROI(
            [0, 0],
            [10, 10],
            pen=pg.mkPen((255, 140, 0), width=2),
            movable=True,
            removable=False,
            rotatable=False,
        )
        for pos, centre in (
            ([0, 0], [1, 1]),
            ([1, 0], [0, 1]),
            ([0, 1], [1, 0]),
            ([0.5, 0], [0.5, 1]),
            ([0.5, 1], [0.5, 0]),
            ([0, 0.5], [1, 0.5]),
            ([1, 0.5], [0, 0.5]),
        ):
            self.roi.addScaleHandle(pos, centre)
        self.roi.setZValue(20)
        self.roi.hide()
        self.view.addItem(self.roi)
        self.roi.sigRegionChanged.connect(self._on_roi_moving)
        self.roi.sigRegionChangeFinished.connect(self._on_roi_finished)
        self.mode = "side"
        self.show_traces = True
        self._page_shape: tuple[int, int] | None = None
        self._setting_roi = False

    # -- content ------------------------------------------------------------------------------
    def set_page(self, rgb: np.ndarray | None, reset_view: bool = True) -> None:
        """Show a page (H×W×3 uint8); clears the binary image and traces."""
        if rgb is None:
            self.page_item.clear()
            self.binary_item.clear()
            self.side_item.clear()
            self.set_traces((), None)
            self.roi.hide()
            self._page_shape = None
            self.note_text = ""
            self._apply_mode()
            return
        shape = rgb.shape[:2]
        self.page_item.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.binary_item.clear()
        self.side_item.clear()
        self.note_text = ""
        self.set_traces((), None)
        if reset_view or shape != self._page_shape:
            self.view.setRange(xRange=(0, shape[1]), yRange=(0, shape[0]), padding=0.01)
        self.roi.maxBounds = QRectF(0, 0, shape[1], shape[0])  # the box stays on the page
        self._page_shape = shape
        self._apply_mode()

    def set_binary(
        self, binary: np.ndarray | None, crop: CropBox | None, note: str | None = None
    ) -> None:
        """Show the binarised crop at its place on the page; with no (or almost no) ink, a
        message over the image instead: ``note``, else the hint to lower the threshold."""
        if binary is None or crop is None:
            self.binary_item.clear()
            self.side_item.clear()
            self.note_text = note or ""
            self._apply_mode()
            return
        image = np.asarray(binary, dtype=np.uint8)
        for item in (self.binary_item, self.side_item):
            item.setImage(image, autoLevels=False, levels=(0, 1))
            item.setPos(crop.x0, crop.y0)
        self.note_text = note or (
            "" if np.count_nonzero(image) >= MIN_INK_FRACTION * image.size else NO_INK_TEXT
        )
        self._apply_mode()

    def show_region(self, crop: CropBox) -> None:
        """Zoom to ``crop`` (the ECG on the page), as large as the pane allows."""
        self.view.setRange(xRange=(crop.x0, crop.x1), yRange=(crop.y0, crop.y1), padding=0.02)

    def set_traces(self, leads: tuple[Lead, ...] | list, rhythm_index: int | None) -> None:
        """Draw each lead's extracted trace over the page (rhythm lead in blue)."""
        for item in self.trace_items:
            self.view.removeItem(item)
        self.trace_items = []
        for i, lead in enumerate(leads):
            x = np.asarray(lead.trace_x_px, dtype=np.float64)
            y = np.asarray(lead.trace_y_px, dtype=np.float64)
            if x.size == 0 or x.size != y.size:
                continue
            colour = RHYTHM_RGB if i == rhythm_index else (0, 170, 80)
            item = pg.PlotCurveItem(
                np.nan_to_num(x),
                np.nan_to_num(y),
                pen=pg.mkPen(colour, width=1.5),
                connect=overlay_breaks(x, y),
            )
            item.setZValue(10)
            item.setVisible(self.show_traces)
            self.view.addItem(item)
            self.trace_items.append(item)

    def set_crop(self, crop: CropBox | None) -> None:
        """Place the crop box without emitting crop signals."""
        if crop is None:
            self.roi.hide()
            return
        self._setting_roi = True
        try:
            self.roi.setPos((crop.x0, crop.y0), update=False, finish=False)
            self.roi.setSize((crop.width, crop.height), update=True, finish=False)
        finally:
            self._setting_roi = False
        self.roi.show()

    def current_crop(self) -> CropBox:
        """The crop box in whole page pixels, clipped to the page."""
        pos, size = self.roi.pos(), self.roi.size()
        h, w = self._page_shape or (0, 0)
        x0 = int(round(max(0.0, pos.x())))
        y0 = int(round(max(0.0, pos.y())))
        x1 = int(round(min(float(w), pos.x() + size.x())))
        y1 = int(round(min(float(h), pos.y() + size.y())))
        return CropBox(x0, y0, max(x1, x0 + 8), max(y1, y0 + 8))

    # -- display options ----------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """One of :data:`VIEW_MODES` (see the module docstring)."""
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown view mode {mode!r}; use one of {VIEW_MODES}")
        self.mode = mode
        self._apply_mode()

    def set_show_traces(self, show: bool) -> None:
        self.show_traces = bool(show)
        for item in self.trace_items:
            item.setVisible(self.show_traces)

    def _apply_mode(self) -> None:
        mode, noted = self.mode, bool(self.note_text)
        self.side_view.setVisible(mode == "side")
        self.ci.layout.setColumnStretchFactor(1, 1 if mode == "side" else 0)
        self.ci.layout.setColumnMaximumWidth(1, 1e6 if mode == "side" else 0)
        self.page_item.setVisible(mode != "binary" or noted)  # never a blank binary view
        self.page_item.setOpacity(0.35 if mode == "binary" else 1.0)
        self.binary_item.setVisible(mode in ("binary", "both"))
        self.binary_item.setLookupTable(_LUT_BINARY if mode == "binary" else _LUT_OVERLAY)
        shown = self.side_view if mode == "side" else self.view
        for vb, note in zip((self.view, self.side_view), self.notes):
            note.setVisible(noted and vb is shown and mode != "scan")
            note.setText(self.note_text)
            note.setPos(0, 0)

    def _on_roi_moving(self) -> None:
        if not self._setting_roi:
            self.crop_moving.emit(self.current_crop())

    def _on_roi_finished(self) -> None:
        if not self._setting_roi:
            self.crop_changed.emit(self.current_crop())
