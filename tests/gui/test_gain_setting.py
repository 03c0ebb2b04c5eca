"""The gain control offers "auto" (the default: the calibration pulse's gain, else 10 mm/mV),
shows the gain it found, and the choice is remembered."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.gui import pipeline
from ecgviewer.gui.preferences import load_preferences, save_preferences
from tests.gui.test_window import TIMEOUT_MS, fake_result, open_and_wait

pytestmark = pytest.mark.gui


@pytest.fixture
def quick_model(monkeypatch):
    monkeypatch.setattr(pipeline, "classify_signal", lambda s, fs: fake_result(len(s) / fs))


def test_preferences_remember_auto_and_a_number(settings_file):
    q = QSettings(str(settings_file), QSettings.Format.IniFormat)
    for gain in (20.0, None, 5.0, None):
        save_preferences(q, DigitizeSettings(gain_mm_mv=gain))
        q.sync()
        assert load_preferences(q).gain_mm_mv == gain
    q.setValue("digitize/gain_mm_mv", "loud")  # unreadable: the default (auto)
    assert load_preferences(q).gain_mm_mv is None


def test_auto_is_the_default_and_shows_what_it_found(qtbot, window, small_scan, quick_model):
    panel = window.settings_panel
    assert window.doc.settings.gain_mm_mv is None and panel.gain.currentData() is None
    open_and_wait(qtbot, window, small_scan)
    found = window.doc.digitization.calibration.gain_mm_mv
    assert panel.gain.itemText(0) == f"auto ({found:g} mm/mV)"
    panel.gain.setCurrentIndex(panel.gain.findData(20.0))
    qtbot.waitUntil(
        lambda: not window.pipeline.busy
        and window.doc.digitization.calibration.gain_mm_mv == 20.0,
        timeout=TIMEOUT_MS,
    )
    assert panel.gain.itemText(0) == "auto"  # a gain given: auto found nothing to show
    panel.gain.setCurrentIndex(0)
    qtbot.waitUntil(
        lambda: not window.pipeline.busy
        and window.doc.settings.gain_mm_mv is None
        and window.doc.digitization.calibration.gain_mm_mv == found,
        timeout=TIMEOUT_MS,
    )
    assert window.qsettings.value("digitize/gain_mm_mv") == "auto"
