"""Export (signal, report), session save/restore, remembered settings, and the --screenshot
command, from the window, re-reading what was written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.gui import pipeline
from ecgviewer.gui.app import result_shown

from .test_window import TIMEOUT_MS, fake_result, open_and_wait

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def quick_model(monkeypatch):
    monkeypatch.setattr(pipeline, "classify_signal", lambda s, fs: fake_result(len(s) / fs))


@pytest.fixture
def opened(qtbot, window, small_scan):
    open_and_wait(qtbot, window, small_scan)
    return window


def _rhythm_lead_with_gaps(window):
    from ecgviewer.digitize.stages import signal_with_gaps

    return signal_with_gaps(window.doc.digitization.leads[window.doc.rhythm_lead_index()])


class TestExport:
    @pytest.mark.parametrize(
        "fmt,name", [("csv", "out.csv"), ("wfdb", "out.hea"), ("edf", "out.edf")]
    )
    def test_signal_round_trip_includes_hand_corrections(self, opened, tmp_path, fmt, name, errors):
        from ecgviewer.io.signals import read_signal

        w = opened
        i = w.doc.rhythm_lead_index()
        w.edit_trace(i, 200, np.full(10, 1.5), "Redraw trace segment")
        w._rhythm_timer.stop()
        assert w.save_as("signal", tmp_path / name, fmt), errors
        rec = read_signal(tmp_path / name) if fmt != "edf" else _read_edf(tmp_path / name)
        assert rec.signal_mv.shape[1] >= 1
        assert rec.fs_hz == pytest.approx(w.doc.digitization.leads[i].fs_hz, rel=1e-3)
        # the corrected 1.5 mV plateau is in the exported rhythm lead (EDF is 16-bit: ~µV steps)
        col = [
            k
            for k, n in enumerate(rec.lead_names)
            if n.strip().upper() == w.doc.digitization.leads[i].name.upper()
        ]
        assert col, rec.lead_names
        values = rec.signal_mv[:, col[-1]]
        assert np.nanmax(np.abs(values - 1.5)) > 0  # not everything is the plateau
        assert np.any(np.isclose(values, 1.5, atol=0.01))

    def test_signal_export_remembers_its_folder(self, opened, tmp_path, errors):
        folder = tmp_path / "signals"
        folder.mkdir()
        assert opened.save_as("signal", folder / "out.csv", "csv"), errors
        assert opened.qsettings.value("export_dir") == str(folder)

    def test_failed_export_shows_a_dialog_and_keeps_the_document(self, opened, tmp_path, errors):
        w = opened
        dig = w.doc.digitization
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        assert not w.save_as("signal", blocker / "out.csv", "csv")  # cannot write below a file
        assert errors and errors[0][0] == "Export failed"
        assert w.doc.digitization is dig
        assert blocker.read_text() == "not a folder"

    def test_report_png_and_pdf(self, opened, tmp_path, errors):
        from PIL import Image

        w = opened
        assert w.save_as("report", tmp_path / "r.png"), errors
        assert w.save_as("report", tmp_path / "r.pdf"), errors
        with Image.open(tmp_path / "r.png") as im:
            assert im.size == (1754, 1240)  # A4 landscape at 150 dpi
            arr = np.asarray(im.convert("RGB"))
        assert (arr < 100).any() and arr.std() > 10  # text and traces, not blank
        assert (arr[:, -1] == 255).all()  # the last pixel column is paper, not uninitialised
        umask = os.umask(0)
        os.umask(umask)
        for name in ("r.png", "r.pdf"):  # the umask decides, as for every other output
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask
        head = (tmp_path / "r.pdf").read_bytes()[:5]
        assert head == b"%PDF-"
        assert not w.save_as("report", tmp_path / "r.txt")
        assert not list(tmp_path.glob(".report-*"))  # no temporary left behind


def _read_edf(path: Path):
    from ecgviewer.io.edf import read_edf

    return read_edf(path)


class TestSummaryAndOverlay:
    def test_summary_json_and_overlay_png(self, opened, tmp_path, errors):
        import json

        from PIL import Image

        w = opened
        w.edit_trace(w.doc.rhythm_lead_index(), 5, np.zeros(3), "Redraw trace segment")
        w._rhythm_timer.stop()
        assert w.save_as("summary", tmp_path / "s.json"), errors
        data = json.loads((tmp_path / "s.json").read_text())
        assert len(data["leads"]) == len(w.doc.digitization.leads)
        assert data["rhythm"]["label"] == "N"  # the stand-in model's answer
        assert data["hand_corrected_leads"] == [
            w.doc.digitization.leads[w.doc.rhythm_lead_index()].name
        ]
        assert data["input"]["path"].endswith(w.doc.image.path.name)
        assert w.save_as("overlay", tmp_path / "o.png"), errors
        with Image.open(tmp_path / "o.png") as im:
            assert im.size == (
                w.doc.digitization.image_rgb.shape[1],
                w.doc.digitization.image_rgb.shape[0],
            )


class TestSession:
    def test_session_restores_settings_and_corrections(
        self, qtbot, opened, tmp_path, settings_file, errors
    ):
        from ecgviewer.gui.main_window import MainWindow

        w = opened
        w.apply_settings({"threshold": 0.4})
        qtbot.waitUntil(
            lambda: result_shown(w) and w.doc.digitization.threshold == pytest.approx(0.4),
            timeout=TIMEOUT_MS,
        )
        i = w.doc.rhythm_lead_index()
        w.edit_trace(i, 300, np.linspace(0, 1, 25), "Redraw trace segment")
        w._rhythm_timer.stop()
        assert w.save_as("session", tmp_path / "scan.ecgviewer.json"), errors
        expected = _rhythm_lead_with_gaps(w)

        w2 = MainWindow(settings_path=tmp_path / "other.ini")
        qtbot.addWidget(w2)
        try:
            assert w2.open_session(tmp_path / "scan.ecgviewer.json")
            qtbot.waitUntil(
                lambda: result_shown(w2) and bool(w2.doc.edited_leads), timeout=TIMEOUT_MS
            )
            assert w2.doc.settings.threshold == pytest.approx(0.4)
            np.testing.assert_allclose(_rhythm_lead_with_gaps(w2), expected, equal_nan=True)
            assert w2.undo_stack.count() == 1  # the restored correction can be undone
        finally:
            w2.shutdown()

    def test_damaged_session_is_refused_with_a_dialog(self, opened, tmp_path, errors):
        bad = tmp_path / "bad.json"
        bad.write_text('{"format": "ecgviewer-session", "version": 99}')
        image = opened.doc.image
        assert not opened.open_session(bad)
        assert errors and "newer" in errors[0][1]
        assert opened.doc.image is image


class TestPreferences:
    def test_preferences_and_recent_files_survive_a_restart(
        self, qtbot, opened, settings_file, small_scan
    ):
        from ecgviewer.gui.main_window import MainWindow

        opened.settings_panel.speed.setCurrentIndex(opened.settings_panel.speed.findData(50.0))
        opened.set_view_mode("binary")
        qtbot.waitUntil(lambda: not opened.pipeline.busy, timeout=TIMEOUT_MS)
        opened.close()
        w2 = MainWindow(settings_path=settings_file)
        qtbot.addWidget(w2)
        try:
            assert w2.doc.settings.paper_speed_mm_s == 50.0
            assert w2.image_view.mode == "binary"
            assert w2._recent()[0] == str(small_scan.resolve())
            assert w2.recent_menu.actions()[0].text().endswith(small_scan.name)
        finally:
            w2.shutdown()

    def test_default_settings_live_in_the_per_user_folder(self):
        from ecgviewer.gui.preferences import default_settings_path
        from ecgviewer.paths import user_data_dir

        assert default_settings_path().parent == user_data_dir()


class TestCommand:
    def test_screenshot_command(self, small_scan, tmp_path):
        from PIL import Image

        out = tmp_path / "shot.png"
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ecgviewer",
                "gui",
                str(small_scan),
                "--screenshot",
                str(out),
                "--settings",
                str(tmp_path / "s.ini"),
                "--size",
                "1200x800",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        with Image.open(out) as im:
            assert im.size == (1200, 800)
        # the screenshot's window size is not remembered for the next real start
        ini = tmp_path / "s.ini"
        assert "geometry" not in (ini.read_text() if ini.exists() else "")

    def test_screenshot_of_a_bad_file_still_exits(self, tmp_path):
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"not an image")
        out = tmp_path / "shot.png"
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ecgviewer",
                "gui",
                str(bad),
                "--screenshot",
                str(out),
                "--settings",
                str(tmp_path / "s.ini"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert out.is_file()

    def test_plain_start_counts_as_shown(self, window):
        assert result_shown(window)  # --screenshot without a file does not wait for anything

    def test_opening_an_image_with_a_sidecar_offers_to_restore_it(
        self, qtbot, opened, tmp_path, small_scan, monkeypatch, errors
    ):
        import shutil

        from PySide6.QtWidgets import QMessageBox

        w = opened
        image = tmp_path / small_scan.name
        shutil.copy(small_scan, image)
        open_and_wait(qtbot, w, image)
        w.apply_settings({"threshold": 0.45})
        qtbot.waitUntil(
            lambda: result_shown(w) and w.doc.digitization.threshold == 0.45, timeout=TIMEOUT_MS
        )
        from ecgviewer.session import sidecar_path

        assert w.save_as("session", sidecar_path(image)), errors
        asked = []
        monkeypatch.setattr(
            QMessageBox,
            "question",
            staticmethod(lambda *a, **k: (asked.append(a[1]), QMessageBox.StandardButton.Yes)[1]),
        )
        w.apply_settings({"threshold": None})
        qtbot.waitUntil(
            lambda: result_shown(w) and w.doc.settings.threshold is None, timeout=TIMEOUT_MS
        )
        open_and_wait(qtbot, w, image)
        assert asked == ["Restore saved session?"]
        assert w.doc.settings.threshold == pytest.approx(0.45)

    def test_size_argument_and_missing_display(self, monkeypatch):
        import argparse

        from ecgviewer.commands.gui import window_size
        from ecgviewer.errors import EcgViewerError
        from ecgviewer.gui.app import check_display

        assert window_size("1600x950") == (1600, 950)
        with pytest.raises(argparse.ArgumentTypeError):
            window_size("12")
        monkeypatch.setattr(sys, "platform", "linux")
        for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
            monkeypatch.delenv(name, raising=False)
        with pytest.raises(EcgViewerError, match="no display"):
            check_display(screenshot=False)
        check_display(screenshot=True)
        assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
