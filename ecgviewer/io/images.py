"""Loading scanned/photographed ECGs (PNG, JPEG, TIFF, BMP, GIF, PDF) as 8-bit RGB arrays.

Why this module is defensive: users drop whatever they have onto the window. Every failure
becomes a typed :mod:`ecgviewer.errors` exception with a one-line reason, never a raw
traceback, and the pixel budget is checked from the file header (or the PDF page size) before
anything is decoded, so a decompression bomb never allocates its pixels.

Pages: PDFs and multi-page TIFFs have pages (``page`` is 0-based). Other multi-frame files
(animated GIF/PNG, MPO phone photos) count as one page: the first frame is used.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from ecgviewer.errors import (
    EcgViewerError,
    EmptyDocumentError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnreadableImageError,
)
from ecgviewer.io.source import PDFIUM_LOCK, check_file, open_pdf, short_reason

DEFAULT_MAX_PIXELS = 60_000_000  # ~180 MB as RGB; an A4 page at 600 dpi is ~35 MP
MIN_SIDE_PX = 64  # below this no ECG grid or trace can be resolved
MAX_ASPECT = 60.0  # a 60 s single-lead strip at 25 mm/s on 25 mm paper is 60:1
MAX_PDF_DPI = 1200.0
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pdf")
PAGED_FORMATS = ("TIFF",)  # raster formats whose frames are pages a user chooses between
_DPI_RANGE = (10.0, 10_000.0)  # values outside are junk in the header, reported as None

_RASTER_MAGIC = (b"\x89PNG", b"\xff\xd8", b"GIF8", b"II*\x00", b"MM\x00*", b"BM")


@dataclass(frozen=True)
class LoadedImage:
    """An image as ``rgb`` (H, W, 3) uint8, with its resolution when the file states one.

    ``dpi`` is the file's horizontal resolution (the render resolution for PDFs); 72 and 96
    are often meaningless defaults written by software, so treat it as a fallback only.
    ``warnings`` lists lossy or surprising steps (bit depth reduced, first frame only, ...).
    """

    rgb: np.ndarray
    dpi: float | None
    path: Path
    page: int
    n_pages: int
    format: str
    warnings: tuple[str, ...] = ()

    @property
    def height_px(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width_px(self) -> int:
        return int(self.rgb.shape[1])


# --------------------------------------------------------------------------- public API


def count_pages(path: str | os.PathLike) -> int:
    """Number of pages: PDF pages, TIFF pages, 1 for any other image. Decodes no pixels."""
    path = check_file(Path(path))
    if _sniff(path) == "pdf":
        with PDFIUM_LOCK:
            doc = open_pdf(path)
            try:
                return len(doc)
            finally:
                doc.close()
    with _open_raster(path) as im:
        return _n_pages(im)


def load_image(
    path: str | os.PathLike,
    page: int = 0,
    pdf_dpi: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Decode page ``page`` (0-based) of an image or PDF into RGB uint8 on a white background.

    A PDF page is rendered at ``pdf_dpi``; None: a scanned page (one big embedded image) at
    that image's own resolution, any other page at 200 dpi (see
    :func:`~ecgviewer.io.pdf_vector.auto_pdf_dpi`).

    Raises :class:`UnreadableImageError`, :class:`ImageTooSmallError`,
    :class:`ImageTooLargeError` or :class:`EmptyDocumentError`, each with a one-line reason.
    """
    real = isinstance(pdf_dpi, numbers.Real) and not isinstance(pdf_dpi, bool)
    if pdf_dpi is not None and not (real and math.isfinite(pdf_dpi) and pdf_dpi > 0):
        raise EcgViewerError(f"PDF render resolution must be a positive number, got {pdf_dpi!r}")
    try:
        page = operator.index(page)
    except TypeError:
        raise EcgViewerError(f"page must be a whole number, got {page!r}") from None
    if pdf_dpi is not None and pdf_dpi > MAX_PDF_DPI:
        raise ImageTooLargeError(f"PDF render resolution {pdf_dpi:g} dpi exceeds {MAX_PDF_DPI:g}")
    path = check_file(Path(path))
    try:
        if _sniff(path) == "pdf":
            if pdf_dpi is None:
                from ecgviewer.io.pdf_vector import auto_pdf_dpi

                pdf_dpi = auto_pdf_dpi(path, int(page))
            return _load_pdf(path, int(page), float(pdf_dpi), int(max_pixels))
        return _load_raster(path, int(page), int(max_pixels))
    except EcgViewerError:
        raise
    except MemoryError:
        raise ImageTooLargeError(f"{path.name}: not enough memory to decode this image") from None


# --------------------------------------------------------------------------- checks


def _sniff(path: Path) -> str:
    """'pdf' or 'raster' (PIL then decides, from the content, which raster format)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise UnreadableImageError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    if head.startswith(_RASTER_MAGIC):
        return "raster"
    if b"%PDF-" in head:  # the PDF spec tolerates junk before the header
        return "pdf"
    return "raster"


def _check_size(name: str, width: int, height: int, max_pixels: int) -> None:
    """Apply the size rules from the declared dimensions, before any pixel is decoded."""
    if width <= 0 or height <= 0:
        raise ImageTooSmallError(f"{name}: the image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {width}×{height} = {width * height / 1e6:.1f} MP exceeds the "
            f"{max_pixels / 1e6:.0f} MP limit"
        )
    if min(width, height) < MIN_SIDE_PX:
        raise ImageTooSmallError(
            f"{name}: {width}×{height} px is too small for an ECG (need ≥ {MIN_SIDE_PX} px a side)"
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise ImageTooSmallError(
            f"{name}: {width}×{height} px is too narrow for an ECG (aspect ratio over "
            f"{MAX_ASPECT:g}:1)"
        )


def _clean_dpi(value) -> float | None:
    try:
        dpi = float(value[0] if isinstance(value, (tuple, list)) else value)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    lo, hi = _DPI_RANGE
    return dpi if math.isfinite(dpi) and lo <= dpi <= hi else None


# --------------------------------------------------------------------------- raster


def _open_raster(path: Path) -> Image.Image:
    """Open lazily (header only). PIL's own bomb guard is mapped; our budget is checked later."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{path.name}: declares a size too large to decode safely ({short_reason(exc)})"
        ) from None
    except Image.UnidentifiedImageError:
        raise UnreadableImageError(f"{path.name}: {_describe_unknown(path)}") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is an unreadable file
        raise UnreadableImageError(
            f"{path.name}: corrupt image header ({short_reason(exc)})"
        ) from None


def _describe_unknown(path: Path) -> str:
    """Why PIL did not recognise the file, in the user's terms."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<svg", b"<?xml")) or b"<svg" in stripped:
        return "SVG/XML drawings are not supported; export as PNG or PDF"
    if head[4:8] == b"ftyp":  # ISO media: HEIC/HEIF/AVIF photos this Pillow cannot decode
        return f"{head[8:12].decode('latin-1')!r} photos are not supported; convert to JPEG or PNG"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    kind = "a text file" if head and printable / len(head) > 0.95 else "an unknown format"
    ext = path.suffix.lower() or "no extension"
    return f"not an image: the content is {kind} (extension {ext})"


def _n_pages(im: Image.Image) -> int:
    return int(getattr(im, "n_frames", 1)) if im.format in PAGED_FORMATS else 1


def _load_raster(path: Path, page: int, max_pixels: int) -> LoadedImage:
    notes: list[str] = []
    im = _open_raster(path)
    try:
        fmt = im.format or "unknown"
        n_pages = _n_pages(im)
        if not 0 <= page < n_pages:
            raise EmptyDocumentError(
                f"{path.name}: page {page + 1} requested but the file has {n_pages} page(s)"
            )
        n_frames = int(getattr(im, "n_frames", 1))
        if page:
            try:
                im.seek(page)
            except (EOFError, OSError, ValueError) as exc:
                raise UnreadableImageError(
                    f"{path.name}: page {page + 1} is damaged ({short_reason(exc)})"
                ) from None
        elif n_frames > 1:
            notes.append(f"{fmt} has {n_frames} frames; using the first")
        _check_size(path.name, im.width, im.height, max_pixels)
        dpi = _clean_dpi(im.info.get("dpi"))
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            # Someone switched PIL into accepting half-decoded files; we never want that.
            ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im.load()
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(
                f"{path.name}: decompression bomb ({short_reason(exc)})"
            ) from None
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise UnreadableImageError(f"{path.name}: {_decode_reason(exc)}") from None
        try:
            oriented = ImageOps.exif_transpose(im)
        except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the picture
            oriented = im
            notes.append("EXIF orientation unreadable; shown as stored")
        if oriented is not im and oriented.size != im.size:
            notes.append("rotated upright using the EXIF orientation tag")
        pixels = _to_rgb8(oriented, path.name, notes)
        del oriented
    finally:
        im.close()
    return LoadedImage(_writable(pixels), dpi, path, page, n_pages, fmt, tuple(notes))


def _writable(pixels: np.ndarray) -> np.ndarray:
    """A private writable copy, made after the PIL images are freed (halves the peak memory)."""
    if pixels.flags.writeable and pixels.flags.owndata and pixels.flags.c_contiguous:
        return pixels  # already private (made by numpy here)
    out = np.array(pixels, dtype=np.uint8, copy=True, order="C")
    del pixels
    return out


def _decode_reason(exc: BaseException) -> str:
    text = short_reason(exc)
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "the file is truncated (incomplete download or copy?)"
    return f"corrupt image data ({text})"


def _to_rgb8(im: Image.Image, name: str, notes: list[str]) -> np.ndarray:
    """Any PIL mode → (H, W, 3) uint8 (possibly read-only); transparency composited on white,
    deep images scaled."""
    mode = im.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    try:
        if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
            grey = _scale_to_uint8(np.asarray(im), notes)
            return np.repeat(grey[:, :, None], 3, axis=2)
        if has_alpha:
            return _composite_on_white(np.asarray(im if im.mode == "RGBA" else im.convert("RGBA")))
        if mode == "CMYK":
            notes.append("CMYK converted to RGB")
        return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UnreadableImageError(
            f"{name}: unsupported colour mode {mode} ({short_reason(exc)})"
        ) from None


def _composite_on_white(rgba: np.ndarray, rows_per_chunk: int = 256) -> np.ndarray:
    """RGBA → RGB over white paper, in row chunks so no full-size temporaries are made."""
    h, w = rgba.shape[:2]
    out = np.empty((h, w, 3), np.uint8)
    for r0 in range(0, h, rows_per_chunk):
        chunk = rgba[r0 : r0 + rows_per_chunk].astype(np.uint16)
        alpha = chunk[:, :, 3:4]
        out[r0 : r0 + rows_per_chunk] = (chunk[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
    return out


def _scale_to_uint8(a: np.ndarray, notes: list[str]) -> np.ndarray:
    """Deep grey (16-bit, 32-bit int, float) → 8 bit.

    Integers keep their absolute scale when they use most of the 16-bit range (divide by 257),
    otherwise (e.g. 12-bit data in 16-bit words) they are stretched from 0 to their maximum.
    Floats in [0, 1] are taken as fractions of white; other floats are stretched min..max.
    NaN/inf become white (paper), never black (ink).
    """
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = a.astype(np.float64)
        finite = np.isfinite(a)
        if not finite.any():
            notes.append("float image without finite values; shown white")
            return np.full(a.shape, 255, np.uint8)
        lo, hi = float(a[finite].min()), float(a[finite].max())
        if lo >= 0.0 and hi <= 1.0:
            out = a
        else:
            out = (a - lo) / (hi - lo) if hi > lo else np.ones_like(a)
            notes.append(f"float image stretched from [{lo:.4g}, {hi:.4g}] to 8 bit")
        out = np.where(finite, out, 1.0)
        return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    a = a.astype(np.int64)
    lo, hi = int(a.min()), int(a.max())
    if lo >= 0 and hi > 4095:
        notes.append("16-bit image reduced to 8 bit")
        return np.clip((a + 128) // 257, 0, 255).astype(np.uint8)
    if lo >= 0 and hi <= 255:
        return a.astype(np.uint8)
    base = min(lo, 0)
    span = max(hi - base, 1)
    notes.append(f"deep image stretched from [{base}, {hi}] to 8 bit")
    return np.clip(np.round((a - base) * (255.0 / span)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- PDF


def _load_pdf(path: Path, page: int, dpi: float, max_pixels: int) -> LoadedImage:
    with PDFIUM_LOCK:
        doc = open_pdf(path)
        try:
            n_pages = len(doc)
            if n_pages == 0:
                raise EmptyDocumentError(f"{path.name}: the PDF has no pages")
            if not 0 <= page < n_pages:
                raise EmptyDocumentError(
                    f"{path.name}: page {page + 1} requested but the PDF has {n_pages} page(s)"
                )
            try:
                pdf_page = doc[page]
                w_pt, h_pt = pdf_page.get_size()
            except Exception as exc:  # noqa: BLE001
                raise UnreadableImageError(
                    f"{path.name}: page {page + 1} is damaged ({short_reason(exc)})"
                ) from None
            scale = dpi / 72.0
            if not (math.isfinite(w_pt) and math.isfinite(h_pt)):
                raise UnreadableImageError(f"{path.name}: page {page + 1} has an invalid size")
            w_px, h_px = math.ceil(w_pt * scale), math.ceil(h_pt * scale)  # pdfium ≤ ceil
            try:
                _check_size(path.name, w_px, h_px, max_pixels)
            except ImageTooLargeError as exc:
                raise ImageTooLargeError(f"{exc}; render at a lower dpi") from None
            try:
                bitmap = pdf_page.render(
                    scale=scale, fill_color=(255, 255, 255, 255), rev_byteorder=True
                )
                pil = bitmap.to_pil()
                # copy out while the document (which owns the bitmap buffer) is still open
                rgb = _writable(np.asarray(pil if pil.mode == "RGB" else pil.convert("RGB")))
                del pil, bitmap
            except Exception as exc:  # noqa: BLE001
                raise UnreadableImageError(
                    f"{path.name}: page {page + 1} could not be rendered ({short_reason(exc)})"
                ) from None
        finally:
            doc.close()
    return LoadedImage(rgb, dpi, path, page, n_pages, "PDF")
