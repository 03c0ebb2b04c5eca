"""Opening files in the window: the open dialogs, multi-page files, session sidecars, recent
files and drag and drop. Loading itself runs on the window's ``pipeline`` runner."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog

from ecgviewer.gui import pipeline
from ecgviewer.gui.exports import SESSION_FILTER
from ecgviewer.session import sidecar_path

IMAGE_FILTER = (
    "ECG images and PDFs (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.gif *.webp *.pdf);;All files (*)"
)
MAX_RECENT = 10


class OpeningMixin:
    """The :class:`~ecgviewer.gui.main_window.MainWindow`'s open commands (uses its ``doc``,
    ``qsettings``, ``pipeline``, ``undo_stack``, ``recent_menu``, ``edit_trace``, ``ask`` and
    ``show_error``)."""

    def open_dialog(self) -> None:
        start = self.qsettings.value("last_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open ECG image", str(start), IMAGE_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path, page: int | None = None, session=None) -> bool:
        """Start loading ``path`` (asks for the page of a multi-page file). The current document
        stays as it is until the new page has loaded; a bad file leaves it untouched.
        ``session`` (from :meth:`open_session`) restores its settings and corrections."""
        from ecgviewer.io.images import count_pages

        path = Path(path)
        try:
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist or is not a file")
            n_pages = count_pages(path)
        except Exception as exc:  # noqa: BLE001 - any failure is a clear message, not a crash
            self.show_error(f"Cannot open {path.name}", pipeline.error_text(exc))
            return False
        if page is None:
            page = self._ask_page(path, n_pages)
            if page is None:
                return False
        if session is None and self._offer_sidecar(path):
            return self.open_session(sidecar_path(path))
        self.undo_stack.clear()
        self._rhythm_timer.stop()
        self.qsettings.setValue("last_dir", str(path.parent))
        # a set preference, else (None) a scanned PDF page's own dpi (200 for other pages)
        pdf_dpi = float(self.qsettings.value("pdf_dpi", 0.0) or 0.0) or None
        settings = self.doc.settings
        if session is not None:
            pdf_dpi, settings = session.image.pdf_dpi, session.settings
        self._session = session
        note = ""
        if n_pages > 1 and not self.interactive:  # no one was asked: say which page this is
            note = f" – it has {n_pages} pages: showing page {page + 1} (File ▸ Open to choose)"
        self.statusBar().showMessage(f"Opening {path.name}{note}…")
        self._page_note = note
        self._open_job = self.pipeline.submit(
            pipeline.open_job, path, page, pdf_dpi, settings, keep_settings=session is not None
        )
        return True

    def _ask_page(self, path: Path, n_pages: int) -> int | None:
        """The page to open (0-based): the first, or the user's choice of a multi-page file
        (None when the dialog was cancelled)."""
        if n_pages <= 1 or not self.interactive:
            return 0
        page, ok = QInputDialog.getInt(
            self, "Choose page", f"{path.name} has {n_pages} pages. Page:", 1, 1, n_pages
        )
        return page - 1 if ok else None

    def _offer_sidecar(self, image_path: Path) -> bool:
        """When the image has a saved session beside it, ask whether to restore it."""
        sidecar = sidecar_path(image_path)
        if not self.interactive or not sidecar.is_file():
            return False
        return self.ask(
            "Restore saved session?",
            f"{sidecar.name} holds the settings and hand corrections saved for this image. "
            "Restore them?",
        )

    def open_session_dialog(self) -> None:
        start = self.qsettings.value("export_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open session", str(start), f"{SESSION_FILTER};;All files (*)"
        )
        if path:
            self.open_session(path)

    def open_session(self, path: str | Path) -> bool:
        """Re-open the image of a session with its settings, then replay its corrections."""
        from ecgviewer.gui import files

        try:
            session, problem = files.load_session(Path(path))
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot open the session", pipeline.error_text(exc))
            return False
        if problem is not None:
            if not Path(session.image.path).is_file():
                self.show_error("Cannot open the session", problem)
                return False
            self.statusBar().showMessage(f"Warning: {problem}", 15000)
        return self.open_file(session.image.path, session.image.page, session=session)

    def _replay_session(self) -> None:
        """Apply the corrections of the session being restored (once it has digitised)."""
        from ecgviewer.gui import files

        session, self._session = self._session, None
        problems = files.apply_corrections(
            self.doc,
            session.corrections,
            lambda i, start, values: self.edit_trace(i, start, values, "Correction from session"),
        )
        if problems:
            self.show_error("Some corrections were not restored", "\n".join(problems))
        self.undo_stack.setClean()

    # -- recent files -------------------------------------------------------------------------
    def _recent(self) -> list[str]:
        value = self.qsettings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self._recent() if p != path]
        self.qsettings.setValue("recent_files", [path, *recent][:MAX_RECENT])
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for i, p in enumerate(recent):
            act = self.recent_menu.addAction(f"&{(i + 1) % 10} {Path(p).name}")
            act.setStatusTip(p)
            act.triggered.connect(lambda _=False, p=p: self.open_file(p))
        self.recent_menu.setEnabled(bool(recent))

    # -- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_file(urls[0].toLocalFile())
