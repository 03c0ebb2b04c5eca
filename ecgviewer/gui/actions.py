"""The window's menus and toolbar, declared as tables and built by :func:`build_actions`.

Each menu is a list of items: an :class:`ActionSpec` (one QAction wired to a window method), a
:class:`ChoiceGroup` (exclusive checkable actions, one per value) or a marker string for the
few actions Qt makes itself (``"undo"``, ``"docks"``), the recent-files submenu (``"recent"``)
and separators (``"-"``). Slots and attributes are named by string and looked up on the window,
so the tables hold no Qt objects and read like the menus they describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

Shortcut = str | QKeySequence.StandardKey | None
Key = QKeySequence.StandardKey


@dataclass(frozen=True)
class ActionSpec:
    """One menu action: ``slot`` is a (dotted) window attribute it calls (with ``arg`` when
    given), ``attr`` the window attribute that keeps it (None: not kept). A checkable action
    calls ``slot(checked)`` on toggle."""

    text: str
    slot: str
    attr: str | None = None
    shortcut: Shortcut = None
    tip: str = ""
    checked: bool | None = None  # None: not checkable
    arg: str | None = None  # passed to ``slot`` (e.g. which export)


@dataclass(frozen=True)
class ChoiceGroup:
    """Exclusive checkable actions: ``slot(value)`` on trigger, kept as ``{value: action}`` in
    the window attribute ``attr``; ``default`` starts checked."""

    attr: str
    slot: str
    choices: tuple[tuple[str, str, str], ...]  # (value, text, shortcut)
    default: str | None = None


EDIT_MODES = ChoiceGroup(
    "mode_actions",
    "waveform.set_mode",
    (
        ("view", "&Zoom and pan", "V"),
        ("drag", "&Move trace points", "M"),
        ("draw", "Re&draw trace segment", "D"),
    ),
    default="view",
)
VIEW_MODES = ChoiceGroup(
    "view_actions",
    "set_view_mode",
    (
        ("side", "Scan &beside binary", "1"),
        ("scan", "&Scan", "2"),
        ("binary", "&Binary image", "3"),
        ("both", "Scan &+ binary", "4"),
    ),
)
SHEET_ARRANGEMENTS = ChoiceGroup(
    "sheet_actions",
    "set_sheet_arrangement",
    (("paper", "Waveform as &printed", "P"), ("rows", "Waveform &one lead per row", "L")),
    default="paper",
)

MENUS: tuple[tuple[str, tuple], ...] = (
    (
        "&File",
        (
            ActionSpec("&Open…", "open_dialog", "act_open", Key.Open, "Open an ECG image or PDF"),
            "recent",
            "-",
            ActionSpec("Open &session…", "open_session_dialog", "act_open_session", "Ctrl+Shift+O"),
            ActionSpec(
                "&Save session…", "save_dialog", "act_save_session", Key.Save, arg="session"
            ),
            "-",
            ActionSpec(
                "&Export signal…",
                "save_dialog",
                "act_export",
                "Ctrl+E",
                "Save the extracted signal as CSV, WFDB or EDF",
                arg="signal",
            ),
            ActionSpec(
                "Export &report…",
                "save_dialog",
                "act_report",
                "Ctrl+R",
                "One-page PNG or PDF report",
                arg="report",
            ),
            ActionSpec(
                "Export s&ummary (JSON)…",
                "save_dialog",
                "act_summary",
                tip="Calibration, layout, leads, rhythm result and settings as JSON",
                arg="summary",
            ),
            ActionSpec(
                "Export &overlay image (PNG)…",
                "save_dialog",
                "act_overlay",
                tip="The page with the extracted traces drawn on it",
                arg="overlay",
            ),
            "-",
            ActionSpec("&Quit", "close", shortcut=Key.Quit),
        ),
    ),
    (
        "&Edit",
        (
            "undo",
            "-",
            EDIT_MODES,
            "-",
            ActionSpec("Reset &crop", "reset_crop", shortcut="Ctrl+Shift+R"),
        ),
    ),
    (
        "&View",
        (
            VIEW_MODES,
            "-",
            SHEET_ARRANGEMENTS,
            "-",
            ActionSpec(
                "Extracted &traces on the image",
                "image_view.set_show_traces",
                "act_traces",
                "T",
                checked=True,
            ),
            "-",
            "docks",
        ),
    ),
    (
        "&Analysis",
        (
            ActionSpec("&Digitise again", "redigitize_action", "act_redigitize", "F5"),
            ActionSpec("Read &rhythm", "run_rhythm", "act_rhythm", "F6"),
            ActionSpec("&Cancel", "cancel", "act_cancel", "Esc"),
        ),
    ),
    (
        "&Help",
        (
            ActionSpec("&Keyboard shortcuts", "show_shortcuts", shortcut=Key.HelpContents),
            ActionSpec("&About ECG Viewer", "show_about"),
        ),
    ),
)

# the toolbar: window attributes holding an action or a {value: action} group; "-" separates
TOOLBAR = (
    "act_open",
    "act_save_session",
    "act_export",
    "act_report",
    "-",
    "act_undo",
    "act_redo",
    "-",
    "mode_actions",
    "-",
    "view_actions",
    "-",
    "act_redigitize",
    "act_rhythm",
)


def build_actions(window: QMainWindow) -> None:
    """Create the menus of :data:`MENUS` and the toolbar of :data:`TOOLBAR` on ``window``
    (which provides the slots, ``undo_stack`` and the two docks)."""
    for title, items in MENUS:
        menu = window.menuBar().addMenu(title)
        for item in items:
            _add_item(window, menu, item)
    bar = window.addToolBar("Main")
    bar.setObjectName("mainToolbar")
    bar.setMovable(False)
    for name in TOOLBAR:
        if name == "-":
            bar.addSeparator()
            continue
        kept = getattr(window, name)
        bar.addActions(list(kept.values()) if isinstance(kept, dict) else [kept])
    window._rebuild_recent_menu()


def _add_item(window: QMainWindow, menu: QMenu, item) -> None:
    if isinstance(item, ActionSpec):
        menu.addAction(_make_action(window, item))
    elif isinstance(item, ChoiceGroup):
        _add_choices(window, menu, item)
    elif item == "-":
        menu.addSeparator()
    elif item == "recent":
        window.recent_menu = menu.addMenu("Open &recent")
    elif item == "undo":
        window.act_undo = window.undo_stack.createUndoAction(window, "&Undo")
        window.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        window.act_redo = window.undo_stack.createRedoAction(window, "&Redo")
        window.act_redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        menu.addActions([window.act_undo, window.act_redo])
    elif item == "docks":
        menu.addActions(
            [window.settings_dock.toggleViewAction(), window.rhythm_dock.toggleViewAction()]
        )
    else:
        raise ValueError(f"unknown menu item {item!r}")


def _make_action(window: QMainWindow, spec: ActionSpec) -> QAction:
    act = QAction(spec.text, window)
    if spec.shortcut is not None:
        act.setShortcut(QKeySequence(spec.shortcut))
    if spec.tip:
        act.setStatusTip(spec.tip)
    slot = attrgetter(spec.slot)(window)
    if spec.arg is not None:
        act.triggered.connect(lambda _=False, slot=slot, arg=spec.arg: slot(arg))
    elif spec.checked is None:
        act.triggered.connect(slot)
    else:
        act.setCheckable(True)
        act.setChecked(spec.checked)
        act.toggled.connect(slot)
    if spec.attr is not None:
        setattr(window, spec.attr, act)
    return act


def _add_choices(window: QMainWindow, menu: QMenu, group: ChoiceGroup) -> None:
    exclusive = QActionGroup(window)
    slot = attrgetter(group.slot)(window)
    actions = {}
    for value, text, key in group.choices:
        act = QAction(text, window, checkable=True)
        act.setShortcut(QKeySequence(key))
        act.triggered.connect(lambda _=False, value=value: slot(value))
        exclusive.addAction(act)
        menu.addAction(act)
        actions[value] = act
    if group.default is not None:
        actions[group.default].setChecked(True)
    setattr(window, group.attr, actions)
