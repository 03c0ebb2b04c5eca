"""What the window tells the user: the status bar with progress and Cancel, busy state, error
messages (a dialog, or in the window when not interactive) and the help dialogs."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QPushButton

from ecgviewer import RESEARCH_NOTICE, __version__


class StatusMixin:
    """The :class:`~ecgviewer.gui.main_window.MainWindow`'s status and messages (uses its
    ``pipeline``, ``doc``, ``waveform``, ``interactive`` and ``busy_changed`` /
    ``pipeline_idle`` signals)."""

    def _build_status_bar(self) -> None:
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

    @Slot(int, float, str)
    def _on_progress(self, _job_id: int, fraction: float, text: str) -> None:
        self.progress.setValue(int(round(100 * fraction)))
        if text:
            self.statusBar().showMessage(text)

    def cancel(self) -> None:
        if self.pipeline.busy:
            self.pipeline.cancel()
            self.statusBar().showMessage("Cancelled", 4000)

    def show_error(self, title: str, text: str) -> None:
        self._last_error = f"{title}: {text}"
        self.statusBar().showMessage(self._last_error, 15000)
        if self.interactive:
            QMessageBox.critical(self, title, text)
        elif self.doc.image is None:
            self.waveform.show_message(self._last_error)

    def ask(self, title: str, text: str) -> bool:
        """A Yes/No question; True for Yes."""
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

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
