"""Everything the window saves (signal, report, summary, overlay, session), driven by one table.

Each :class:`SaveSpec` says how to ask for the file and which writer makes it; the writers
live in :mod:`ecgviewer.gui.files` and :mod:`ecgviewer.gui.report` (imported on first use:
the report pulls in Qt's PDF writer). A failed write shows a message and keeps the document.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ecgviewer.gui import pipeline
from ecgviewer.session import SIDECAR_SUFFIX, sidecar_path

SESSION_FILTER = f"ECG Viewer session (*{SIDECAR_SUFFIX} *.json)"


@dataclass(frozen=True)
class SaveSpec:
    """How to save one kind of file: the dialog's ``caption``, suggested name (``suggest``
    formatted with the image's stem) and ``filters``; ``writer`` as ``"module:function"``
    under ``ecgviewer.gui`` called as ``writer(doc, path[, fmt])``; the messages."""

    caption: str
    suggest: str
    filters: str
    writer: str
    failed: str
    done: str
    formats: dict[str, str] = field(default_factory=dict)  # filter's first word → fmt argument
    session: bool = False  # starts as the image's sidecar; saving marks the edits as saved


SAVES: dict[str, SaveSpec] = {
    "signal": SaveSpec(
        "Export signal",
        "{stem}.csv",
        "CSV (*.csv);;WFDB (*.hea);;EDF (*.edf);;DICOM ECG (*.dcm)",
        "files:export_signal",
        "Export failed",
        "Signal saved to {path}",
        formats={"CSV": "csv", "WFDB": "wfdb", "EDF": "edf", "DICOM": "dicom"},
    ),
    "report": SaveSpec(
        "Export report",
        "{stem}_report.pdf",
        "PDF (*.pdf);;PNG (*.png)",
        "report:write_report",
        "Report failed",
        "Report saved to {path}",
    ),
    "summary": SaveSpec(
        "Export summary",
        "{stem}.json",
        "JSON (*.json)",
        "files:export_summary",
        "Export failed",
        "Summary saved to {path}",
    ),
    "overlay": SaveSpec(
        "Export overlay",
        "{stem}_overlay.png",
        "PNG (*.png)",
        "files:export_overlay",
        "Export failed",
        "Overlay saved to {path}",
    ),
    "session": SaveSpec(
        "Save session",
        "",  # the image's sidecar
        SESSION_FILTER,
        "files:save_session",
        "Saving the session failed",
        "Session saved to {path}",
        session=True,
    ),
}


def _writer(spec: SaveSpec):
    module, name = spec.writer.split(":")
    return getattr(importlib.import_module(f"ecgviewer.gui.{module}"), name)


class SavingMixin:
    """The :class:`~ecgviewer.gui.main_window.MainWindow`'s save commands (uses its ``doc``,
    ``qsettings``, ``undo_stack``, ``show_error`` and status bar)."""

    def save_dialog(self, kind: str) -> None:
        """Ask where to save ``kind`` (a key of :data:`SAVES`), then save it."""
        spec = SAVES[kind]
        path, chosen = QFileDialog.getSaveFileName(
            self, spec.caption, self._save_start(spec), spec.filters
        )
        if path:
            fmt = spec.formats[chosen.split()[0]] if spec.formats and chosen else None
            self.save_as(kind, path, fmt)

    def save_as(self, kind: str, path: str | Path, fmt: str | None = None) -> bool:
        """Write ``kind`` to ``path`` (``fmt`` only for the signal: None picks it from the
        suffix); False, with a message shown, when it failed (the document is untouched).
        Saving the session marks the corrections as saved."""
        spec = SAVES[kind]
        path = Path(path)
        args = (self.doc, path, fmt) if spec.formats else (self.doc, path)
        try:
            _writer(spec)(*args)
        except Exception as exc:  # noqa: BLE001 - report, keep the document
            self.show_error(spec.failed, pipeline.error_text(exc))
            return False
        self.qsettings.setValue("export_dir", str(path.parent))  # the next dialog starts there
        self.statusBar().showMessage(spec.done.format(path=path), 8000)
        if spec.session:
            self.undo_stack.setClean()
        return True

    def _save_start(self, spec: SaveSpec) -> str:
        """Where the dialog starts: a session beside its image, the rest in the last folder."""
        image = self.doc.image
        if spec.session:
            return str(sidecar_path(image.path)) if image is not None else str(Path.home())
        stem = Path(image.path).stem if image is not None else "ecg"
        start = Path(self.qsettings.value("export_dir", str(Path.home())))
        return str(start / spec.suggest.format(stem=stem))
