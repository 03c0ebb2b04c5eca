"""Run by ``test_real_x11.py`` on an Xvfb display: the main window as a real X11 window
(Qt's xcb platform), a 3×4 + II page in the paper view, and the mouse driven by ``xdotool``,
so the wheel, drag and double click arrive as real X input through the X server (the offscreen
tests post Qt events instead). Prints one JSON line with the view ranges it saw."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPointF, QTimer  # noqa: E402
from PySide6.QtGui import QCursor  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.test_paper_view import twelve_lead, window_lead  # noqa: E402

STEP_MS = 1200


def main() -> None:
    from ecgviewer.gui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    out: dict = {"platform": app.platformName()}
    win = MainWindow(settings_path=Path(tempfile.mkdtemp()) / "x11.ini", interactive=True)
    win.resize(1400, 900)
    win.show()
    view = win.waveform
    view.show_digitization(twelve_lead(), 12)

    def v1_on_screen() -> tuple[QPointF, tuple[int, int]]:
        v1 = next(tr for tr in view.traces if window_lead(view, tr) == "V1")
        target = QPointF(v1.place.x0_mm + 20.0, v1.place.baseline_mm)
        pos = view.graphics.mapFromScene(view.view_box.mapViewToScene(target))
        g = view.graphics.viewport().mapToGlobal(pos)
        return target, (g.x(), g.y())

    def xdotool(*args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, timeout=20)

    def turn_wheel() -> None:
        target, (gx, gy) = v1_on_screen()
        out["before"] = view.view_box.viewRange()
        out["target_mm"] = (target.x(), target.y())
        out["curves_before"] = [float(abs(tr.curve.yData).sum()) for tr in view.traces]
        xdotool("mousemove", str(gx), str(gy))
        xdotool("click", "--repeat", "3", "--delay", "150", "4")  # button 4: wheel up
        QTimer.singleShot(STEP_MS, after_wheel)

    def after_wheel() -> None:
        out["after_wheel"] = view.view_box.viewRange()
        cursor = view.graphics.viewport().mapFromGlobal(QCursor.pos())
        under = view.view_box.mapSceneToView(view.graphics.mapToScene(cursor))
        out["under_cursor_mm"] = (under.x(), under.y())
        out["curves_after"] = [float(abs(tr.curve.yData).sum()) for tr in view.traces]
        out["labels"] = sorted(lb.text for lb in view.labels)
        xdotool("click", "--repeat", "2", "--delay", "80", "1")  # double click: fit
        QTimer.singleShot(STEP_MS, done)

    def done() -> None:
        out["after_double_click"] = view.view_box.viewRange()
        print(json.dumps(out), flush=True)
        win.shutdown()
        app.quit()

    QTimer.singleShot(2 * STEP_MS, turn_wheel)
    app.exec()


if __name__ == "__main__":
    main()
