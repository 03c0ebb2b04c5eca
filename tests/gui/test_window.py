"""The main window on real scans: open, live threshold and crop, worker threads, rhythm,
hand corrections with undo, bad files, closing mid-inference."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from ecgviewer.digitize.binarize import binarize, binarize_preview
from ecgviewer.digitize.types import CropBox
from ecgviewer.gui import pipeline
from ecgviewer.gui.app import result_shown
from ecgviewer.rhythm.types import CLASSES, RhythmResult

pytestmark = pytest.mark.gui

TIMEOUT_MS = 60_000


def fake_result(duration_s: float = 10.0) -> RhythmResult:
    t = np.arange(1.0, duration_s, 2.0)
    probs = np.tile([0.7, 0.1, 0.15, 0.05], (len(t), 1))
    return RhythmResult(
        "N", dict(zip(CLASSES, [0.7, 0.1, 0.15, 0.05])), t, probs, 72.0, 0.05, False, duration_s
    )


@pytest.fixture
def slow_model(monkeypatch):
    """A stand-in rhythm model that takes ~1.5 s (in small sleeps), to test responsiveness."""
    calls = []

    def classify(signal_mv, fs_hz):
        calls.append(len(signal_mv))
        for _ in range(30):
            time.sleep(0.05)
        return fake_result(len(signal_mv) / fs_hz)

    monkeypatch.setattr(pipeline, "classify_signal", classify)
    return calls


@pytest.fixture
def quick_model(monkeypatch):
    monkeypatch.setattr(pipeline, "classify_signal", lambda s, fs: fake_result(len(s) / fs))


def open_and_wait(qtbot, window, path, **kw) -> None:
    assert window.open_file(path, **kw)
    qtbot.waitUntil(lambda: result_shown(window), timeout=TIMEOUT_MS)


class TestOpening:
    def test_real_scan_shows_page_waveform_and_rhythm(self, qtbot, window, small_scan, quick_model):
        open_and_wait(qtbot, window, small_scan)
        doc = window.doc
        assert doc.image is not None and Path(doc.image.path) == small_scan
        dig = doc.digitization
        assert dig is not None and len(dig.leads) >= 1
        assert {tr.index for tr in window.waveform.traces} == set(range(len(dig.leads)))
        assert window.image_view.page_item.image.shape[:2] == dig.image_rgb.shape[:2]
        assert window.image_view.binary_item.image.shape == dig.binary.shape
        assert len(window.image_view.trace_items) >= 1
        assert window.rhythm_panel.label.text() == "Normal sinus rhythm"
        assert window.rhythm_panel.bars["N"].value() == 700
        assert "not a medical device" in window.banner.text()
        assert "not a medical device" in window.rhythm_panel.notice.text()
        assert window.rhythm_panel.notice.isVisible()
        # recent files remembered in the settings file
        assert window._recent()[0] == str(small_scan.resolve())

    def test_real_model_or_a_clear_message(self, qtbot, window, small_scan):
        open_and_wait(qtbot, window, small_scan)
        doc = window.doc
        if doc.rhythm is None:
            assert doc.rhythm_error and window.rhythm_panel.status.text() == doc.rhythm_error
        else:
            assert doc.rhythm.label in CLASSES
            assert sum(doc.rhythm.probabilities.values()) == pytest.approx(1.0, abs=1e-3)

    def test_page_without_trace_shows_the_reason(
        self, qtbot, window, tmp_path, quick_model, errors
    ):
        from PIL import Image

        blank = tmp_path / "blank.png"
        Image.new("RGB", (900, 600), (255, 255, 255)).save(blank)
        open_and_wait(qtbot, window, blank)
        assert window.doc.digitization is None and window.doc.digitize_error
        assert window.waveform.placeholder.isVisible()
        assert window.doc.digitize_error in window.waveform.placeholder.text()
        assert errors == []  # not a modal error: the page itself was fine

    def test_bad_file_shows_a_dialog_and_keeps_the_document(
        self, qtbot, window, small_scan, tmp_path, quick_model, errors
    ):
        open_and_wait(qtbot, window, small_scan)
        before_image, before_dig = window.doc.image, window.doc.digitization
        bad = tmp_path / "broken.png"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
        window.open_file(bad)
        qtbot.waitUntil(lambda: bool(errors), timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: not window.pipeline.busy, timeout=TIMEOUT_MS)
        assert "broken.png" in errors[0][0] + errors[0][1]
        assert window.doc.image is before_image and window.doc.digitization is before_dig
        assert {tr.index for tr in window.waveform.traces} == set(range(len(before_dig.leads)))
        missing = tmp_path / "missing.png"
        window.open_file(missing)
        assert len(errors) == 2 and window.doc.image is before_image

    def test_drop_a_file_opens_it(self, qtbot, window, small_scan, quick_model):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(small_scan))])
        event = QDropEvent(
            QPointF(50, 50),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        window.dropEvent(event)
        qtbot.waitUntil(lambda: result_shown(window), timeout=TIMEOUT_MS)
        assert Path(window.doc.image.path) == small_scan

    def test_pdf_page_chooser(self, qtbot, window, small_scan, tmp_path, quick_model, monkeypatch):
        from PIL import Image
        from PySide6.QtWidgets import QInputDialog

        pdf = tmp_path / "two.pdf"
        page = Image.open(small_scan).convert("RGB")
        page.save(pdf, save_all=True, append_images=[page.copy()], resolution=100)
        asked = []
        monkeypatch.setattr(
            QInputDialog,
            "getInt",
            staticmethod(lambda *a, **k: (asked.append(a[3:]), (2, True))[1]),
        )
        open_and_wait(qtbot, window, pdf)
        assert asked and window.doc.image.page == 1 and window.doc.image.n_pages == 2
        assert "page 2/2" in window.windowTitle()


class TestLiveSettings:
    def test_threshold_slider_updates_the_preview_then_redigitises(
        self, qtbot, window, small_scan, quick_model
    ):
        open_and_wait(qtbot, window, small_scan)
        panel = window.settings_panel
        auto = window.doc.digitization.threshold
        new = round(max(0.05, auto - 0.1), 3)
        with qtbot.waitSignal(window.preview_shown, timeout=TIMEOUT_MS):
            panel.threshold.setValue(round(new * 1000))  # below the automatic one: more ink
        preview = window.image_view.binary_item.image
        method = window.doc.settings.binarize_method
        region, _crop = window.doc.darkness_crop(None, method)
        # "auto" previews its map (the segmenter's probability), not the final binary image
        assert int(preview.sum()) > int(binarize_preview(region, method, auto).sum())
        expected = binarize_preview(region, method, new)
        np.testing.assert_array_equal(preview.astype(bool), expected)
        panel.flush()  # the delayed "commit" re-digitises with the new threshold
        qtbot.waitUntil(
            lambda: (
                not window.pipeline.busy
                and window.doc.digitization is not None
                and window.doc.digitization.threshold == pytest.approx(new)
            ),
            timeout=TIMEOUT_MS,
        )
        assert window.doc.settings.threshold == pytest.approx(new)

    def test_rapid_slider_changes_while_a_worker_runs_last_wins(
        self, qtbot, window, small_scan, slow_model
    ):
        open_and_wait(qtbot, window, small_scan)
        window.run_rhythm()  # keeps the pipeline worker busy for ~1.5 s
        assert window.pipeline.busy
        panel = window.settings_panel
        rng = np.random.default_rng(0)
        for n, v in enumerate(rng.integers(50, 950, 400)):
            panel.threshold.setValue(int(v))
            if n % 10 == 0:
                QApplication.processEvents()  # some previews start and finish meanwhile
        panel.threshold.setValue(321)
        qtbot.waitUntil(lambda: not window.preview.busy, timeout=TIMEOUT_MS)
        region, _ = window.doc.darkness_crop(None, window.doc.settings.binarize_method)
        expected = binarize_preview(region, window.doc.settings.binarize_method, 0.321)
        np.testing.assert_array_equal(window.image_view.binary_item.image.astype(bool), expected)
        panel.flush()
        qtbot.waitUntil(lambda: result_shown(window), timeout=TIMEOUT_MS)
        assert window.doc.settings.threshold == pytest.approx(0.321)
        assert window.doc.digitization.threshold == pytest.approx(0.321)
        assert panel.threshold.value() == 321

    def test_preview_matches_the_core_binarisation(self, qtbot, window, small_scan, quick_model):
        region = np.random.default_rng(1).random((60, 80)).astype(np.float32)
        for method in ("manual", "otsu", "modified_otsu", "adaptive"):
            np.testing.assert_array_equal(
                binarize_preview(region, method, 0.4), binarize(region, method, 0.4).binary
            )
        # "auto" differs only by the removal of specks: never adds ink
        auto = binarize(region, "auto", 0.4).binary
        assert not (auto & ~binarize_preview(region, "auto", 0.4)).any()

    def test_moving_the_crop_previews_and_redigitises(self, qtbot, window, small_scan, quick_model):
        open_and_wait(qtbot, window, small_scan)
        old = window.doc.digitization.crop
        new = CropBox(old.x0 + 20, old.y0 + 10, old.x1 - 30, old.y1 - 5)
        with qtbot.waitSignal(window.preview_shown, timeout=TIMEOUT_MS):
            window.image_view.roi.setPos((new.x0, new.y0), finish=False)
            window.image_view.roi.setSize((new.width, new.height), finish=False)
        qtbot.waitUntil(lambda: not window.preview.busy, timeout=TIMEOUT_MS)
        assert window.image_view.binary_item.image.shape == (new.height, new.width)
        window.image_view.roi.stateChanged(finish=True)  # as when the mouse is released
        qtbot.waitUntil(
            lambda: (
                not window.pipeline.busy
                and window.doc.digitization is not None
                and window.doc.digitization.crop == new
            ),
            timeout=TIMEOUT_MS,
        )
        assert window.doc.settings.crop == new
        window.reset_crop()
        qtbot.waitUntil(
            lambda: not window.pipeline.busy and window.doc.digitization.crop == old,
            timeout=TIMEOUT_MS,
        )

    def test_calibration_and_layout_controls_reach_the_core(
        self, qtbot, window, small_scan, quick_model
    ):
        open_and_wait(qtbot, window, small_scan)
        panel = window.settings_panel
        panel.gain.setCurrentIndex(panel.gain.findData(20.0))
        qtbot.waitUntil(
            lambda: (
                not window.pipeline.busy
                and window.doc.digitization is not None
                and window.doc.digitization.calibration.gain_mm_mv == 20.0
            ),
            timeout=TIMEOUT_MS,
        )
        panel.px_override.setChecked(True)
        panel.px_per_mm.setValue(7.5)
        qtbot.waitUntil(
            lambda: (
                not window.pipeline.busy
                and window.doc.digitization is not None
                and window.doc.digitization.calibration.px_per_mm_x == pytest.approx(7.5)
            ),
            timeout=TIMEOUT_MS,
        )
        assert window.doc.digitization.calibration.source == "user"
        panel.rotation_auto.setChecked(False)
        panel.rotation.setValue(1.5)
        qtbot.waitUntil(
            lambda: (
                not window.pipeline.busy
                and window.doc.digitization is not None
                and window.doc.digitization.rotation_deg == pytest.approx(1.5)
            ),
            timeout=TIMEOUT_MS,
        )
        # preferences persist in the settings file
        assert float(window.qsettings.value("digitize/gain_mm_mv")) == 20.0


class TestWorkers:
    def test_event_loop_keeps_turning_during_inference(self, qtbot, window, small_scan, slow_model):
        ticks = []
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: ticks.append(window.pipeline.busy))
        timer.start()
        try:
            open_and_wait(qtbot, window, small_scan)
        finally:
            timer.stop()
        assert slow_model  # the slow model did run
        assert sum(ticks) >= 5  # the GUI thread kept handling timer events while busy
        assert window.doc.rhythm is not None

    def test_cancel_drops_the_running_result(self, qtbot, window, small_scan, slow_model):
        open_and_wait(qtbot, window, small_scan)
        window.doc.set_rhythm(None, "cleared")
        window.run_rhythm()
        qtbot.waitUntil(lambda: len(slow_model) == 2, timeout=TIMEOUT_MS)
        window.cancel()
        qtbot.waitUntil(lambda: not window.pipeline.busy, timeout=TIMEOUT_MS)
        assert window.doc.rhythm is None and window.doc.rhythm_error == "cleared"

    def test_closing_mid_inference_cancels_cleanly(self, qtbot, window, small_scan, slow_model):
        from ecgviewer.gui.workers import running_threads

        window.open_file(small_scan)
        qtbot.waitUntil(lambda: bool(slow_model), timeout=TIMEOUT_MS)  # inference started
        assert window.pipeline.busy
        window.close()  # cancels, then waits for the worker to reach its next check
        assert not running_threads()
        assert window.doc.rhythm is None  # the cancelled result was never applied


class TestCorrections:
    def test_edit_undo_redo_and_rerun_rhythm(self, qtbot, window, small_scan, quick_model):
        open_and_wait(qtbot, window, small_scan)
        doc = window.doc
        i = doc.rhythm_lead_index()
        assert i is not None
        before = np.array(doc.digitization.leads[i].signal_mv, copy=True)
        reread = []
        doc.events.rhythm.connect(lambda d: reread.append(d.rhythm))
        window.edit_trace(i, 100, np.full(20, 1.25), "Redraw trace segment")
        assert np.allclose(doc.digitization.leads[i].signal_mv[100:120], 1.25)
        assert "corrected by hand" in window.windowTitle()
        trace = next(tr for tr in window.waveform.traces if tr.index == i and tr.place.first == 0)
        assert np.allclose(trace.place.mv_at(trace.curve.yData[100:120]), 1.25)
        # the rhythm lead changed: rhythm is read again after a short delay
        qtbot.waitUntil(lambda: bool(reread) and result_shown(window), timeout=TIMEOUT_MS)
        assert reread[-1] is not None
        window.undo_stack.undo()
        np.testing.assert_array_equal(doc.digitization.leads[i].signal_mv, before)
        assert doc.corrections() == []
        window.undo_stack.redo()
        assert np.allclose(doc.digitization.leads[i].signal_mv[100:120], 1.25)
        window._rhythm_timer.stop()

    def test_dragging_and_drawing_on_the_plot(self, qtbot, window, small_scan, quick_model):
        open_and_wait(qtbot, window, small_scan)
        doc = window.doc
        view = window.waveform
        place = view.traces[0].place
        lead = doc.digitization.leads[place.index]
        k = int(np.flatnonzero(lead.valid_mask)[len(lead.signal_mv) // 3])
        x = float(place.x_mm(k))
        y = float(lead.signal_mv[k])

        def at(x_mm, mv):  # a point on the sheet (mm) from a time offset and mV on this lead
            return QPointF(x_mm, float(place.y_mm(mv)))

        class Drag:
            def __init__(self, start, finish):
                self._s, self._f = start, finish

            def isStart(self):
                return self._s

            def isFinish(self):
                return self._f

        mm_per_s = place.mm_per_s
        view.set_mode("drag")
        view.drag(Drag(True, False), at(x, y + 0.2), at(x, y))
        view.drag(Drag(False, True), at(x, y + 0.5), at(x, y))
        assert doc.digitization.leads[place.index].signal_mv[k] == pytest.approx(y + 0.5)
        assert window.undo_stack.count() == 1
        view.set_mode("draw")
        view.drag(Drag(True, False), at(x, 0.0), None)
        view.drag(Drag(False, False), at(x + 0.05 * mm_per_s, 1.0), None)
        view.drag(Drag(False, True), at(x + 0.1 * mm_per_s, 0.0), None)
        sig = doc.digitization.leads[place.index].signal_mv
        mid = k + int(round(0.05 * lead.fs_hz))
        assert sig[mid] == pytest.approx(1.0, abs=0.05)
        assert window.undo_stack.count() == 2
        window.undo_stack.undo()
        window.undo_stack.undo()
        np.testing.assert_allclose(doc.digitization.leads[place.index].signal_mv, lead.signal_mv)
        window._rhythm_timer.stop()

    def test_redigitising_asks_before_discarding_corrections(
        self, qtbot, window, small_scan, quick_model, monkeypatch
    ):
        from PySide6.QtWidgets import QMessageBox

        open_and_wait(qtbot, window, small_scan)
        window.edit_trace(0, 10, np.full(5, 0.7), "Redraw trace segment")
        window._rhythm_timer.stop()
        answers = [QMessageBox.StandardButton.No]
        monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: answers[0]))
        gain = window.doc.settings.gain_mm_mv
        window.apply_settings({"gain_mm_mv": 20.0})
        assert window.doc.settings.gain_mm_mv == gain and window.doc.edited_leads == {0}
        assert window.settings_panel.gain.currentData() == gain  # the control is put back
        answers[0] = QMessageBox.StandardButton.Yes
        window.apply_settings({"gain_mm_mv": 20.0})
        qtbot.waitUntil(
            lambda: result_shown(window) and not window.doc.edited_leads, timeout=TIMEOUT_MS
        )
        assert window.doc.digitization.calibration.gain_mm_mv == 20.0

    def test_mouse_drag_on_the_plot_reaches_the_edit(
        self, qtbot, window, small_scan, quick_model, monkeypatch
    ):
        """A pyqtgraph drag event on the sheet's ViewBox, in scene coordinates, edits the lead
        under the pointer."""
        open_and_wait(qtbot, window, small_scan)
        place = window.waveform.traces[0].place
        lead = window.doc.digitization.leads[place.index]
        k = int(np.flatnonzero(lead.valid_mask)[len(lead.signal_mv) // 2])
        x, y = float(place.x_mm(k)), float(lead.signal_mv[k])
        vb = window.waveform.view_box
        down = vb.mapViewToScene(QPointF(x, float(place.y_mm(y))))

        class Ev:
            def __init__(self, to, start, finish):
                self.to, self.start, self.finish = to, start, finish

            def button(self):
                return Qt.MouseButton.LeftButton

            def scenePos(self):
                return vb.mapViewToScene(QPointF(x, float(place.y_mm(self.to))))

            def buttonDownScenePos(self):
                return down

            def isStart(self):
                return self.start

            def isFinish(self):
                return self.finish

            def accept(self):
                pass

        window.mode_actions["drag"].trigger()
        assert window.waveform.mode == "drag"
        vb.mouseDragEvent(Ev(y + 0.1, True, False))
        vb.mouseDragEvent(Ev(y + 0.4, False, True))
        assert window.doc.digitization.leads[place.index].signal_mv[k] == pytest.approx(
            y + 0.4, abs=0.02
        )
        window.mode_actions["view"].trigger()  # zoom/pan: the drag goes to pyqtgraph, no edit
        from ecgviewer.gui._pg import pg

        panned = []
        monkeypatch.setattr(
            pg.ViewBox, "mouseDragEvent", lambda self, ev, axis=None: panned.append(ev)
        )
        before = window.doc.digitization
        vb.mouseDragEvent(Ev(y + 0.8, True, True))
        assert window.doc.digitization is before and len(panned) == 1
        window._rhythm_timer.stop()
