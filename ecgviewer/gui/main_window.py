"""The main window: builds the widgets from a :class:`~ecgviewer.gui.document.Document`, turns
user actions into document changes and background jobs, and presents the results.

Long work (loading, digitising, the rhythm model) runs on the ``pipeline`` runner; the live
binary preview on the ``preview`` runner (last setting wins). The window never blocks on them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ecgviewer import RESEARCH_NOTICE, __version__
from ecgviewer.digitize.binarize import binarize
from ecgviewer.digitize.types import CropBox, DigitizeSettings
from ecgviewer.gui import pipeline
from ecgviewer.gui.controls import SettingsPanel
from ecgviewer.gui.document import Document, prepare_key
from ecgviewer.gui.image_view import ImageView
from ecgviewer.gui.rhythm_panel import RhythmPanel, notice_label
from ecgviewer.gui.undo import TraceEditCommand
from ecgviewer.gui.waveform_view import WaveformView
from ecgviewer.gui.workers import TaskRunner, collect_garbage_in_gui_thread
from ecgviewer.paths import user_data_dir
from ecgviewer.session import SIDECAR_SUFFIX

IMAGE_FILTER = (
    "ECG images and PDFs (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.gif *.pdf);;All files (*)"
)
MAX_RECENT = 10
RHYTHM_RERUN_DELAY_MS = 800
PREF_FIELDS = (
    "binarize_method",
    "paper_speed_mm_s",
    "gain_mm_mv",
    "layout",
    "rhythm_lead",
    "correct_perspective",
)


def _sidecar(image_path: Path) -> Path:
    from ecgviewer.session import sidecar_path

    return sidecar_path(image_path)


def default_settings_path() -> Path:
    """Where the app remembers its settings: the per-user data folder."""
    return user_data_dir() / "ecgviewer.ini"


def preview_binary(darkness: np.ndarray, method: str, threshold: float | None) -> np.ndarray:
    """The live preview of the binary image. "auto" previews as its plain threshold
    (modified Otsu at the same threshold: the same pixels without the speck removal, which
    costs ~100 ms on a 200 dpi page); the digitisation that follows shows the exact image."""
    if method == "auto":
        method = "modified_otsu"
    return binarize(darkness, method, threshold).binary


def _binarize_preview(
    token, report, darkness: np.ndarray, method: str, threshold: float | None, crop: CropBox
):
    """Preview job for the ``preview`` runner (last setting wins)."""
    return preview_binary(darkness, method, threshold), crop


class MainWindow(QMainWindow):
    """The ECG Viewer window. ``interactive=False`` shows errors in the window instead of modal
    dialogs (used by ``--screenshot``)."""

    busy_changed = Signal(bool)
    pipeline_idle = Signal()
    preview_shown = Signal()

    def __init__(self, settings_path: str | Path | None = None, interactive: bool = True) -> None:
        super().__init__()
        collect_garbage_in_gui_thread()  # before any worker thread starts
        self.interactive = interactive
        self.qsettings = QSettings(
            str(settings_path or default_settings_path()), QSettings.Format.IniFormat
        )
        self.doc = Document(self._load_preferences())
        self.undo_stack = QUndoStack(self)
        self.pipeline = TaskRunner("pipeline", cancel_running=True, parent=self)
        self.preview = TaskRunner("preview", cancel_running=False, parent=self)
        self._open_job: int | None = None
        self._session = None  # a session being restored (until its digitisation arrives)
        self._last_error: str | None = None
        self._rhythm_timer = QTimer(self)
        self._rhythm_timer.setSingleShot(True)
        self._rhythm_timer.setInterval(RHYTHM_RERUN_DELAY_MS)
        self._rhythm_timer.timeout.connect(self.run_rhythm)

        self.setWindowTitle("ECG Viewer")
        self.setAcceptDrops(True)
        self._build_widgets()
        self._build_actions()
        self._connect()
        self._restore_window()
        self._show_document_state()

    # ---------------------------------------------------------------------------- building --
    def _build_widgets(self) -> None:
        self.image_view = ImageView()
        self.waveform = WaveformView()
        self.split = QSplitter(Qt.Orientation.Vertical)  # ECGs are wide: page above waveform
        self.split.addWidget(self.image_view)
        self.split.addWidget(self.waveform)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setSizes([360, 540])
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(2, 2, 2, 2)
        self.banner = notice_label()
        box.addWidget(self.banner)
        box.addWidget(self.split, 1)
        self.setCentralWidget(central)

        self.settings_panel = SettingsPanel()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.settings_panel)
        # never narrower than the panel itself: a restored window state must not clip the fields
        bar_px = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(self.settings_panel.minimumSizeHint().width() + bar_px + 4)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.settings_dock = QDockWidget("Settings", self)
        self.settings_dock.setObjectName("settingsDock")
        self.settings_dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.settings_dock)
        self.rhythm_panel = RhythmPanel()
        self.rhythm_dock = QDockWidget("Rhythm", self)
        self.rhythm_dock.setObjectName("rhythmDock")
        self.rhythm_dock.setWidget(self.rhythm_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.rhythm_dock)
        for dock in (self.settings_dock, self.rhythm_dock):
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            )

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(200)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        self.file_label = QLabel("")
        sb = self.statusBar()
        sb.addPermanentWidget(self.file_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self.act_open = self._action(
            m, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open, "Open an ECG image or PDF"
        )
        self.recent_menu = m.addMenu("Open &recent")
        m.addSeparator()
        self.act_open_session = self._action(
            m, "Open &session…", self.open_session_dialog, "Ctrl+Shift+O"
        )
        self.act_save_session = self._action(
            m, "&Save session…", self.save_session_dialog, QKeySequence.StandardKey.Save
        )
        m.addSeparator()
        self.act_export = self._action(
            m,
            "&Export signal…",
            self.export_signal_dialog,
            "Ctrl+E",
            "Save the extracted signal as CSV, WFDB or EDF",
        )
        self.act_report = self._action(
            m, "Export &report…", self.export_report_dialog, "Ctrl+R", "One-page PNG or PDF report"
        )
        self.act_summary = self._action(
            m,
            "Export s&ummary (JSON)…",
            self.export_summary_dialog,
            None,
            "Calibration, layout, leads, rhythm result and settings as JSON",
        )
        self.act_overlay = self._action(
            m,
            "Export &overlay image (PNG)…",
            self.export_overlay_dialog,
            None,
            "The page with the extracted traces drawn on it",
        )
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        m = mb.addMenu("&Edit")
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)
        m.addSeparator()
        group = QActionGroup(self)
        self.mode_actions = {}
        for mode, text, key in (
            ("view", "&Zoom and pan", "V"),
            ("drag", "&Move trace points", "M"),
            ("draw", "Re&draw trace segment", "D"),
        ):
            act = QAction(text, self, checkable=True)
            act.setShortcut(QKeySequence(key))
            act.triggered.connect(lambda _=False, mode=mode: self.waveform.set_mode(mode))
            group.addAction(act)
            m.addAction(act)
            self.mode_actions[mode] = act
        self.mode_actions["view"].setChecked(True)
        m.addSeparator()
        self._action(m, "Reset &crop", self.reset_crop, "Ctrl+Shift+R")

        m = mb.addMenu("&View")
        group = QActionGroup(self)
        self.view_actions = {}
        for mode, text, key in (
            ("scan", "&Scan", "1"),
            ("binary", "&Binary image", "2"),
            ("both", "Scan &+ binary", "3"),
        ):
            act = QAction(text, self, checkable=True)
            act.setShortcut(QKeySequence(key))
            act.triggered.connect(lambda _=False, mode=mode: self.set_view_mode(mode))
            group.addAction(act)
            m.addAction(act)
            self.view_actions[mode] = act
        self.act_traces = QAction(
            "Extracted &traces on the image", self, checkable=True, checked=True
        )
        self.act_traces.setShortcut(QKeySequence("T"))
        self.act_traces.toggled.connect(self.image_view.set_show_traces)
        m.addAction(self.act_traces)
        m.addSeparator()
        m.addAction(self.settings_dock.toggleViewAction())
        m.addAction(self.rhythm_dock.toggleViewAction())

        m = mb.addMenu("&Analysis")
        self.act_redigitize = self._action(m, "&Digitise again", self.redigitize_action, "F5")
        self.act_rhythm = self._action(m, "Read &rhythm", self.run_rhythm, "F6")
        self.act_cancel = self._action(m, "&Cancel", self.cancel, "Esc")

        m = mb.addMenu("&Help")
        self._action(
            m, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents
        )
        self._action(m, "&About ECG Viewer", self.show_about)

        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        for act in (self.act_open, self.act_save_session, self.act_export, self.act_report):
            tb.addAction(act)
        tb.addSeparator()
        tb.addAction(self.act_undo)
        tb.addAction(self.act_redo)
        tb.addSeparator()
        for act in self.mode_actions.values():
            tb.addAction(act)
        tb.addSeparator()
        for act in self.view_actions.values():
            tb.addAction(act)
        tb.addSeparator()
        tb.addAction(self.act_redigitize)
        tb.addAction(self.act_rhythm)
        self._rebuild_recent_menu()

    def _connect(self) -> None:
        ev = self.doc.events
        ev.image.connect(self._on_doc_image)
        ev.digitization.connect(self._on_doc_digitization)
        ev.leads.connect(self._on_doc_leads)
        ev.rhythm.connect(self._on_doc_rhythm)
        self.pipeline.started.connect(self._on_started)
        self.pipeline.idle.connect(self._on_pipeline_idle)
        self.pipeline.progress.connect(self._on_progress)
        self.pipeline.partial.connect(self._on_stage)
        self.pipeline.failed.connect(self._on_failed)
        self.preview.finished.connect(self._on_preview)
        self.preview.failed.connect(self._on_preview_failed)
        self.settings_panel.settings_edited.connect(self.apply_settings)
        self.settings_panel.threshold_moving.connect(self.preview_threshold)
        self.settings_panel.reset_crop_requested.connect(self.reset_crop)
        self.image_view.crop_moving.connect(self.preview_crop)
        self.image_view.crop_changed.connect(self.apply_crop)
        self.waveform.edit_requested.connect(self.edit_trace)
        self.undo_stack.cleanChanged.connect(self._update_title)

    # --------------------------------------------------------------------- opening files --
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
            page = 0
            if n_pages > 1 and self.interactive:
                page, ok = QInputDialog.getInt(
                    self, "Choose page", f"{path.name} has {n_pages} pages. Page:", 1, 1, n_pages
                )
                if not ok:
                    return False
                page -= 1
        if session is None and self._offer_sidecar(path):
            return self.open_session(_sidecar(path))
        self.undo_stack.clear()
        self._rhythm_timer.stop()
        self.qsettings.setValue("last_dir", str(path.parent))
        pdf_dpi = float(self.qsettings.value("pdf_dpi", 200.0))
        settings = self.doc.settings
        if session is not None:
            pdf_dpi, settings = session.image.pdf_dpi, session.settings
        self._session = session
        self.statusBar().showMessage(f"Opening {path.name}…")
        self._open_job = self.pipeline.submit(
            pipeline.open_job, path, page, pdf_dpi, settings, keep_settings=session is not None
        )
        return True

    # ------------------------------------------------------------------ settings, preview --
    @Slot(dict)
    def apply_settings(self, changes: dict) -> None:
        """The user changed settings: store them and digitise again in the background."""
        if not self._confirm_discard_corrections():
            self._show_document_state()  # put the controls back
            return
        if not self.doc.update_settings(**changes):
            return
        self._save_preferences()
        if self.doc.image is not None:
            self.redigitize()

    def _confirm_discard_corrections(self) -> bool:
        """Digitising again replaces the leads: ask first when there are hand corrections."""
        n = len(self.doc.edited_leads)
        if not n or not self.interactive:
            return True
        answer = QMessageBox.question(
            self,
            "Discard hand corrections?",
            f"Digitising again replaces the corrections of {n} lead{'s' if n > 1 else ''}. "
            "Save a session first to keep them. Continue?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def redigitize_action(self) -> None:
        if self._confirm_discard_corrections():
            self.redigitize()

    def redigitize(self) -> None:
        if self.doc.image is None:
            return
        self._rhythm_timer.stop()
        settings = self.doc.settings
        key = prepare_key(settings)
        prepared = self.doc.prepared_for(settings)
        what = "Digitising" if prepared is not None else "Preparing the page"
        self.statusBar().showMessage(f"{what}…")
        self.pipeline.submit(
            pipeline.digitize_job, settings, image=self.doc.image, prepared=prepared, key=key
        )

    def run_rhythm(self) -> None:
        data = self.doc.rhythm_input()
        if data is None:
            self.statusBar().showMessage("Nothing to analyse: digitise a page first.", 5000)
            return
        self.rhythm_panel.show_busy("Reading the rhythm…")
        self.pipeline.submit(pipeline.rhythm_job, *data)

    @Slot(object)
    def apply_crop(self, crop: CropBox) -> None:
        self.apply_settings({"crop": crop})

    def reset_crop(self) -> None:
        self.apply_settings({"crop": None})

    @Slot(str, float)
    def preview_threshold(self, method: str, threshold: float) -> None:
        """Live binary preview while the threshold slider moves."""
        self._submit_preview(method, threshold, None)

    @Slot(object)
    def preview_crop(self, crop: CropBox) -> None:
        """Live binary preview while the crop box is dragged."""
        thr = self.doc.settings.threshold
        if thr is None and self.doc.digitization is not None:
            thr = self.doc.digitization.threshold
        self._submit_preview(self.doc.settings.binarize_method, thr, crop)

    def _submit_preview(self, method: str, threshold: float | None, crop: CropBox | None) -> None:
        region = self.doc.darkness_crop(crop)
        if region is None:
            return
        darkness, clipped = region
        self.preview.submit(_binarize_preview, darkness, method, threshold, clipped)

    @Slot(int, object)
    def _on_preview_failed(self, _job_id: int, exc) -> None:
        self.statusBar().showMessage(f"Preview failed: {pipeline.error_text(exc)}", 5000)

    @Slot(int, object)
    def _on_preview(self, _job_id: int, result) -> None:
        binary, crop = result
        self.image_view.set_binary(binary, crop)
        self.preview_shown.emit()

    def set_view_mode(self, mode: str) -> None:
        self.image_view.set_mode(mode)
        self.view_actions[mode].setChecked(True)
        self.qsettings.setValue("view_mode", mode)

    # ----------------------------------------------------------------------- trace edits --
    @Slot(int, int, object, str)
    def edit_trace(self, lead_index: int, start: int, values, text: str) -> None:
        if self.doc.digitization is None:
            return
        self.undo_stack.push(TraceEditCommand(self.doc, lead_index, start, values, text))

    # ------------------------------------------------------------------- job results --
    @Slot(int, object)
    def _on_stage(self, job_id: int, stage: pipeline.Stage) -> None:
        name, value = stage.name, stage.value
        if name == "loaded":
            self.doc.set_image(value, None if self._session is None else self._session.settings)
            self._add_recent(value.path)
        elif name == "prepared":
            self.doc.set_prepared(value.key, value, value.page_rgb, value.darkness)
            self.image_view.set_page(value.page_rgb, reset_view=False)
        elif name == "digitized":
            self.undo_stack.clear()
            self.doc.set_digitization(value)
            if self._session is not None:
                self._replay_session()
        elif name == "digitize_error":
            self.undo_stack.clear()
            self._session = None  # its corrections have nothing to apply to
            self.doc.set_digitization(None, value)
        elif name == "rhythm":
            self.doc.set_rhythm(value)
        elif name == "rhythm_error":
            self.doc.set_rhythm(None, value)

    @Slot(int, float, str)
    def _on_progress(self, _job_id: int, fraction: float, text: str) -> None:
        self.progress.setValue(int(round(100 * fraction)))
        if text:
            self.statusBar().showMessage(text)

    @Slot(int, object)
    def _on_failed(self, job_id: int, exc: BaseException) -> None:
        text = pipeline.error_text(exc)
        title = "Cannot open the file" if job_id == self._open_job else "Processing failed"
        if job_id == self._open_job:
            self._session = None
        if job_id != self._open_job and self.doc.digitization is None:
            self.doc.set_digitization(None, text)
        self.show_error(title, text)

    @Slot(int)
    def _on_started(self, _job_id: int) -> None:
        self._set_busy(True)

    @Slot()
    def _on_pipeline_idle(self) -> None:
        self._set_busy(False)
        self.pipeline_idle.emit()

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setValue(0)
        else:
            self.statusBar().showMessage("Ready", 3000)
        self.busy_changed.emit(busy)

    def cancel(self) -> None:
        if self.pipeline.busy:
            self.pipeline.cancel()
            self.statusBar().showMessage("Cancelled", 4000)

    # ------------------------------------------------------------- document → widgets --
    def _on_doc_image(self, doc: Document) -> None:
        self.image_view.set_page(doc.page_rgb)
        self.waveform.show_message("Digitising…")
        self.rhythm_panel.show_result(None, "Waiting for the waveform…", None)
        self._show_document_state()

    def _on_doc_digitization(self, doc: Document) -> None:
        dig = doc.digitization
        self._show_document_state()
        if dig is None:
            self.image_view.set_binary(None, None)
            self.image_view.set_traces((), None)
            self.waveform.show_message(
                f"No waveform: {doc.digitize_error or 'digitisation failed'}"
            )
            self.rhythm_panel.show_result(None, doc.digitize_error, None)
            return
        if self.image_view._page_shape != dig.image_rgb.shape[:2]:
            self.image_view.set_page(dig.image_rgb, reset_view=True)
        rhythm_index = doc.rhythm_lead_index()
        self.image_view.set_binary(dig.binary, dig.crop)
        self.image_view.set_traces(dig.leads, rhythm_index)
        self.image_view.set_crop(dig.crop)
        self.waveform.show_digitization(dig, rhythm_index)
        self.rhythm_panel.show_result(None, "Reading the rhythm…", dig)
        n = len(dig.leads)
        self.statusBar().showMessage(
            f"{n} lead{'s' if n != 1 else ''}, layout {dig.layout.name}, "
            f"{dig.calibration.px_per_mm_x:.2f} px/mm ({dig.calibration.source})",
            8000,
        )

    def _on_doc_leads(self, doc: Document, index: int) -> None:
        dig = doc.digitization
        self.waveform.set_digitization_leads(dig)
        self.image_view.set_traces(dig.leads, doc.rhythm_lead_index())
        self._update_title()
        if index == doc.rhythm_lead_index():
            self.rhythm_panel.show_busy("The rhythm lead changed: reading it again shortly…")
            self._rhythm_timer.start()

    def _on_doc_rhythm(self, doc: Document) -> None:
        self.rhythm_panel.show_result(doc.rhythm, doc.rhythm_error, doc.digitization)
        i = doc.rhythm_lead_index()
        start = doc.digitization.leads[i].start_s if i is not None else 0.0
        self.waveform.show_rhythm(doc.rhythm, start)

    def _show_document_state(self) -> None:
        self.settings_panel.show_settings(self.doc.settings, self.doc.digitization)
        has_dig = self.doc.digitization is not None
        for act in (
            self.act_export,
            self.act_report,
            self.act_save_session,
            self.act_rhythm,
            self.act_summary,
            self.act_overlay,
        ):
            act.setEnabled(has_dig)
        self.act_redigitize.setEnabled(self.doc.image is not None)
        self.file_label.setText(self.doc.title if self.doc.image is not None else "")
        self._update_title()

    @Slot()
    def _update_title(self, *_args) -> None:
        edited = " (corrected by hand)" if self.doc.edited_leads else ""
        name = self.doc.title if self.doc.image is not None else ""
        self.setWindowTitle(f"{name}{edited} – ECG Viewer" if name else "ECG Viewer")

    # ------------------------------------------------------------------ export, session --
    def _save_path(self, caption: str, suggested: str, filters: str) -> tuple[str, str]:
        start = Path(self.qsettings.value("export_dir", str(Path.home()))) / suggested
        return QFileDialog.getSaveFileName(self, caption, str(start), filters)

    def _stem(self) -> str:
        return Path(self.doc.image.path).stem if self.doc.image is not None else "ecg"

    def export_signal_dialog(self) -> None:
        filters = "CSV (*.csv);;WFDB (*.hea);;EDF (*.edf)"
        path, chosen = self._save_path("Export signal", f"{self._stem()}.csv", filters)
        if path:
            fmt = (
                {"CSV": "csv", "WFDB": "wfdb", "EDF": "edf"}[chosen.split()[0]] if chosen else None
            )
            self.export_signal(path, fmt)

    def export_signal(self, path: str | Path, fmt: str | None = None) -> bool:
        """Write the (hand-corrected) signal; on failure the document is untouched."""
        from ecgviewer.gui import files

        return self._guarded(
            "Export failed",
            files.export_signal,
            self.doc,
            Path(path),
            fmt,
            done=f"Signal saved to {path}",
        )

    def export_report_dialog(self) -> None:
        path, _ = self._save_path(
            "Export report", f"{self._stem()}_report.pdf", "PDF (*.pdf);;PNG (*.png)"
        )
        if path:
            self.export_report(path)

    def export_report(self, path: str | Path) -> bool:
        from ecgviewer.gui import report

        return self._guarded(
            "Report failed",
            report.write_report,
            self.doc,
            Path(path),
            done=f"Report saved to {path}",
        )

    def export_summary_dialog(self) -> None:
        path, _ = self._save_path("Export summary", f"{self._stem()}.json", "JSON (*.json)")
        if path:
            self.export_summary(path)

    def export_summary(self, path: str | Path) -> bool:
        from ecgviewer.gui import files

        return self._guarded(
            "Export failed",
            files.export_summary,
            self.doc,
            Path(path),
            done=f"Summary saved to {path}",
        )

    def export_overlay_dialog(self) -> None:
        path, _ = self._save_path("Export overlay", f"{self._stem()}_overlay.png", "PNG (*.png)")
        if path:
            self.export_overlay(path)

    def export_overlay(self, path: str | Path) -> bool:
        from ecgviewer.gui import files

        return self._guarded(
            "Export failed",
            files.export_overlay,
            self.doc,
            Path(path),
            done=f"Overlay saved to {path}",
        )

    def save_session_dialog(self) -> None:
        from ecgviewer.session import sidecar_path

        suggested = sidecar_path(self.doc.image.path) if self.doc.image is not None else None
        start = str(suggested) if suggested is not None else str(Path.home())
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", start, f"ECG Viewer session (*{SIDECAR_SUFFIX} *.json)"
        )
        if path:
            self.save_session(path)

    def save_session(self, path: str | Path) -> bool:
        from ecgviewer.gui import files

        ok = self._guarded(
            "Saving the session failed",
            files.save_session,
            self.doc,
            Path(path),
            done=f"Session saved to {path}",
        )
        if ok:
            self.undo_stack.setClean()
        return ok

    def open_session_dialog(self) -> None:
        start = self.qsettings.value("export_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open session",
            str(start),
            f"ECG Viewer session (*{SIDECAR_SUFFIX} *.json);;All files (*)",
        )
        if path:
            self.open_session(path)

    def _offer_sidecar(self, image_path: Path) -> bool:
        """When the image has a saved session beside it, ask whether to restore it."""
        sidecar = _sidecar(image_path)
        if not self.interactive or not sidecar.is_file():
            return False
        answer = QMessageBox.question(
            self,
            "Restore saved session?",
            f"{sidecar.name} holds the settings and hand corrections saved for this image. "
            "Restore them?",
        )
        return answer == QMessageBox.StandardButton.Yes

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

    def _guarded(self, title: str, fn, *args, done: str = "") -> bool:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - report, keep the document
            self.show_error(title, pipeline.error_text(exc))
            return False
        if args and isinstance(args[-1], Path):
            self.qsettings.setValue("export_dir", str(args[-1].parent))
        if done:
            self.statusBar().showMessage(done, 8000)
        return True

    # ------------------------------------------------------------------ messages, help --
    def show_error(self, title: str, text: str) -> None:
        self._last_error = f"{title}: {text}"
        self.statusBar().showMessage(self._last_error, 15000)
        if self.interactive:
            QMessageBox.critical(self, title, text)
        elif self.doc.image is None:
            self.waveform.show_message(self._last_error)

    def show_shortcuts(self) -> None:
        rows = []
        for menu in self.findChildren(QAction):
            if menu.shortcut().toString() and menu.text():
                rows.append(
                    f"<tr><td>{menu.text().replace('&', '')}</td>"
                    f"<td><b>{menu.shortcut().toString()}</b></td></tr>"
                )
        QMessageBox.information(
            self, "Keyboard shortcuts", "<table>" + "".join(sorted(set(rows))) + "</table>"
        )

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About ECG Viewer",
            f"<b>ECG Viewer {__version__}</b><br>Paper ECG images to calibrated signals "
            f"and heart rhythm.<br><br><b>{RESEARCH_NOTICE}</b>",
        )

    # -------------------------------------------------------------- recent, preferences --
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

    def _load_preferences(self) -> DigitizeSettings:
        base = DigitizeSettings()
        changes = {}
        for name in PREF_FIELDS:
            value = self.qsettings.value(f"digitize/{name}")
            if value is None:
                continue
            default = getattr(base, name)
            try:
                if isinstance(default, bool):
                    value = value if isinstance(value, bool) else str(value).lower() == "true"
                elif isinstance(default, float):
                    value = float(value)
                else:
                    value = str(value)
            except (TypeError, ValueError):
                continue
            changes[name] = value
        return dataclasses.replace(base, **changes)

    def _save_preferences(self) -> None:
        for name in PREF_FIELDS:
            self.qsettings.setValue(f"digitize/{name}", getattr(self.doc.settings, name))

    def _restore_window(self) -> None:
        geometry = self.qsettings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1600, 950)
        state = self.qsettings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        split = self.qsettings.value("window/split")
        if isinstance(split, QByteArray):
            self.split.restoreState(split)
        mode = str(self.qsettings.value("view_mode", "both"))
        self.set_view_mode(mode if mode in self.view_actions else "both")

    # ------------------------------------------------------------------ drag and drop --
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_file(urls[0].toLocalFile())

    # ------------------------------------------------------------------------ closing --
    def shutdown(self) -> None:
        """Stop the background work and wait for the threads (idempotent)."""
        self._rhythm_timer.stop()
        self.settings_panel._commit_timer.stop()
        self.preview.shutdown()
        self.pipeline.shutdown()

    def closeEvent(self, event) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        self.qsettings.setValue("window/split", self.split.saveState())
        self.qsettings.sync()
        self.shutdown()
        super().closeEvent(event)
