"""The settings panel: rotation, binarisation (live threshold), calibration, layout.

The panel only reports what the user changed (:attr:`SettingsPanel.settings_edited`, a dict
of :class:`~ecgviewer.digitize.types.DigitizeSettings` fields) and the threshold while the
slider moves (:attr:`SettingsPanel.threshold_moving`); the window decides what to recompute.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.digitize.types import (
    BINARIZE_METHODS,
    LAYOUT_NAMES,
    Digitization,
    DigitizeSettings,
)
from ecgviewer.paper import STANDARD_LEADS

# what the menus show for the core's names (the names and their order come from the core)
METHOD_TEXT = {
    "auto": "Automatic",
    "modified_otsu": "Modified Otsu",
    "otsu": "Otsu",
    "adaptive": "Adaptive",
    "manual": "Manual",
}
LAYOUT_TEXT = {
    "auto": "Automatic",
    "single": "Single-lead strip",
    "3x4+1": "3×4 + rhythm strip",
    "3x4+3": "3×4 + 3 rhythm strips",
    "3x4": "3×4",
    "6x2": "6×2",
    "12x1": "12×1",
}
SLIDER_STEPS = 1000
COMMIT_DELAY_MS = 350  # re-digitise this long after the last slider/spin change


def _combo(items) -> QComboBox:
    box = QComboBox()
    for value, text in items:
        box.addItem(text, value)
    return box


def _named_combo(names: tuple[str, ...], text: dict[str, str]) -> QComboBox:
    """A choice of the core's ``names``, shown by their ``text`` (the name itself if missing)."""
    return _combo((name, text.get(name, name)) for name in names)


def _select(box: QComboBox, value) -> None:
    i = box.findData(value)
    if i >= 0:
        box.setCurrentIndex(i)


def _form(title: str, rows) -> QGroupBox:
    """A titled group of (label, widget or layout) rows."""
    group = QGroupBox(title)
    form = QFormLayout(group)
    for label, field in rows:
        form.addRow(label, field)
    return group


def _row(main: QWidget, side: QWidget) -> QHBoxLayout:
    """``main`` stretched, ``side`` (a checkbox or value label) beside it."""
    row = QHBoxLayout()
    row.addWidget(main, 1)
    row.addWidget(side)
    return row


class SettingsPanel(QWidget):
    """Controls for every :class:`DigitizeSettings` field a user may want to fix by hand."""

    settings_edited = Signal(dict)
    threshold_moving = Signal(str, float)  # method, threshold (0..1)
    reset_crop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        self._commit_timer = QTimer(self)
        self._commit_timer.setSingleShot(True)
        self._commit_timer.setInterval(COMMIT_DELAY_MS)
        self._commit_timer.timeout.connect(self._commit_threshold)
        self._pending: dict = {}
        groups = (
            self._page_group(),
            self._binarisation_group(),
            self._calibration_group(),
            self._layout_group(),
        )
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        for group in groups:
            box.addWidget(group)
        box.addStretch(1)
        self._connect_edits()

    # -- building -----------------------------------------------------------------------------
    def _page_group(self) -> QGroupBox:
        self.rotation_auto = QCheckBox("automatic")
        self.rotation = QDoubleSpinBox()
        self.rotation.setRange(-45.0, 45.0)
        self.rotation.setSingleStep(0.1)
        self.rotation.setDecimals(2)
        self.rotation.setSuffix(" °")
        self.rotation.setKeyboardTracking(False)
        self.perspective = QCheckBox("correct perspective (photos)")
        self.reset_crop = QPushButton("Reset crop")
        return _form(
            "Page",
            (
                ("Rotation", _row(self.rotation, self.rotation_auto)),
                ("", self.perspective),
                ("Crop", self.reset_crop),
            ),
        )

    def _binarisation_group(self) -> QGroupBox:
        self.method = _named_combo(BINARIZE_METHODS, METHOD_TEXT)
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, SLIDER_STEPS)
        self.threshold.setPageStep(20)
        self.threshold_label = QLabel("auto")
        self.threshold_label.setMinimumWidth(40)
        return _form(
            "Binarisation",
            (("Method", self.method), ("Threshold", _row(self.threshold, self.threshold_label))),
        )

    def _calibration_group(self) -> QGroupBox:
        self.speed = _combo(((25.0, "25 mm/s"), (50.0, "50 mm/s")))
        self.gain = _combo(
            ((None, "auto"), (5.0, "5 mm/mV"), (10.0, "10 mm/mV"), (20.0, "20 mm/mV"))
        )  # auto (None): the calibration pulse's, else 10
        self.detected = QLabel("–")
        self.px_override = QCheckBox("override")
        self.px_per_mm = QDoubleSpinBox()
        self.px_per_mm.setRange(0.5, 200.0)
        self.px_per_mm.setDecimals(2)
        self.px_per_mm.setSuffix(" px/mm")
        self.px_per_mm.setKeyboardTracking(False)
        self.px_per_mm.setEnabled(False)
        return _form(
            "Calibration",
            (
                ("Paper speed", self.speed),
                ("Gain", self.gain),
                ("Detected", self.detected),
                ("Scale", _row(self.px_per_mm, self.px_override)),
            ),
        )

    def _layout_group(self) -> QGroupBox:
        self.layout_combo = _named_combo(LAYOUT_NAMES, LAYOUT_TEXT)
        self.rhythm_lead = _combo((name, name) for name in STANDARD_LEADS)
        return _form("Layout", (("Layout", self.layout_combo), ("Rhythm lead", self.rhythm_lead)))

    def _connect_edits(self) -> None:
        """Every control reports its change as a settings edit (the slider also previews)."""
        self.rotation_auto.toggled.connect(self._on_rotation_auto)
        self.rotation.valueChanged.connect(lambda v: self._edit(rotation_deg=float(v)))
        self.perspective.toggled.connect(lambda on: self._edit(correct_perspective=bool(on)))
        self.reset_crop.clicked.connect(self.reset_crop_requested)
        self.method.currentIndexChanged.connect(self._on_method)
        self.threshold.valueChanged.connect(self._on_threshold)
        self.speed.currentIndexChanged.connect(
            lambda _: self._edit(paper_speed_mm_s=self.speed.currentData())
        )
        self.gain.currentIndexChanged.connect(
            lambda _: self._edit(gain_mm_mv=self.gain.currentData())
        )
        self.px_override.toggled.connect(self._on_override)
        self.px_per_mm.valueChanged.connect(lambda v: self._edit(px_per_mm=float(v)))
        self.layout_combo.currentIndexChanged.connect(
            lambda _: self._edit(layout=self.layout_combo.currentData())
        )
        self.rhythm_lead.currentIndexChanged.connect(
            lambda _: self._edit(rhythm_lead=self.rhythm_lead.currentData())
        )

    # -- showing state ------------------------------------------------------------------------
    def show_settings(self, settings: DigitizeSettings, dig: Digitization | None) -> None:
        """Fill the controls from the settings, and the automatic values from ``dig``."""
        self._updating = True
        try:
            rot = (
                settings.rotation_deg
                if settings.rotation_deg is not None
                else (dig.rotation_deg if dig else 0.0)
            )
            self.rotation_auto.setChecked(settings.rotation_deg is None)
            self.rotation.setValue(float(rot))
            self.rotation.setEnabled(settings.rotation_deg is not None)
            self.perspective.setChecked(settings.correct_perspective)
            _select(self.method, settings.binarize_method)
            thr = (
                settings.threshold
                if settings.threshold is not None
                else (dig.threshold if dig else None)
            )
            if (
                thr is not None
                and not self.threshold.isSliderDown()
                and not self._commit_timer.isActive()
            ):
                self.threshold.setValue(int(round(thr * SLIDER_STEPS)))
            self.threshold_label.setText("auto" if thr is None else f"{thr:.3f}")
            _select(self.speed, float(settings.paper_speed_mm_s))
            gain = settings.gain_mm_mv
            _select(self.gain, None if gain is None else float(gain))
            found = dig.calibration.gain_mm_mv if dig is not None and gain is None else None
            self.gain.setItemText(0, "auto" if found is None else f"auto ({found:g} mm/mV)")
            if dig is not None:
                c = dig.calibration
                self.detected.setText(
                    f"{c.px_per_mm_x:.2f} × {c.px_per_mm_y:.2f} px/mm ({c.source})"
                )
            else:
                self.detected.setText("–")
            self.px_override.setChecked(settings.px_per_mm is not None)
            self.px_per_mm.setEnabled(settings.px_per_mm is not None)
            if settings.px_per_mm is not None:
                self.px_per_mm.setValue(settings.px_per_mm)
            elif dig is not None:
                self.px_per_mm.setValue(dig.calibration.px_per_mm_x)
            _select(self.layout_combo, settings.layout)
            _select(self.rhythm_lead, settings.rhythm_lead)
        finally:
            self._updating = False

    # -- user edits ---------------------------------------------------------------------------
    def _edit(self, **changes) -> None:
        if not self._updating:
            self.settings_edited.emit(changes)

    def _on_rotation_auto(self, auto: bool) -> None:
        self.rotation.setEnabled(not auto)
        self._edit(rotation_deg=None if auto else float(self.rotation.value()))

    def _on_override(self, on: bool) -> None:
        self.px_per_mm.setEnabled(on)
        self._edit(px_per_mm=float(self.px_per_mm.value()) if on else None)

    def _on_method(self, _index: int) -> None:
        # a new method starts from its own automatic threshold, except "manual"
        method = self.method.currentData()
        thr = self.threshold.value() / SLIDER_STEPS if method == "manual" else None
        self._edit(binarize_method=method, threshold=thr)

    def _on_threshold(self, value: int) -> None:
        thr = value / SLIDER_STEPS
        self.threshold_label.setText(f"{thr:.3f}")
        if self._updating:
            return
        self.threshold_moving.emit(self.method.currentData(), thr)
        self._pending = {"threshold": thr}
        self._commit_timer.start()

    def _commit_threshold(self) -> None:
        if self._pending:
            changes, self._pending = self._pending, {}
            self.settings_edited.emit(changes)

    def flush(self) -> None:
        """Send a threshold change still waiting for its delay (used by tests and on close)."""
        if self._commit_timer.isActive():
            self._commit_timer.stop()
            self._commit_threshold()
