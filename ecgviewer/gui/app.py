"""Starting the desktop app: the QApplication, the window, and the ``--screenshot`` mode."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ecgviewer import __version__
from ecgviewer.errors import EcgViewerError
from ecgviewer.gui.main_window import MainWindow

SCREENSHOT_TIMEOUT_S = 180.0


def check_display(screenshot: bool) -> None:
    """Without a display, --screenshot runs offscreen; the window itself cannot open, and we
    say so in one line instead of Qt's abort."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    raise EcgViewerError(
        "no display found (DISPLAY / WAYLAND_DISPLAY unset): run ECG Viewer in a desktop "
        "session, or use --screenshot (runs offscreen)"
    )


def application() -> QApplication:
    """The running QApplication, created with the app's names (QSettings uses them)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("ECG Viewer")
        app.setOrganizationName("ecgviewer")
        app.setApplicationVersion(__version__)
    return app


def result_shown(window: MainWindow) -> bool:
    """True once the open page's digitisation and rhythm result (or their failures) show."""
    doc = window.doc
    if window.pipeline.busy:
        return False
    if doc.image is None:
        # nothing was opened (a plain start) or the open failed with a message shown
        return window._open_job is None or window._last_error is not None
    if doc.digitization is None:
        return doc.digitize_error is not None
    return doc.rhythm is not None or doc.rhythm_error is not None


def take_screenshot(window: MainWindow, out: Path, timeout_s: float = SCREENSHOT_TIMEOUT_S) -> int:
    """Run the event loop until :func:`result_shown`, save ``window.grab()`` to ``out`` and
    return 0 (1 when it timed out: the picture is still saved, showing how far it got)."""
    app = application()
    state = {"code": 1}

    def check() -> None:
        if result_shown(window):
            state["code"] = 0
            finish()

    def finish() -> None:
        poll.stop()
        app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            print(f"ecgviewer: error: could not write {out}", file=sys.stderr)
            state["code"] = 2
        window.close()
        app.quit()

    poll = QTimer()
    poll.setInterval(100)
    poll.timeout.connect(check)
    poll.start()
    QTimer.singleShot(int(timeout_s * 1000), finish)
    app.exec()
    return state["code"]


def run(
    path: str | None = None,
    screenshot: str | None = None,
    settings_path: str | None = None,
    size: tuple[int, int] | None = None,
) -> int:
    """Open the window (and ``path``); with ``screenshot`` save a picture once done and quit."""
    check_display(screenshot is not None)
    app = application()
    window = MainWindow(settings_path=settings_path, interactive=screenshot is None)
    if size is not None:
        window.resize(*size)
    window.show()
    if path:
        window.open_file(path)
    if screenshot:
        return take_screenshot(window, Path(screenshot))
    code = app.exec()
    window.shutdown()
    return int(code)
