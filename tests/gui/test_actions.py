"""The declared menus and save table: every entry reaches the window, the save dialogs start
where they should and pass the chosen format, and the settings panel lists the core's names."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from ecgviewer.digitize.types import BINARIZE_METHODS, LAYOUT_NAMES
from ecgviewer.gui import actions, pipeline
from ecgviewer.gui.controls import LAYOUT_TEXT, METHOD_TEXT
from ecgviewer.gui.exports import SAVES
from ecgviewer.session import sidecar_path

from .test_window import TIMEOUT_MS, fake_result, open_and_wait

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def quick_model(monkeypatch):
    monkeypatch.setattr(pipeline, "classify_signal", lambda s, fs: fake_result(len(s) / fs))


def test_menus_follow_the_table(window):
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == [title for title, _ in actions.MENUS]
    file_menu = window.menuBar().actions()[0].menu()
    texts = [a.text() for a in file_menu.actions() if not a.isSeparator()]
    declared = [i.text for i in actions.MENUS[0][1] if isinstance(i, actions.ActionSpec)]
    assert [t for t in texts if t != "Open &recent"] == declared
    assert window.act_export.statusTip() == "Save the extracted signal as CSV, WFDB or EDF"
    assert set(window.mode_actions) == {"view", "drag", "draw"}
    assert window.mode_actions["view"].isChecked()


def test_no_two_actions_share_a_shortcut(window):
    owners: dict[str, str] = {}
    for act in window.findChildren(QAction):
        for key in {s.toString() for s in act.shortcuts() if s.toString()}:
            assert key not in owners, f"{key}: {owners[key]} and {act.text()}"
            owners[key] = act.text()


def test_every_save_action_names_a_save_kind():
    kinds = {
        item.arg
        for _, items in actions.MENUS
        for item in items
        if isinstance(item, actions.ActionSpec) and item.slot == "save_dialog"
    }
    assert kinds == set(SAVES)


def test_menu_actions_toggle_modes(window):
    window.view_actions["binary"].trigger()
    assert window.image_view.mode == "binary"
    window.act_traces.trigger()
    assert not window.act_traces.isChecked()


def test_save_dialogs_start_beside_the_image_and_pass_the_format(
    qtbot, window, small_scan, tmp_path, monkeypatch, errors
):
    open_and_wait(qtbot, window, small_scan)
    asked = []

    def dialog(parent, caption, start, filters):
        asked.append((caption, start, filters))
        if caption == "Save session":
            return str(tmp_path / "s.json"), filters
        return str(tmp_path / "out.edf"), "EDF (*.edf)"  # the EDF filter, a suffix to match

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    window.act_export.trigger()
    assert (tmp_path / "out.edf").is_file(), errors
    assert asked[-1][0] == "Export signal" and asked[-1][1].endswith(f"{small_scan.stem}.csv")
    window.act_save_session.trigger()
    assert asked[-1][1] == str(sidecar_path(small_scan)) and (tmp_path / "s.json").is_file()
    qtbot.waitUntil(lambda: not window.pipeline.busy, timeout=TIMEOUT_MS)


def test_a_cancelled_save_dialog_writes_nothing(window, monkeypatch):
    saved = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: ("", "")))
    monkeypatch.setattr(window, "save_as", lambda *a: saved.append(a))
    for kind in SAVES:
        window.save_dialog(kind)
    assert not saved


def test_settings_panel_lists_the_core_names(window):
    panel = window.settings_panel
    for box, names, text in (
        (panel.method, BINARIZE_METHODS, METHOD_TEXT),
        (panel.layout_combo, LAYOUT_NAMES, LAYOUT_TEXT),
    ):
        assert [box.itemData(i) for i in range(box.count())] == list(names)
        assert set(text) == set(names)  # every name has its words, none is left over
