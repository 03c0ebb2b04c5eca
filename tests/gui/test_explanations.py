"""What the app tells a reader: each rhythm class explained, heart rate and RR irregularity
with units (hidden when the rhythm cannot be assessed), one "no grid" flag, what to do about
a threshold set too high, and the smaller points (Open filter, page note, CLI spelling)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgviewer.rhythm.types import CLASSES, RhythmResult

pytestmark = pytest.mark.gui


def result(label="O", cannot=False) -> RhythmResult:
    probs = dict(zip(CLASSES, [0.05, 0.03, 0.9, 0.02]))
    return RhythmResult(
        label, probs, np.array([5.0]), np.array([[0.05, 0.03, 0.9, 0.02]]), 64.0, 0.043,
        cannot, 10.0,
    )  # fmt: skip


@pytest.fixture
def panel(qtbot):
    from ecgviewer.gui.rhythm_panel import RhythmPanel

    p = RhythmPanel()
    qtbot.addWidget(p)
    p.show()
    return p


class TestRhythmPanel:
    def test_other_rhythm_is_explained_not_read_as_not_sinus(self, panel):
        panel.show_result(result("O"), None, None)
        text = panel.explanation.text()
        assert "abnormal beats or waveforms" in text and "not by itself mean" in text
        assert panel.explanation.isVisible()
        for name in CLASSES:  # every class has its meaning in a tooltip
            assert len(panel.bars[name].toolTip()) > 30

    def test_rate_and_irregularity_have_units_and_meaning(self, panel):
        panel.show_result(result("N"), None, None)
        assert panel.heart_rate.text() == "64 bpm (from RR intervals)"
        assert panel.irregularity.text() == "4 % of the mean RR (RMSSD)"
        assert "RMSSD" in panel.irregularity.toolTip() and "regular" in panel.irregularity.toolTip()
        assert panel.form.isRowVisible(panel.heart_rate)

    def test_withheld_irregularity_says_why_and_the_rate_has_a_caveat(self, panel):
        """The reason comes from the rhythm reader (``rhythm.qrs.assess_rr`` via ``extra``),
        not guessed by the panel from the beat count."""
        from ecgviewer.rhythm.qrs import assess_rr

        def shown(peaks, fs=100.0, traced=None):
            a = assess_rr(np.asarray(peaks), fs, traced)
            res = dataclasses.replace(
                result("N"), heart_rate_bpm=a.heart_rate_bpm, rr_irregularity=a.irregularity,
                extra=a.summary(),  # as rhythm.infer.classify passes it on
            )  # fmt: skip
            panel.show_result(res, None, None)
            return panel.heart_rate.text(), panel.irregularity.text()

        peaks = np.round(np.arange(0.5, 20, 0.8) * 100).astype(int)
        rate, irr = shown(np.delete(peaks, [3, 6, 9, 12, 15, 18]))  # every third beat missed
        assert rate.endswith("bpm (from RR intervals; beat detection uncertain)")
        assert irr == "not shown: beat detection inconsistent (likely missed or extra beats)"
        assert shown(peaks[:4]) == ("75 bpm (from 3 RR intervals only)",
                                    "not shown: too few beats to judge (3 RR intervals)")  # fmt: skip
        traced = np.ones(2000, bool)
        traced[400:1600] = False  # 12 s of the page not traced
        rate, irr = shown(peaks[(peaks < 400) | (peaks >= 1600)], traced=traced)
        assert rate == "75 bpm (from 8 RR intervals; those across gaps in the trace left out)"
        assert irr.startswith("< 1 %")
        assert shown(peaks[:2]) == ("not measured: fewer than 3 beats found", "–")
        tiny = dataclasses.replace(result("N"), rr_irregularity=0.001)
        panel.show_result(tiny, None, None)
        assert panel.irregularity.text() == "< 1 % of the mean RR (RMSSD)"

    def test_cannot_assess_hides_rate_and_irregularity(self, panel):
        panel.show_result(result("A", cannot=True), None, None)
        assert not panel.form.isRowVisible(panel.heart_rate)
        assert not panel.form.isRowVisible(panel.irregularity)
        assert "only a guess" in panel.explanation.text()
        panel.show_result(result("~", cannot=True), None, None)
        assert "too noisy" in panel.explanation.text()
        panel.show_result(result("N"), None, None)
        assert panel.form.isRowVisible(panel.irregularity)

    def test_one_no_grid_flag_and_review_reasons(self):
        from ecgviewer.gui.rhythm_panel import quality_flags

        from .test_model_and_workers import _dig

        dig = _dig()
        cal = dataclasses.replace(dig.calibration, grid_found=False, source="dpi")
        dig = dataclasses.replace(
            dig,
            calibration=cal,
            warnings=("no ECG grid found: scale taken from the image resolution (200 dpi)",),
            review_reasons=("3 heartbeat(s) found",),
            quality=0.9,
        )
        flags = quality_flags(dig, None)
        assert sum("grid" in f.lower() for f in flags) == 1
        assert flags[0] == "Needs review: 3 heartbeat(s) found"


class TestAdvice:
    def test_too_high_a_threshold_says_lower_it(self):
        from ecgviewer.gui.main_window import failure_advice

        err = "no row of trace long enough to be an ECG"
        assert "lower the threshold" in failure_advice(err, 0.93)
        assert failure_advice(err, None) == err  # automatic threshold: nothing to lower

    def test_failed_digitisation_keeps_the_page_visible_with_the_reason(
        self, qtbot, window, tmp_path, errors, monkeypatch
    ):
        from PIL import Image

        from ecgviewer.gui import pipeline
        from ecgviewer.gui.app import result_shown

        monkeypatch.setattr(pipeline, "classify_signal", lambda s, fs: None)
        blank = tmp_path / "blank.png"
        Image.new("RGB", (900, 600), (255, 255, 255)).save(blank)
        window.set_view_mode("binary")
        assert window.open_file(blank)
        qtbot.waitUntil(lambda: result_shown(window), timeout=60_000)
        iv = window.image_view
        assert iv.page_item.isVisible() and iv.notes[0].isVisible()
        assert "No binary image" in iv.notes[0].toPlainText()


class TestSmallPoints:
    def test_open_dialog_offers_webp(self):
        from ecgviewer.gui.opening import IMAGE_FILTER

        assert "*.webp" in IMAGE_FILTER

    def test_digitise_spelling_is_a_command(self):
        from ecgviewer.cli import build_parser

        args = build_parser().parse_args(["digitise", "scan.png", "-o", "out"])
        assert args._run.__module__ == "ecgviewer.commands.digitize"

    def test_screenshot_window_does_not_remember_its_size(self, qtbot, settings_file):
        from ecgviewer.gui.main_window import MainWindow

        w = MainWindow(settings_path=settings_file, interactive=False)
        qtbot.addWidget(w)
        w.resize(640, 480)
        w.close()
        assert w.qsettings.value("window/geometry") is None

    def test_a_multi_page_file_opened_without_asking_says_which_page(
        self, qtbot, settings_file, small_scan, tmp_path, monkeypatch
    ):
        from PIL import Image

        from ecgviewer.gui import pipeline
        from ecgviewer.gui.app import result_shown
        from ecgviewer.gui.main_window import MainWindow

        from .test_window import fake_result

        monkeypatch.setattr(pipeline, "classify_signal", lambda s, fs: fake_result(len(s) / fs))
        pdf = tmp_path / "two.pdf"
        with Image.open(small_scan) as im:
            page = im.convert("RGB")
            page.save(pdf, save_all=True, append_images=[page], resolution=72)
        w = MainWindow(settings_path=settings_file, interactive=False)
        qtbot.addWidget(w)
        try:
            assert w.open_file(pdf)
            assert "2 pages: showing page 1" in w.statusBar().currentMessage()
            qtbot.waitUntil(lambda: result_shown(w), timeout=60_000)
            assert "2 pages: showing page 1" in w.file_label.text()  # stays in the status bar
        finally:
            w.shutdown()
