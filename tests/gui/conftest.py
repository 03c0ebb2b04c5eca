"""GUI test fixtures: offscreen Qt, an isolated settings file, and a check that no test leaves
a worker thread running (a running QThread at exit aborts the whole test process)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


@pytest.fixture(autouse=True)
def stack_dump_if_stuck():
    """A GUI test that hangs prints every thread's stack after 120 s (then carries on), so a
    deadlock can be diagnosed instead of only timing out."""
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(120, repeat=False, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def no_leaked_threads(qapp):
    """Fail a test that leaves a TaskRunner thread running (then stop it, so the session
    survives to report the failure)."""
    from ecgviewer.gui.workers import running_threads

    yield
    qapp.processEvents()
    leaked = running_threads()
    if leaked:
        names = [t.objectName() for t in leaked]
        for t in leaked:
            t.quit()
            t.wait(30_000)
        pytest.fail(f"test left worker threads running: {names}")


@pytest.fixture
def settings_file(tmp_path):
    return tmp_path / "ecgviewer-test.ini"


@pytest.fixture
def window(qtbot, settings_file):
    """A main window with its own settings file, shut down after the test."""
    from ecgviewer.gui.main_window import MainWindow

    win = MainWindow(settings_path=settings_file, interactive=True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.shutdown()


@pytest.fixture
def errors(monkeypatch):
    """Record QMessageBox.critical calls instead of showing modal dialogs."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox,
        "critical",
        staticmethod(lambda parent, title, text, *a, **k: shown.append((title, text))),
    )
    return shown


@pytest.fixture
def small_scan(scans_dir):
    """A small real 12-lead scan (640×289) that digitises in a fraction of a second."""
    return scans_dir / "ecg00019.bmp"
