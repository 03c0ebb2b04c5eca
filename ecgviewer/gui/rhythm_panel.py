"""The rhythm result: label with a line saying what the class means, the four class
probabilities as bars (each explained in its tooltip), heart rate and RR irregularity with
units (hidden when the rhythm cannot be assessed), quality flags, and the research-use notice
(always visible)."""

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


# what each class means, in words a clinician reads as intended (CinC 2017's four classes)
CLASS_HELP = {
    "N": (
        "Regular beats from the sinus node (the CinC 2017 'normal' class). The class does "
        "not judge the rate: see the heart rate."
    ),
    "A": "Atrial fibrillation: irregularly irregular beats without P waves.",
    "O": (
        "Neither normal sinus rhythm nor AF, as the PhysioNet/CinC 2017 data define it: other "
        "arrhythmias, but also abnormal beats or waveforms (ectopic beats, conduction "
        "changes, ST changes) on a rhythm that may well be sinus. It does not by itself mean "
        "the rhythm is not sinus."
    ),
    "~": "The signal is too noisy or too short to classify.",
}
HEART_RATE_HELP = "Beats per minute, from the median interval between detected beats (RR)."
IRREGULARITY_HELP = (
    "How much consecutive RR intervals differ: RMSSD divided by the mean RR, in % of the mean "
    "interval. Near 0 % is regular; atrial fibrillation typically gives high values. "
    "Differences far larger than the typical one are left out, so one missed or extra beat "
    "does not make a regular rhythm look irregular, and intervals across a gap in the traced "
    "signal are not counted. It is not shown when the detected beats are too few or too "
    "inconsistent to trust; the reason is given instead."
)


def rate_texts(result: RhythmResult) -> tuple[str, str]:
    """(heart rate, RR irregularity) as shown to a reader: a value with its unit, or why
    there is none. The rhythm reader withholds the irregularity (None) when the beats are too
    few or inconsistent, with its reason, while it may still give the rate (the median RR):
    then the rate says what it rests on."""
    hr, irr = result.heart_rate_bpm, result.rr_irregularity
    reason = result.extra.get("rr_reason") or ""
    if hr is None:
        return (f"not measured: {reason}" if reason else "–"), "–"
    n_rr = result.extra.get("n_rr")
    if irr is not None:
        pct = "< 1 %" if irr < 0.005 else f"{100 * irr:.0f} %"
        rate = f"{hr:.0f} bpm (from RR intervals)"
        if result.extra.get("rr_across_gaps") and n_rr is not None:
            rate = (
                f"{hr:.0f} bpm (from {n_rr} RR intervals; those across gaps in the trace left out)"
            )
        return rate, f"{pct} of the mean RR (RMSSD)"
    if not result.extra.get("beats_consistent", True):
        rate = f"{hr:.0f} bpm (from RR intervals; beat detection uncertain)"
    elif n_rr is not None:
        rate = f"{hr:.0f} bpm (from {n_rr} RR intervals only)"
    else:
        rate = f"{hr:.0f} bpm (from RR intervals)"
    return rate, f"not shown: {reason}" if reason else "not shown"


def _is_grid_warning(text: str) -> bool:
    low = text.lower()
    return "no ecg grid" in low or "no grid found" in low


def quality_flags(dig: Digitization | None, result: RhythmResult | None) -> list[str]:
    """Plain-language flags about how far the result can be trusted (no repeats)."""
    flags: list[str] = []
    if dig is not None:  # first: the digitisation's self-checks say it cannot be right as is
        flags.extend(f"Needs review: {reason}" for reason in dig.review_reasons)
    if result is not None:
        if result.cannot_assess:
            flags.append("Signal quality too poor to assess the rhythm.")
        flags.extend(result.warnings)
    if dig is not None:
        # one "no grid" flag: the digitiser's own warning says it with the scale it used
        if not dig.calibration.grid_found and not any(map(_is_grid_warning, dig.warnings)):
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
            label = QLabel(CLASS_NAMES[name])
            for widget in (label, bar):
                widget.setToolTip(f"{CLASS_NAMES[name]}: {CLASS_HELP[name]}")
            form.addRow(label, bar)
        self.heart_rate = QLabel("–")
        self.irregularity = QLabel("–")
        for title, value, help_text in (
            ("Heart rate", self.heart_rate, HEART_RATE_HELP),
            ("RR irregularity", self.irregularity, IRREGULARITY_HELP),
        ):
            label = QLabel(title)
            label.setToolTip(help_text)
            value.setToolTip(help_text)
            value.setWordWrap(True)  # "not shown: ..." must not widen the dock
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            form.addRow(label, value)
        self.form = form
        self.explanation = QLabel("")
        self.explanation.setObjectName("classExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setStyleSheet("color:#444;")
        self.flags = QLabel("")
        self.flags.setWordWrap(True)
        self.flags.setStyleSheet("color:#8a4b00;")
        self.notice = notice_label()
        for text in (self.label, self.explanation, self.status, self.flags, self.notice):
            # long wrapped texts must not widen the dock: they take the width they are given
            text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            text.setMinimumWidth(120)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        box.addWidget(self.label)
        box.addWidget(self.explanation)
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
            self.explanation.setText("")
            self.status.setText(error or "Not analysed yet.")
            for bar in self.bars.values():
                bar.setValue(0)
                bar.setFormat("–")
            self.heart_rate.setText("–")
            self.irregularity.setText("–")
            self._show_rates(True)
        else:
            self.label.setText(result_title(result))
            r, g, b = CLASS_COLOURS.get(result.label, (0, 0, 0))
            self.label.setStyleSheet(f"color: rgb({r},{g},{b});")
            self.status.setText(f"Analysed {result.duration_s:.1f} s of the rhythm lead.")
            for name, bar in self.bars.items():
                p = float(result.probabilities.get(name, 0.0))
                bar.setValue(int(round(p * 1000)))
                bar.setFormat(f"{100 * p:.0f} %")
            self.explanation.setText(
                "The signal is too poor for a reliable reading: the class above is only a guess."
                if result.cannot_assess and result.label != "~"
                else CLASS_HELP.get(result.label, "")
            )
            rate, irregularity = rate_texts(result)
            self.heart_rate.setText(rate)
            self.irregularity.setText(irregularity)
            self._show_rates(not result.cannot_assess)  # no rate from a signal too poor to read
        flags = quality_flags(dig, result)
        self.flags.setText("\n".join(f"• {f}" for f in flags))

    def _show_rates(self, show: bool) -> None:
        for value in (self.heart_rate, self.irregularity):
            self.form.setRowVisible(value, show)
