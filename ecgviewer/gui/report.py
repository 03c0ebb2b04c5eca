"""A one-page report (A4 landscape, PDF or PNG): the scan with the extracted traces, the rhythm
strip at true paper scale (25 mm/s, 10 mm/mV) on an ECG grid, the other leads, the rhythm
result, the calibration and settings, and the research-use notice. Drawn with QPainter."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
)

from ecgviewer import RESEARCH_NOTICE, __version__
from ecgviewer.digitize.stages import signal_with_gaps
from ecgviewer.errors import EcgViewerError
from ecgviewer.gui._pg import CLASS_COLOURS, MAJOR_RGB, MINOR_RGB, RHYTHM_RGB
from ecgviewer.gui.document import Document, overlay_breaks
from ecgviewer.gui.rhythm_panel import CLASS_HELP, quality_flags, rate_texts, result_title
from ecgviewer.io.signals import atomic_write_bytes
from ecgviewer.rhythm.types import CLASS_NAMES, CLASSES

PAGE_W_MM, PAGE_H_MM = 297.0, 210.0
MARGIN_MM = 10.0
PNG_DPI = 150.0
MM_PER_S, MM_PER_MV = 25.0, 10.0


class _Canvas:
    """A painter that takes millimetres (device pixels = mm × ``px_per_mm``)."""

    def __init__(self, painter: QPainter, px_per_mm: float) -> None:
        self.p = painter
        self.k = px_per_mm

    def rect(self, x: float, y: float, w: float, h: float) -> QRectF:
        return QRectF(x * self.k, y * self.k, w * self.k, h * self.k)

    def pen(self, rgb, width_mm: float) -> QPen:
        pen = QPen(QColor(*rgb))
        pen.setWidthF(max(0.5, width_mm * self.k))
        return pen

    def text(
        self,
        x,
        y,
        w,
        h,
        text: str,
        size_pt: float = 9,
        bold: bool = False,
        rgb=(0, 0, 0),
        flags=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
    ) -> None:
        font = QFont()
        font.setPointSizeF(size_pt)
        font.setBold(bold)
        self.p.setFont(font)
        self.p.setPen(QColor(*rgb))
        self.p.drawText(self.rect(x, y, w, h), int(flags) | int(Qt.TextFlag.TextWordWrap), text)

    def grid(self, x, y, w, h) -> None:
        """ECG paper: 1 mm minor, 5 mm major lines."""
        for step, rgb, width in ((1.0, MINOR_RGB, 0.08), (5.0, MAJOR_RGB, 0.18)):
            self.p.setPen(self.pen(rgb, width))
            for gx in np.arange(0, w + 1e-6, step):
                self.p.drawLine(
                    QPointF((x + gx) * self.k, y * self.k),
                    QPointF((x + gx) * self.k, (y + h) * self.k),
                )
            for gy in np.arange(0, h + 1e-6, step):
                self.p.drawLine(
                    QPointF(x * self.k, (y + gy) * self.k),
                    QPointF((x + w) * self.k, (y + gy) * self.k),
                )

    def trace(self, x, y_mid, w, h, lead, mm_per_s: float, mm_per_mv: float, rgb) -> None:
        """A lead on the grid, clipped to its cell, NaN gaps left open."""
        sig = signal_with_gaps(lead)
        t = np.arange(len(sig)) / lead.fs_hz
        keep = t * mm_per_s <= w
        xs = (x + t[keep] * mm_per_s) * self.k
        ys = (y_mid - sig[keep] * mm_per_mv) * self.k
        path = _polyline(xs, ys)
        self.p.save()
        self.p.setClipRect(self.rect(x, y_mid - h / 2, w, h))
        self.p.setPen(self.pen(rgb, 0.22))
        self.p.drawPath(path)
        self.p.restore()


def _polyline(xs: np.ndarray, ys: np.ndarray, joins: np.ndarray | None = None) -> QPainterPath:
    """A path through the points, broken at non-finite points and after point i when
    ``joins[i]`` is False (default: every finite point joins the next)."""
    path = QPainterPath()
    down = False
    for i, (xv, yv) in enumerate(zip(xs, ys)):
        if not (np.isfinite(xv) and np.isfinite(yv)):
            down = False
            continue
        if down:
            path.lineTo(xv, yv)
        else:
            path.moveTo(xv, yv)
        down = True if joins is None else bool(joins[i])
    return path


def _image_with_traces(doc: Document) -> QImage:
    """The page as a QImage with the extracted traces drawn on it (as in the app)."""
    dig = doc.digitization
    rgb = np.ascontiguousarray(dig.image_rgb if dig is not None else doc.page_rgb)
    h, w = rgb.shape[:2]
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    if dig is None:
        return img
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    rhythm = doc.rhythm_lead_index()
    for i, lead in enumerate(dig.leads):
        pen = QPen(QColor(*(RHYTHM_RGB if i == rhythm else (0, 170, 80))))
        pen.setWidthF(max(1.5, w / 1200))
        painter.setPen(pen)
        x, y = np.asarray(lead.trace_x_px, float), np.asarray(lead.trace_y_px, float)
        painter.drawPath(_polyline(x, y, joins=overlay_breaks(x, y)))
    pen = QPen(QColor(255, 140, 0))
    pen.setWidthF(max(2.0, w / 800))
    painter.setPen(pen)
    c = dig.crop
    painter.drawRect(c.x0, c.y0, c.width, c.height)
    painter.end()
    return img


def draw_report(painter: QPainter, px_per_mm: float, doc: Document) -> None:
    """Draw the whole page; the painter's device is A4 landscape at ``px_per_mm``."""
    cv = _Canvas(painter, px_per_mm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.fillRect(cv.rect(0, 0, PAGE_W_MM, PAGE_H_MM), QColor(255, 255, 255))
    _draw_header(cv, doc)
    scan_w = _draw_scan(cv, doc)
    rx = MARGIN_MM + scan_w + 6
    rw = PAGE_W_MM - MARGIN_MM - rx
    y = _draw_result(cv, doc, rx, rw)
    cv.text(rx, y + 1, rw, 105 - y, "\n".join(_settings_lines(doc)), 7.5, rgb=(40, 40, 40))
    _draw_leads(cv, doc)


def _draw_header(cv: _Canvas, doc: Document) -> None:
    """Title, file and time stamp, and the research-use notice (top of the page)."""
    x0 = MARGIN_MM
    cv.text(x0, 8, 150, 8, "ECG Viewer report", 15, bold=True)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    cv.text(
        x0, 16, 170, 6, f"{doc.title}  ·  {stamp}  ·  ECG Viewer {__version__}", 8, rgb=(80, 80, 80)
    )
    cv.p.fillRect(cv.rect(185, 8, 102, 13), QColor(255, 243, 205))
    cv.p.setPen(cv.pen((224, 195, 106), 0.3))
    cv.p.drawRect(cv.rect(185, 8, 102, 13))
    cv.text(187, 9.5, 98, 11, RESEARCH_NOTICE, 8.5, bold=True, rgb=(92, 68, 0))


def _draw_scan(cv: _Canvas, doc: Document) -> float:
    """The page with its traces, top left in a 150 × 80 mm box; returns the box width (mm)."""
    img = _image_with_traces(doc)
    box_w, box_h = 150.0, 80.0
    scale = min(box_w / img.width(), box_h / img.height())
    iw, ih = img.width() * scale, img.height() * scale
    cv.p.drawImage(cv.rect(MARGIN_MM, 25, iw, ih), img)
    cv.p.setPen(cv.pen((150, 150, 150), 0.2))
    cv.p.drawRect(cv.rect(MARGIN_MM, 25, iw, ih))
    return box_w


def _draw_result(cv: _Canvas, doc: Document, rx: float, rw: float) -> float:
    """The rhythm result (or why there is none) at ``rx``, top right; returns the next y (mm)."""
    res, y = doc.rhythm, 25.0
    if res is None:
        cv.text(rx, y, rw, 7, "No rhythm result", 12, bold=True)
        cv.text(rx, y + 7, rw, 14, doc.rhythm_error or doc.digitize_error or "not analysed", 8)
        return y + 22
    name = result_title(res)
    cv.text(rx, y, rw, 8, name, 13, bold=True, rgb=CLASS_COLOURS.get(res.label, (0, 0, 0)))
    y += 9
    for k in CLASSES:
        p = float(res.probabilities.get(k, 0.0))
        cv.text(rx, y, 45, 5, CLASS_NAMES[k], 7.5)
        cv.p.fillRect(cv.rect(rx + 46, y + 0.8, 50, 3.2), QColor(235, 235, 235))
        cv.p.fillRect(cv.rect(rx + 46, y + 0.8, 50 * p, 3.2), QColor(*CLASS_COLOURS[k]))
        cv.text(rx + 98, y, 20, 5, f"{100 * p:.0f} %", 7.5)
        y += 5
    if not res.cannot_assess:  # no rate from a signal too poor to read
        # one line each: a value with what it rests on, or why there is none, can be long
        for title, text in zip(("Heart rate", "RR irregularity"), rate_texts(res)):
            cv.text(rx, y + 1, 28, 4.5, title, 8)
            cv.text(rx + 28, y + 1, rw - 28, 4.5, text, 8)
            y += 4.5
    help_text = CLASS_HELP.get(res.label, "") if not res.cannot_assess else ""
    if help_text:
        cv.text(rx, y + 2.5, rw, 14, f"{CLASS_NAMES[res.label]}: {help_text}", 7)
        return y + 17
    return y + 3


def _settings_lines(doc: Document) -> list[str]:
    """Calibration, layout, binarisation, hand corrections and the first quality flags."""
    dig, s = doc.digitization, doc.settings
    lines = []
    if dig is not None:
        c = dig.calibration
        lines.append(
            f"Calibration: {c.px_per_mm_x:.2f} × {c.px_per_mm_y:.2f} px/mm ({c.source}), "
            f"{c.paper_speed_mm_s:g} mm/s, {c.gain_mm_mv:g} mm/mV"
            f"{' (auto)' if s.gain_mm_mv is None else ''}"
        )
        lines.append(
            f"Layout: {dig.layout.name}, {len(dig.leads)} leads, rhythm lead "
            f"{dig.layout.rhythm_lead or '–'}; rotation {dig.rotation_deg:.2f}°; "
            f"quality {dig.quality:.2f}"
        )
        lines.append(
            f"Binarisation: {s.binarize_method}, threshold "
            f"{'auto' if dig.threshold is None else f'{dig.threshold:.3f}'}; crop "
            f"{dig.crop.x0},{dig.crop.y0}–{dig.crop.x1},{dig.crop.y1} px"
        )
    if doc.edited_leads:
        names = ", ".join(sorted({dig.leads[i].name for i in doc.edited_leads}))
        lines.append(f"Corrected by hand: {names}")
    flags = quality_flags(dig, doc.rhythm)
    return lines + [f"• {f}" for f in flags[:5]]


def _draw_leads(cv: _Canvas, doc: Document) -> None:
    """The rhythm strip at true scale, then the other leads below it, four to a row."""
    dig = doc.digitization
    if dig is None or not dig.leads:
        return
    rhythm_i = doc.rhythm_lead_index()
    if rhythm_i is None:
        rhythm_i = max(range(len(dig.leads)), key=lambda i: dig.leads[i].duration_s)
    strip = dig.leads[rhythm_i]
    others = [ld for i, ld in enumerate(dig.leads) if i != rhythm_i]
    x0, inner_w, y_top = MARGIN_MM, PAGE_W_MM - 2 * MARGIN_MM, 110.0
    strip_h = 40.0 if not others else 30.0
    strip_w = min(inner_w, strip.duration_s * MM_PER_S)
    cv.text(
        x0,
        y_top - 5,
        200,
        5,
        f"Rhythm strip, lead {strip.name} (25 mm/s, 10 mm/mV)",
        8,
        bold=True,
        rgb=RHYTHM_RGB,
    )
    cv.grid(x0, y_top, strip_w, strip_h)
    cv.trace(x0, y_top + strip_h / 2, strip_w, strip_h, strip, MM_PER_S, MM_PER_MV, RHYTHM_RGB)
    if others:
        _draw_other_leads(cv, others, y_top + strip_h + 6)


def _draw_other_leads(cv: _Canvas, others: list, y: float) -> None:
    """The leads other than the rhythm strip from ``y`` down, four to a row, each row scaled
    to fit the page width (at most 25 mm/s), at 5 mm/mV."""
    x0, inner_w = MARGIN_MM, PAGE_W_MM - 2 * MARGIN_MM
    per_row = 4
    rows = [others[i : i + per_row] for i in range(0, len(others), per_row)]
    cell_h = min(18.0, (PAGE_H_MM - MARGIN_MM - y) / len(rows) - 1)
    cv.text(x0, y - 5, 200, 5, "Other leads (25 mm/s, 5 mm/mV)", 8, bold=True)
    for row in rows:
        total_s = sum(ld.duration_s for ld in row)
        k = min(MM_PER_S, inner_w / max(total_s, 1e-6))
        x = x0
        for ld in row:
            w = ld.duration_s * k
            cv.grid(x, y, w, cell_h)
            cv.trace(x, y + cell_h / 2, w, cell_h, ld, k, MM_PER_MV / 2, (20, 20, 20))
            cv.text(x + 0.8, y + 0.3, 20, 4, ld.name, 7, bold=True)
            x += w
        y += cell_h + 1


def write_report(doc: Document, path: Path) -> Path:
    """Write the report as PDF (``.pdf``) or PNG (anything else is an error), atomically and
    with the file mode the umask gives (as every other output)."""
    if doc.image is None:
        raise EcgViewerError("nothing to report: no image open")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".pdf", ".png"):
        raise EcgViewerError(f"report must be .pdf or .png, not {path.suffix or 'no extension'}")
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if suffix == ".pdf":
        _write_pdf(doc, buffer)
    else:
        _write_png(doc, buffer)
    buffer.close()
    return atomic_write_bytes(path, bytes(buffer.data()))


def _write_pdf(doc: Document, device: QBuffer) -> None:
    writer = QPdfWriter(device)
    writer.setResolution(300)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Landscape,
            QMarginsF(0, 0, 0, 0),
        )
    )
    writer.setTitle(f"ECG Viewer report – {doc.title}")
    writer.setCreator(f"ECG Viewer {__version__}")
    painter = QPainter(writer)
    try:
        draw_report(painter, 300 / 25.4, doc)
    finally:
        painter.end()


def _write_png(doc: Document, device: QBuffer) -> None:
    k = PNG_DPI / 25.4
    size = QSizeF(PAGE_W_MM * k, PAGE_H_MM * k).toSize()
    img = QImage(size, QImage.Format.Format_RGB32)
    img.fill(Qt.GlobalColor.white)  # the page may not reach the last pixel column or row
    dpm = int(round(PNG_DPI / 0.0254))
    img.setDotsPerMeterX(dpm)
    img.setDotsPerMeterY(dpm)
    painter = QPainter(img)
    try:
        draw_report(painter, k, doc)
    finally:
        painter.end()
    if not img.save(device, "PNG"):
        raise EcgViewerError("could not encode the report as PNG")
