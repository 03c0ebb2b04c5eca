"""What a PDF page draws, as geometry: stroked paths (polylines in mm), text with positions,
and the embedded images with their resolution. No interpretation (which path is a trace, which
a grid line) happens here; that is :mod:`ecgviewer.digitize.vector`'s job.

Coordinates are page millimetres as the page is displayed (``/Rotate`` applied, origin at the
top-left corner, y downwards, like image rows), at the nominal 72 points per inch. A page
printed at another scale keeps its own millimetres here: the digitiser calibrates from the
grid it finds. pypdfium2's raw API is used because its helper classes expose no path points.
"""

from __future__ import annotations

import ctypes
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MM_PER_PT = 25.4 / 72.0
MAX_OBJECTS = 200_000  # a page with more objects is not read as vector (pathological file)
MAX_POINTS = 5_000_000
_FORM_DEPTH = 8


@dataclass(frozen=True)
class PdfPolyline:
    """One stroked subpath: ``points_mm`` (N, 2) as x, y on the displayed page (y down)."""

    points_mm: np.ndarray
    stroke_rgb: tuple[int, int, int]
    width_mm: float
    closed: bool = False
    curved: bool = False  # had Bézier segments (their end points are kept)
    path_index: int = 0  # which path object it came from (subpaths of one path share it)


@dataclass(frozen=True)
class PdfText:
    """One text object: its string and bounding box on the displayed page, in mm."""

    text: str
    x0_mm: float
    y0_mm: float
    x1_mm: float
    y1_mm: float

    @property
    def centre_mm(self) -> tuple[float, float]:
        return 0.5 * (self.x0_mm + self.x1_mm), 0.5 * (self.y0_mm + self.y1_mm)


@dataclass(frozen=True)
class PdfImage:
    """An image drawn on the page: its pixel size and the area it covers (mm)."""

    width_px: int
    height_px: int
    width_mm: float
    height_mm: float

    @property
    def dpi(self) -> float:
        """Resolution at which the image is displayed (the larger of its two axes)."""
        dx = self.width_px / (self.width_mm / 25.4) if self.width_mm > 0 else 0.0
        dy = self.height_px / (self.height_mm / 25.4) if self.height_mm > 0 else 0.0
        return max(dx, dy)


@dataclass(frozen=True)
class PdfPageContent:
    """Everything :func:`read_pdf_page` found on one page."""

    width_mm: float
    height_mm: float
    polylines: tuple[PdfPolyline, ...] = ()
    texts: tuple[PdfText, ...] = ()
    images: tuple[PdfImage, ...] = ()
    truncated: bool = False  # too many objects or points: not everything was read
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_points(self) -> int:
        return sum(len(p.points_mm) for p in self.polylines)


# --------------------------------------------------------------------------- public API


def read_pdf_page(
    path: str | os.PathLike, page: int = 0, with_paths: bool = True
) -> PdfPageContent:
    """Read the stroked paths, texts and images of page ``page`` (0-based) of a PDF
    (``with_paths=False``: texts and images only, which is quick).

    Raises the same typed errors as :func:`ecgviewer.io.images.load_image` for unreadable
    files (via its PDF opener) and :class:`~ecgviewer.errors.EmptyDocumentError` for a page
    that does not exist.
    """
    from ecgviewer.errors import EmptyDocumentError
    from ecgviewer.io.source import PDFIUM_LOCK, check_file, open_pdf

    path = check_file(Path(path))
    with PDFIUM_LOCK:  # the loader's lock: pdfium is not thread-safe
        doc = open_pdf(path)
        try:
            if not 0 <= page < len(doc):
                raise EmptyDocumentError(
                    f"{path.name}: page {page + 1} requested but the PDF has {len(doc)} page(s)"
                )
            pdf_page = doc[page]
            try:
                return _read_page(pdf_page, with_paths)
            finally:
                pdf_page.close()
        finally:
            doc.close()


def page_image_dpi(content: PdfPageContent, min_cover: float = 0.25) -> float | None:
    """Resolution of the largest image covering at least ``min_cover`` of the page (a scan
    saved as PDF), else None."""
    page_area = content.width_mm * content.height_mm
    big = [im for im in content.images if im.width_mm * im.height_mm >= min_cover * page_area]
    if not big or page_area <= 0:
        return None
    best = max(big, key=lambda im: im.width_mm * im.height_mm)
    return best.dpi if best.dpi > 0 else None


def raster_dpi_for(
    content: PdfPageContent,
    default_dpi: float = 200.0,
    min_dpi: float = 100.0,
    max_dpi: float = 600.0,
    max_pixels: int = 30_000_000,
) -> float:
    """The resolution to rasterise a page at: its embedded scan's own dpi (no detail is added
    above it, none lost below it) within [min_dpi, max_dpi] and at most ``max_pixels`` for
    the page; ``default_dpi`` when the page holds no big image (the loader's own size checks
    then apply)."""
    dpi = page_image_dpi(content)
    if dpi is None:
        return float(default_dpi)
    dpi = min(max(dpi, min_dpi), max_dpi)
    area_in2 = (content.width_mm / 25.4) * (content.height_mm / 25.4)
    if area_in2 > 0:
        dpi = min(dpi, math.sqrt(max_pixels / area_in2))
    return float(round(dpi, 1))


def auto_pdf_dpi(path: str | os.PathLike, page: int = 0, default_dpi: float = 200.0) -> float:
    """:func:`raster_dpi_for` page ``page`` of a PDF (reads only its texts and images);
    ``default_dpi`` for a file that is not a PDF or cannot be read (the loader says why)."""
    from ecgviewer.errors import EcgViewerError

    try:
        with open(path, "rb") as fh:
            if b"%PDF-" not in fh.read(1024):
                return float(default_dpi)
        content = read_pdf_page(path, int(page), with_paths=False)
    except (EcgViewerError, OSError, TypeError, ValueError):
        return float(default_dpi)
    return raster_dpi_for(content, default_dpi)


# --------------------------------------------------------------------------- page walk


class _Walk:
    """Accumulates what one page draws while its objects (and form XObjects) are walked."""

    def __init__(self, page_raw, text_page_raw, to_display) -> None:
        self.page_raw = page_raw
        self.text_page_raw = text_page_raw
        self.to_display = to_display  # (N, 2) page points -> (N, 2) display mm
        self.polylines: list[PdfPolyline] = []
        self.texts: list[PdfText] = []
        self.images: list[PdfImage] = []
        self.n_objects = 0
        self.n_points = 0
        self.n_paths = 0
        self.truncated = False
        self.with_paths = True


def _read_page(pdf_page, with_paths: bool = True) -> PdfPageContent:
    import pypdfium2.raw as pdfium_c

    page_raw = pdf_page.raw
    to_display, w_mm, h_mm = _display_transform(pdf_page)
    text_page = pdf_page.get_textpage()
    try:
        walk = _Walk(page_raw, text_page.raw, to_display)
        walk.with_paths = with_paths
        n = pdfium_c.FPDFPage_CountObjects(page_raw)
        objs = [pdfium_c.FPDFPage_GetObject(page_raw, i) for i in range(n)]
        _walk_objects(walk, objs, np.eye(3), 0)
    finally:
        text_page.close()
    return PdfPageContent(
        width_mm=w_mm,
        height_mm=h_mm,
        polylines=tuple(walk.polylines),
        texts=tuple(walk.texts),
        images=tuple(walk.images),
        truncated=walk.truncated,
    )


def _display_transform(pdf_page):
    """A function mapping page user-space points (pt, y up) to displayed mm (y down), and
    the displayed page size in mm."""
    left, bottom, right, top = pdf_page.get_mediabox()
    crop = pdf_page.get_cropbox()
    if crop is not None and crop[2] > crop[0] and crop[3] > crop[1]:
        left, bottom, right, top = crop
    rotation = int(pdf_page.get_rotation()) % 360
    w, h = right - left, top - bottom

    def to_display(pts: np.ndarray) -> np.ndarray:
        x, y = pts[:, 0], pts[:, 1]
        if rotation == 90:
            xd, yd = y - bottom, x - left
        elif rotation == 180:
            xd, yd = right - x, y - bottom
        elif rotation == 270:
            xd, yd = top - y, right - x
        else:
            xd, yd = x - left, top - y
        return np.column_stack([xd, yd]) * MM_PER_PT

    if rotation in (90, 270):
        w, h = h, w
    return to_display, w * MM_PER_PT, h * MM_PER_PT


def _matrix(obj) -> np.ndarray:
    import pypdfium2.raw as pdfium_c

    m = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, m):
        return np.eye(3)
    return np.array([[m.a, m.c, m.e], [m.b, m.d, m.f], [0.0, 0.0, 1.0]])


def _walk_objects(walk: _Walk, objs, parent: np.ndarray, depth: int) -> None:
    import pypdfium2.raw as pdfium_c

    for obj in objs:
        walk.n_objects += 1
        if walk.n_objects > MAX_OBJECTS or walk.n_points > MAX_POINTS:
            walk.truncated = True
            return
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            if walk.with_paths:
                _read_path(walk, obj, parent)
        elif kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            _read_text(walk, obj, parent)
        elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            _read_image(walk, obj, parent)
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < _FORM_DEPTH:
            # the form's own objects carry matrices relative to the form's space
            full = parent @ _matrix(obj)
            n = pdfium_c.FPDFFormObj_CountObjects(obj)
            inner = [pdfium_c.FPDFFormObj_GetObject(obj, i) for i in range(max(n, 0))]
            _walk_objects(walk, inner, full, depth + 1)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:2, :2].T + m[:2, 2]


def _read_path(walk: _Walk, obj, parent: np.ndarray) -> None:
    """Split the path into subpaths at each move-to; keep stroked ones only."""
    import pypdfium2.raw as pdfium_c

    fill, stroke = ctypes.c_int(), ctypes.c_int()
    if not pdfium_c.FPDFPath_GetDrawMode(obj, fill, stroke) or not stroke.value:
        return
    n_seg = pdfium_c.FPDFPath_CountSegments(obj)
    if n_seg <= 1:
        return
    walk.n_points += n_seg
    full = parent @ _matrix(obj)
    xy = np.empty((n_seg, 2))
    kinds = np.empty(n_seg, np.int8)
    closes = np.zeros(n_seg, bool)
    x, y = ctypes.c_float(), ctypes.c_float()
    for k in range(n_seg):
        seg = pdfium_c.FPDFPath_GetPathSegment(obj, k)
        pdfium_c.FPDFPathSegment_GetPoint(seg, x, y)
        xy[k] = x.value, y.value
        kinds[k] = pdfium_c.FPDFPathSegment_GetType(seg)
        closes[k] = bool(pdfium_c.FPDFPathSegment_GetClose(seg))
    pts = walk.to_display(_apply(full, xy))
    rgb = _stroke_rgb(obj)
    width = ctypes.c_float()
    pdfium_c.FPDFPageObj_GetStrokeWidth(obj, width)
    scale = math.sqrt(abs(np.linalg.det(full[:2, :2]))) or 1.0
    width_mm = float(width.value) * scale * MM_PER_PT
    index = walk.n_paths
    walk.n_paths += 1
    starts = [*np.flatnonzero(kinds == pdfium_c.FPDF_SEGMENT_MOVETO), n_seg]
    if starts[0] != 0:
        starts.insert(0, 0)
    for a, b in zip(starts[:-1], starts[1:]):
        if b - a < 2:
            continue
        sub_kinds = kinds[a:b]
        curved = bool((sub_kinds == pdfium_c.FPDF_SEGMENT_BEZIERTO).any())
        keep = _bezier_end_points(sub_kinds, pdfium_c.FPDF_SEGMENT_BEZIERTO)
        walk.polylines.append(
            PdfPolyline(pts[a:b][keep], rgb, width_mm, bool(closes[a:b].any()), curved, index)
        )


def _bezier_end_points(kinds: np.ndarray, bezier: int) -> np.ndarray:
    """Mask keeping move/line points and the end point of each Bézier triple."""
    keep = np.ones(kinds.size, bool)
    run = 0
    for k, kind in enumerate(kinds):
        if kind == bezier:
            run += 1
            if run % 3:
                keep[k] = False
        else:
            run = 0
    return keep


def _stroke_rgb(obj) -> tuple[int, int, int]:
    import pypdfium2.raw as pdfium_c

    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetStrokeColor(obj, r, g, b, a):
        return (0, 0, 0)
    return int(r.value), int(g.value), int(b.value)


def _bounds_mm(walk: _Walk, obj, parent: np.ndarray) -> tuple[float, float, float, float]:
    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
        return (math.nan,) * 4
    corners = np.array(
        [
            [left.value, bottom.value],
            [right.value, top.value],
            [left.value, top.value],
            [right.value, bottom.value],
        ]
    )
    disp = walk.to_display(_apply(parent, corners))
    return (
        float(disp[:, 0].min()),
        float(disp[:, 1].min()),
        float(disp[:, 0].max()),
        float(disp[:, 1].max()),
    )


def _read_text(walk: _Walk, obj, parent: np.ndarray) -> None:
    import pypdfium2.raw as pdfium_c

    n = pdfium_c.FPDFTextObj_GetText(obj, walk.text_page_raw, None, 0)
    if n <= 2:
        return
    buf = (ctypes.c_ushort * (n // 2 + 1))()
    pdfium_c.FPDFTextObj_GetText(obj, walk.text_page_raw, buf, n)
    text = bytes(buf)[:n].decode("utf-16-le", errors="replace").rstrip("\x00").strip()
    if not text:
        return
    x0, y0, x1, y1 = _bounds_mm(walk, obj, parent)
    if all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        walk.texts.append(PdfText(text, x0, y0, x1, y1))


def _read_image(walk: _Walk, obj, parent: np.ndarray) -> None:
    import pypdfium2.raw as pdfium_c

    w, h = ctypes.c_uint(), ctypes.c_uint()
    if not pdfium_c.FPDFImageObj_GetImagePixelSize(obj, w, h):
        return
    x0, y0, x1, y1 = _bounds_mm(walk, obj, parent)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return
    # an image's unit square is mapped by its matrix; the rotated case swaps the axes
    m = parent @ _matrix(obj)
    swap = abs(m[0, 1]) > abs(m[0, 0])
    wd, hd = (y1 - y0, x1 - x0) if swap else (x1 - x0, y1 - y0)
    walk.images.append(PdfImage(int(w.value), int(h.value), float(wd), float(hd)))
