"""What the app remembers between runs (a QSettings ini file): the digitisation settings a
user chooses once (method, paper speed, gain, layout, rhythm lead, perspective) and the
window's geometry, dock state, splitter and view mode."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.errors import EcgViewerError
from ecgviewer.paths import user_data_dir

PREF_FIELDS = (
    "binarize_method",
    "paper_speed_mm_s",
    "gain_mm_mv",
    "layout",
    "rhythm_lead",
    "correct_perspective",
)
DEFAULT_WINDOW_SIZE = (1600, 950)


def default_settings_path() -> Path:
    """Where the app remembers its settings: the per-user data folder."""
    return user_data_dir() / "ecgviewer.ini"


def load_preferences(qsettings: QSettings) -> DigitizeSettings:
    """The default settings with the remembered :data:`PREF_FIELDS` (unreadable ones skipped)."""
    base = DigitizeSettings()
    changes = {}
    for name in PREF_FIELDS:
        value = qsettings.value(f"digitize/{name}")
        if value is None:
            continue
        default = getattr(base, name)
        try:
            if name == "gain_mm_mv":  # "auto" (None) or a number
                value = None if str(value).lower() in ("auto", "none", "") else float(value)
            elif isinstance(default, bool):
                value = value if isinstance(value, bool) else str(value).lower() == "true"
            elif isinstance(default, float):
                value = float(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            continue
        changes[name] = value
    settings = base
    for name, value in changes.items():  # a remembered value outside the ranges: the default
        try:
            settings = dataclasses.replace(settings, **{name: value})
        except EcgViewerError:
            continue
    return settings


def save_preferences(qsettings: QSettings, settings: DigitizeSettings) -> None:
    for name in PREF_FIELDS:
        value = getattr(settings, name)
        qsettings.setValue(f"digitize/{name}", "auto" if value is None else value)


def restore_window(window: QMainWindow, qsettings: QSettings) -> None:
    """Geometry, dock state, splitter (``window.split``) and view mode as last saved."""
    geometry = qsettings.value("window/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_WINDOW_SIZE)
    state = qsettings.value("window/state")
    if isinstance(state, QByteArray):
        window.restoreState(state)
    split = qsettings.value("window/split")
    if isinstance(split, QByteArray):
        window.split.restoreState(split)
    mode = str(qsettings.value("view_mode", "side"))
    window.set_view_mode(mode if mode in window.view_actions else "side")
    arrangement = str(qsettings.value("sheet_arrangement", "paper"))
    window.set_sheet_arrangement(arrangement if arrangement in window.sheet_actions else "paper")


def save_window(window: QMainWindow, qsettings: QSettings) -> None:
    qsettings.setValue("window/geometry", window.saveGeometry())
    qsettings.setValue("window/state", window.saveState())
    qsettings.setValue("window/split", window.split.saveState())
    qsettings.sync()
