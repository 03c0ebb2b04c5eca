"""The main window: builds the widgets from a :class:`~ecgviewer.gui.document.Document`, turns
user actions into document changes and background jobs, and presents the results.

Long work (loading, digitising, the rhythm model) runs on the ``pipeline`` runner; the live
binary preview on the ``preview`` runner (last setting wins). The window never blocks on them.
Its other parts are mixed in: opening files (:mod:`.opening`), saving (:mod:`.exports`), the
status bar and messages (:mod:`.status`); menus come from the tables in :mod:`.actions`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.digitize.stages import prepare_key
from ecgviewer.digitize.types import CropBox
from ecgviewer.gui import pipeline, preferences
from ecgviewer.gui.actions import build_actions
from ecgviewer.gui.controls import SettingsPanel
from ecgviewer.gui.document import Document
from ecgviewer.gui.exports import SavingMixin
from ecgviewer.gui.image_view import ImageView
from ecgviewer.gui.opening import OpeningMixin
from ecgviewer.gui.rhythm_panel import RhythmPanel, notice_label
from ecgviewer.gui.status import StatusMixin
from ecgviewer.gui.undo import TraceEditCommand
from ecgviewer.gui.waveform_view import WaveformView
from ecgviewer.gui.workers import TaskRunner, collect_garbage_in_gui_thread

RHYTHM_RERUN_DELAY_MS = 800


def failure_advice(error: str | None, threshold: float | None) -> str:
    """Why digitising failed, with what to do when a threshold set by hand is the likely cause."""
    text = error or "digitisation failed"
    if threshold is not None and "no row of trace" in text:
        text += f" at threshold {threshold:.3f}: lower the threshold (Settings ▸ Binarisation)"
    return text


class MainWindow(OpeningMixin, SavingMixin, StatusMixin, QMainWindow):
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
            str(settings_path or preferences.default_settings_path()), QSettings.Format.IniFormat
        )
        self.doc = Document(preferences.load_preferences(self.qsettings))
        self.undo_stack = QUndoStack(self)
        self.pipeline = TaskRunner("pipeline", cancel_running=True, parent=self)
        self.preview = TaskRunner("preview", cancel_running=False, parent=self)
        self._open_job: int | None = None
        self._session = None  # a session being restored (until its digitisation arrives)
        self._last_error: str | None = None
        self._fit_page = False  # zoom the page view to the ECG once it is found
        self._page_note = ""  # "showing page 1 of 2" when no one was asked which page
        self._rhythm_timer = QTimer(self)
        self._rhythm_timer.setSingleShot(True)
        self._rhythm_timer.setInterval(RHYTHM_RERUN_DELAY_MS)
        self._rhythm_timer.timeout.connect(self.run_rhythm)

        self.setWindowTitle("ECG Viewer")
        self.setAcceptDrops(True)
        self._build_widgets()
        build_actions(self)
        self._connect()
        preferences.restore_window(self, self.qsettings)
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
        self.split.setSizes([330, 520])
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

        self._build_status_bar()

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

    # ------------------------------------------------------------------ settings, preview --
    @Slot(dict)
    def apply_settings(self, changes: dict) -> None:
        """The user changed settings: store them and digitise again in the background."""
        if not self._confirm_discard_corrections():
            self._show_document_state()  # put the controls back
            return
        if not self.doc.update_settings(**changes):
            return
        preferences.save_preferences(self.qsettings, self.doc.settings)
        if self.doc.image is not None:
            self.redigitize()

    def _confirm_discard_corrections(self) -> bool:
        """Digitising again replaces the leads: ask first when there are hand corrections."""
        n = len(self.doc.edited_leads)
        if not n or not self.interactive:
            return True
        return self.ask(
            "Discard hand corrections?",
            f"Digitising again replaces the corrections of {n} lead{'s' if n > 1 else ''}. "
            "Save a session first to keep them. Continue?",
        )

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
        region = self.doc.darkness_crop(crop, method)
        if region is None:
            return
        darkness, clipped = region
        self.preview.submit(pipeline.preview_job, darkness, method, threshold, clipped)

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

    def set_sheet_arrangement(self, arrangement: str) -> None:
        """The waveform as printed (``"paper"``) or one lead per row (``"rows"``)."""
        self.waveform.set_arrangement(arrangement)
        self.sheet_actions[arrangement].setChecked(True)
        self.qsettings.setValue("sheet_arrangement", arrangement)

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

    @Slot(int, object)
    def _on_failed(self, job_id: int, exc: BaseException) -> None:
        text = pipeline.error_text(exc)
        title = "Cannot open the file" if job_id == self._open_job else "Processing failed"
        if job_id == self._open_job:
            self._session = None
        if job_id != self._open_job and self.doc.digitization is None:
            self.doc.set_digitization(None, text)
        self.show_error(title, text)

    # ------------------------------------------------------------- document → widgets --
    def _on_doc_image(self, doc: Document) -> None:
        self._fit_page = True
        self.image_view.set_page(doc.page_rgb)
        self.waveform.show_message("Digitising…")
        self.rhythm_panel.show_result(None, "Waiting for the waveform…", None)
        self._show_document_state()

    def _on_doc_digitization(self, doc: Document) -> None:
        dig = doc.digitization
        self._show_document_state()
        if dig is None:
            why = failure_advice(doc.digitize_error, doc.settings.threshold)
            self.image_view.set_binary(None, None, f"No binary image: {why}")
            self.image_view.set_traces((), None)
            self.waveform.show_message(f"No waveform: {why}")
            self.rhythm_panel.show_result(None, why, None)
            return
        if self.image_view._page_shape != dig.image_rgb.shape[:2]:
            self.image_view.set_page(dig.image_rgb, reset_view=True)
        if self._fit_page:  # a new page: zoom to its ECG
            self._fit_page = False
            self.image_view.show_region(dig.crop)
        rhythm_index = doc.rhythm_lead_index()
        self.image_view.set_binary(dig.binary, dig.crop)
        self.image_view.set_traces(dig.leads, rhythm_index)
        self.image_view.set_crop(dig.crop)
        self.waveform.show_digitization(dig, rhythm_index)
        self.rhythm_panel.show_result(None, "Reading the rhythm…", dig)
        n = len(dig.leads)
        self.statusBar().showMessage(
            f"{n} lead{'s' if n != 1 else ''}, layout {dig.layout.name}, "
            f"{dig.calibration.px_per_mm_x:.2f} px/mm ({dig.calibration.source})" + self._page_note,
            15000 if self._page_note else 8000,
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
        self.file_label.setText(self.doc.title + self._page_note if self.doc.image else "")
        self._update_title()

    @Slot()
    def _update_title(self, *_args) -> None:
        edited = " (corrected by hand)" if self.doc.edited_leads else ""
        name = self.doc.title if self.doc.image is not None else ""
        self.setWindowTitle(f"{name}{edited} – ECG Viewer" if name else "ECG Viewer")

    # ------------------------------------------------------------------------ closing --
    def shutdown(self) -> None:
        """Stop the background work and wait for the threads (idempotent)."""
        self._rhythm_timer.stop()
        self.settings_panel._commit_timer.stop()
        self.preview.shutdown()
        self.pipeline.shutdown()

    def closeEvent(self, event) -> None:
        if self.interactive:  # a --screenshot run's window size is not the user's
            preferences.save_window(self, self.qsettings)
        self.shutdown()
        super().closeEvent(event)
