"""Opening an input file: the checks every loader makes before decoding anything, and the one
pdfium opener and lock that the raster loader (:mod:`~ecgviewer.io.images`) and the vector
reader (:mod:`~ecgviewer.io.pdf_vector`) share (pdfium is not thread-safe: the GUI may load in
a worker while the CLI or tests load elsewhere)."""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

from ecgviewer.errors import EmptyDocumentError, ImageTooSmallError, UnreadableImageError

PDFIUM_LOCK = threading.Lock()


def check_file(path: Path) -> Path:
    """Fail early, with a human reason, on missing, unreadable, directory or empty files."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UnreadableImageError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        reason = getattr(exc, "strerror", None) or exc
        raise UnreadableImageError(f"{path}: cannot access ({reason})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableImageError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise UnreadableImageError(f"{path}: not a regular file")
    if st.st_size == 0:
        raise ImageTooSmallError(f"{path.name}: the file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise UnreadableImageError(f"{path}: no permission to read the file")
    return path


def short_reason(exc: BaseException) -> str:
    """The first line of an exception's message (at most 160 characters), for one-line errors."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def open_pdf(path: Path):
    """A pdfium document (call under :data:`PDFIUM_LOCK`); typed errors for locked, empty or
    damaged files."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        if "password" in msg or "security" in msg:
            raise UnreadableImageError(
                f"{path.name}: the PDF is password-protected; save an unlocked copy"
            ) from None
        if "success" in msg and not _pdf_mentions_pages(path):
            # pdfium refuses a document with an empty page tree, reporting error 0 ("Success")
            raise EmptyDocumentError(f"{path.name}: the PDF has no pages") from None
        raise UnreadableImageError(
            f"{path.name}: damaged or unsupported PDF ({short_reason(exc)})"
        ) from None
    except Exception as exc:  # noqa: BLE001
        raise UnreadableImageError(f"{path.name}: unreadable PDF ({short_reason(exc)})") from None


def _pdf_mentions_pages(path: Path, limit_bytes: int = 64 << 20) -> bool:
    """Whether any uncompressed ``/Type /Page`` object exists (used only to word an error)."""
    with open(path, "rb") as fh:
        data = fh.read(limit_bytes)
    return re.search(rb"/Type\s*/Page(?![a-zA-Z])", data) is not None
