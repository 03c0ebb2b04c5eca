"""The window's file operations, delegated to the core's formats (``ecgviewer.export`` for
signals, ``ecgviewer.session`` for the session sidecar): no file format is defined here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgviewer.errors import EcgViewerError
from ecgviewer.gui.document import Document

SIGNAL_SUFFIXES = {".csv": "csv", ".hea": "wfdb", ".dat": "wfdb", ".edf": "edf", ".dcm": "dicom"}


def signal_format(path: Path, fmt: str | None) -> str:
    """The export format: given, else from the file's suffix, else WFDB."""
    if fmt:
        return fmt
    return SIGNAL_SUFFIXES.get(path.suffix.lower(), "wfdb")


def export_signal(doc: Document, path: Path, fmt: str | None = None) -> tuple[Path, ...]:
    """Write the document's signal (with hand corrections). The file dialog already asked
    about replacing a file, so existing files are overwritten (atomically, by the core)."""
    from ecgviewer.export import export_signal as _export

    if doc.digitization is None:
        raise EcgViewerError("nothing to export: no digitised signal")
    return _export(doc.digitization, path, signal_format(path, fmt), overwrite=True)


def save_session(doc: Document, path: Path) -> Path:
    """Write the session sidecar: image reference, settings, hand corrections."""
    from ecgviewer import session as ses

    if doc.image is None:
        raise EcgViewerError("nothing to save: no image open")
    corrections = tuple(
        ses.Correction(i, doc.digitization.leads[i].name, start, tuple(float(v) for v in values))
        for i, start, values in doc.corrections()
    )
    image = ses.image_ref(doc.image.path, doc.image.page, _pdf_dpi(doc))
    return ses.save_session(
        ses.Session(image=image, settings=doc.settings, corrections=corrections), path
    )


def _pdf_dpi(doc: Document) -> float:
    return (
        float(doc.image.dpi)
        if doc.image is not None and doc.image.format == "PDF" and doc.image.dpi
        else 200.0
    )


def load_session(path: Path):
    """Read a session: returns the core's ``Session`` and a warning (image changed) or None."""
    from ecgviewer import session as ses

    session = ses.load_session(path)
    return session, ses.image_changed(session)


def apply_corrections(doc: Document, corrections, push) -> list[str]:
    """Replay session corrections through ``push(lead_index, start, values)`` (undoable);
    returns a message per correction that does not fit the current digitisation."""
    problems = []
    dig = doc.digitization
    for c in corrections:
        if dig is None or not 0 <= c.lead_index < len(dig.leads):
            problems.append(f"correction of lead {c.lead_name}: lead not found")
            continue
        lead = dig.leads[c.lead_index]
        if lead.name != c.lead_name or c.start + len(c.values_mv) > len(lead.signal_mv):
            problems.append(f"correction of lead {c.lead_name}: does not fit the digitised lead")
            continue
        push(c.lead_index, c.start, np.asarray(c.values_mv, dtype=np.float64))
    return problems


def export_summary(doc: Document, path: Path) -> Path:
    """The core's JSON summary of the digitisation, plus the input, the rhythm result and
    which leads were corrected by hand."""
    from ecgviewer.export import write_summary_json

    if doc.digitization is None:
        raise EcgViewerError("nothing to export: no digitised signal")
    extra = {
        "input": {"path": str(doc.image.path), "page": doc.image.page},
        "rhythm": None if doc.rhythm is None else doc.rhythm.to_json(),
        "rhythm_error": doc.rhythm_error,
        "hand_corrected_leads": sorted(doc.digitization.leads[i].name for i in doc.edited_leads),
    }
    return write_summary_json(doc.digitization, path, extra, settings=doc.settings, overwrite=True)


def export_overlay(doc: Document, path: Path) -> Path:
    """The core's overlay PNG: the extracted traces drawn on the page."""
    from ecgviewer.export import write_overlay_png

    if doc.digitization is None:
        raise EcgViewerError("nothing to export: no digitised signal")
    return write_overlay_png(doc.digitization, path, overwrite=True)
