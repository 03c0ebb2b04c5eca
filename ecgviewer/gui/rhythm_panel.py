"""The rhythm result: label, the four class probabilities as bars, heart rate, quality flags,
and the research-use notice (always visible)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ecgviewer import RESEARCH_NOTICE
from ecgviewer.digitize.types import Digitization
from ecgviewer.gui._pg import CLASS_COLOURS
from ecgviewer.rhythm.types import CLASS_NAMES, CLASSES, RhythmResult

NOTICE_STYLE = (
    "background:#fff3cd; color:#5c4400; border:1px solid #e0c36a; border-radius:3px; padding:4px;"
)


def notice_label() -> QLabel:
    """The research-use notice as a yellow banner."""
    label = QLabel(f"⚠ {RESEARCH_NOTICE}")
    label.setWordWrap(True)
    label.setStyleSheet(NOTICE_STYLE)
    label.setObjectName("researchNotice")
    return label


def quality_flags(dig: Digitization | None, result: RhythmResult | None) -> list[str]:
    """Plain-language flags about how far the result can be trusted (no repeats)."""
    flags: list[str] = []
    if result is not None:
        if result.cannot_assess:
            flags.append("Signal quality too poor to assess the rhythm.")
        flags.extend(result.warnings)
    if dig is not None:
        if not dig.calibration.grid_found:
            flags.append(f"No ECG grid found: scale from {dig.calibration.source}.")
        if dig.quality < 0.5:
            flags.append(f"Low digitisation quality ({dig.quality:.2f}).")
        flags.extend(dig.warnings)
    seen: set[str] = set()
    unique = []
    for flag in flags:
        key = flag.strip().rstrip(".").lower()
        if key not in seen:
            seen.add(key)
            unique.append(flag)
    return unique


def result_title(result: RhythmResult) -> str:
    """The headline: the class name, or why the label should not be trusted."""
    name = CLASS_NAMES.get(result.label, result.label)
    if not result.cannot_assess:
        return name
    if result.label == "~":
        return "Cannot assess: too noisy"
    return f"Cannot assess (best guess: {name})"


class RhythmPanel(QWidget):
    """Shows a :class:`RhythmResult` (or why there is none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("–")
        self.label.setObjectName("rhythmLabel")
        self.label.setWordWrap(True)
        font = self.label.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.label.setFont(font)
        self.status = QLabel("No result yet.")
        self.status.setWordWrap(True)
        self.bars: dict[str, QProgressBar] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        for name in CLASSES:
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setFormat("–")
            r, g, b = CLASS_COLOURS[name]
            bar.setStyleSheet(
                "QProgressBar { border:1px solid #bbb; border-radius:2px; text-align:center; height:14px; }"
                f"QProgressBar::chunk {{ background: rgb({r},{g},{b}); }}"
            )
            self.bars[name] = bar
            form.addRow(CLASS_NAMES[name], bar)
        self.heart_rate = QLabel("–")
        self.irregularity = QLabel("–")
        form.addRow("Heart rate", self.heart_rate)
        form.addRow("RR irregularity", self.irregularity)
        self.flags = QLabel("")
        self.flags.setWordWrap(True)
        self.flags.setStyleSheet("color:#8a4b00;")
        self.notice = notice_label()
        for text in (self.label, self.status, self.flags, self.notice):
            # long wrapped texts must not widen the dock: they take the width they are given
            text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            text.setMinimumWidth(120)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        box.addWidget(self.label)
        box.addWidget(self.status)
        box.addLayout(form)
        box.addWidget(self.flags)
        box.addStretch(1)
        box.addWidget(self.notice)

    def show_busy(self, text: str) -> None:
        self.status.setText(text)

    def show_result(
        self, result: RhythmResult | None, error: str | None, dig: Digitization | None
    ) -> None:
        """Show a result, or the reason there is none (``error``), and the quality flags."""
        if result is None:
            self.label.setText("No rhythm result")
            self.label.setStyleSheet("")
            self.status.setText(error or "Not analysed yet.")
            for bar in self.bars.values():
                bar.setValue(0)
                bar.setFormat("–")
            self.heart_rate.setText("–")
            self.irregularity.setText("–")
        else:
            self.label.setText(result_title(result))
            r, g, b = CLASS_COLOURS.get(result.label, (0, 0, 0))
            self.label.setStyleSheet(f"color: rgb({r},{g},{b});")
            self.status.setText(f"Analysed {result.duration_s:.1f} s of the rhythm lead.")
            for name, bar in self.bars.items():
                p = float(result.probabilities.get(name, 0.0))
                bar.setValue(int(round(p * 1000)))
                bar.setFormat(f"{100 * p:.0f} %")
            self.heart_rate.setText(
                "–" if result.heart_rate_bpm is None else f"{result.heart_rate_bpm:.0f} bpm"
            )
            self.irregularity.setText(
                "–" if result.rr_irregularity is None else f"{result.rr_irregularity:.3f}"
            )
        flags = quality_flags(dig, result)
        self.flags.setText("\n".join(f"• {f}" for f in flags))
