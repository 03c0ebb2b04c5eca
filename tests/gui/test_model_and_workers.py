"""The plain document model, the trace-edit functions and the worker runner."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ecgviewer.digitize.stages import MIN_CROP_PX, clip_crop, prepare_key
from ecgviewer.digitize.types import CropBox, Digitization, Lead
from ecgviewer.gui import trace_edit
from ecgviewer.gui.document import Document
from ecgviewer.paper import Calibration, Layout

pytestmark = pytest.mark.gui


def _dig(n=1000, fs=500.0) -> Digitization:
    t = np.arange(n) / fs
    sig = np.sin(2 * np.pi * t)
    valid = np.ones(n, bool)
    valid[10:20] = False
    lead = Lead(
        "II", sig, fs, 0.0, valid, 0.9, trace_x_px=np.arange(n) * 0.1 + 5, trace_y_px=100 - sig * 20
    )
    cal = Calibration(2.0, 2.0, 25.0, 10.0, "grid", grid_found=True)
    return Digitization(
        np.zeros((300, 400, 3), np.uint8),
        np.zeros((200, 300), bool),
        CropBox(5, 5, 305, 205),
        0.0,
        cal,
        Layout("single", (), "II"),
        (lead,),
    )


class TestDocument:
    def test_hand_correction_is_tracked_and_reported_as_a_span(self):
        doc = Document()
        seen = []
        doc.events.leads.connect(lambda d, i: seen.append(i))
        doc.set_digitization(_dig())
        doc.set_lead_samples(0, 100, np.full(5, 2.0))
        assert seen == [0]
        assert doc.edited_leads == {0}
        ((idx, start, values),) = doc.corrections()
        assert (idx, start) == (0, 100)
        np.testing.assert_allclose(values, 2.0)
        # the image overlay moved by the change in mV × px/mV (20 px/mV here)
        lead, orig = doc.digitization.leads[0], doc.original_leads[0]
        j = np.flatnonzero(np.isclose(lead.trace_x_px, 5 + 102 * 0.1))[0]
        assert lead.trace_y_px[j] == pytest.approx(
            orig.trace_y_px[j] - (2.0 - orig.signal_mv[102]) * 20
        )

    def test_correcting_a_gap_makes_it_valid_and_undo_restores_it(self):
        doc = Document()
        doc.set_digitization(_dig())
        old = doc.digitization.leads[0]
        doc.set_lead_samples(0, 10, np.zeros(10))
        assert doc.digitization.leads[0].valid_mask[10:20].all()
        doc.set_lead_samples(0, 10, old.signal_mv[10:20], edited=False, valid=old.valid_mask[10:20])
        assert not doc.digitization.leads[0].valid_mask[10:20].any()
        assert doc.corrections() == []

    def test_out_of_range_correction_is_refused(self):
        doc = Document()
        doc.set_digitization(_dig(n=100))
        with pytest.raises(IndexError):
            doc.set_lead_samples(0, 95, np.zeros(10))

    def test_rhythm_input_marks_gaps_as_nan(self):
        doc = Document()
        doc.set_digitization(_dig())
        sig, fs = doc.rhythm_input()
        assert fs == 500.0 and np.isnan(sig[10:20]).all() and np.isfinite(sig[20:]).all()

    def test_settings_change_only_emits_when_something_changed(self):
        doc = Document()
        calls = []
        doc.events.settings.connect(lambda d: calls.append(d.settings))
        assert doc.update_settings(threshold=0.3)
        assert not doc.update_settings(threshold=0.3)
        assert len(calls) == 1
        assert prepare_key(doc.settings) == (None, True, None)

    def test_darkness_crop_is_clipped_to_the_page(self):
        doc = Document()
        doc.darkness = np.arange(100 * 80, dtype=np.float32).reshape(100, 80)
        region, crop = doc.darkness_crop(CropBox(-10, 50, 500, 90))
        assert crop == CropBox(0, 50, 80, 90) and region.shape == (40, 80)
        assert clip_crop(CropBox(70, 95, 71, 96), 80, 100, MIN_CROP_PX) == CropBox(70, 92, 78, 100)


class TestTraceEdit:
    def test_drag_point_moves_the_point_fully_and_neighbours_less(self):
        sig = np.zeros(200)
        start, values = trace_edit.drag_point(sig, 100, 1.5, fs_hz=500.0, half_width_s=0.02)
        assert start == 90 and len(values) == 21
        assert values[10] == pytest.approx(1.5)
        assert 0 < values[5] < 1.5 and values[0] < values[5]
        assert np.allclose(values, values[::-1])  # symmetric falloff

    def test_redraw_segment_interpolates_the_stroke(self):
        sig = np.zeros(1000)
        out = trace_edit.redraw_segment(
            sig, 500.0, 1.0, np.array([1.2, 1.1, 1.3]), np.array([1.0, 0.0, 2.0])
        )
        start, values = out
        assert start == 50 and len(values) == 101  # 1.1 s .. 1.3 s after a 1 s start
        assert values[0] == pytest.approx(0.0) and values[50] == pytest.approx(1.0)
        assert values[-1] == pytest.approx(2.0)

    def test_stroke_outside_the_lead_changes_nothing(self):
        assert (
            trace_edit.redraw_segment(
                np.zeros(100), 500.0, 0.0, np.array([5.0, 6.0]), np.array([0, 1])
            )
            is None
        )


class TestTaskRunner:
    def test_result_progress_and_partials_reach_the_gui_thread(self, qtbot):
        from ecgviewer.gui.workers import TaskRunner

        runner = TaskRunner("t")
        got = []
        main = threading.get_ident()

        def job(token, report, x):
            report.progress(0.5, "half")
            report.partial(("p", threading.get_ident() != main))
            return x * 2

        runner.partial.connect(lambda _i, v: got.append(v))
        try:
            with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
                runner.submit(job, 21)
            assert blocker.args[1] == 42
            assert got == [("p", True)]  # the job ran on another thread
        finally:
            assert runner.shutdown()

    def test_last_submission_wins_and_stale_jobs_are_dropped(self, qtbot):
        from ecgviewer.gui.workers import TaskRunner

        runner = TaskRunner("t", cancel_running=True)
        ran, finished = [], []
        gate, started = threading.Event(), threading.Event()

        def job(token, report, i):
            ran.append(i)
            if i == 0:
                started.set()
                gate.wait(5)
            token.check()
            return i

        runner.finished.connect(lambda _id, v: finished.append(v))
        try:
            runner.submit(job, 0)
            assert started.wait(5)
            for i in range(1, 200):
                runner.submit(job, i)
            gate.set()
            qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
            assert ran == [0, 199]  # the running one, then only the last queued
            assert finished == [199]  # the cancelled first job's result never arrives
        finally:
            runner.shutdown()

    def test_errors_come_back_as_failed(self, qtbot):
        from ecgviewer.gui.workers import TaskRunner

        def job(token, report):
            raise ValueError("bad input")

        runner = TaskRunner("t")
        try:
            with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
                runner.submit(job)
            assert isinstance(blocker.args[1], ValueError)
        finally:
            runner.shutdown()

    def test_shutdown_stops_the_thread_and_refuses_new_work(self, qtbot):
        from ecgviewer.gui.workers import TaskRunner, running_threads

        runner = TaskRunner("t")

        def job(token, report):
            for _ in range(100):
                time.sleep(0.01)
                token.check()

        runner.submit(job)
        assert running_threads()
        assert runner.shutdown(10_000)
        assert not any(t.objectName() == "ecgviewer-t" for t in running_threads())
        with pytest.raises(RuntimeError):
            runner.submit(job)


class TestGarbageCollection:
    def test_cycles_are_collected_in_the_gui_thread_only(self, window, qtbot):
        """Automatic collection is off once a window exists; the GUI-thread timer collects
        cycles (a collection inside a worker thread deadlocked the GUI tests)."""
        import gc

        threads = []

        class Node:
            def __del__(self):
                threads.append(threading.current_thread())

        def make_cycles():  # in a worker thread, as a digitisation job allocates
            for _ in range(2000):
                a, b = Node(), Node()
                a.other, b.other = b, a

        assert not gc.isenabled()
        worker = threading.Thread(target=make_cycles)
        worker.start()
        worker.join()
        assert threads == []  # nothing collected where the garbage was made
        qtbot.waitUntil(lambda: len(threads) == 4000, timeout=5000)
        assert set(threads) == {threading.main_thread()}


class TestTimeline:
    def test_window_edges_cover_the_strip(self):
        from ecgviewer.gui.sheet import window_edges

        np.testing.assert_allclose(window_edges(np.array([5.0]), 10.0), [0.0, 10.0])
        np.testing.assert_allclose(window_edges(np.array([2.0, 6.0, 10.0]), 12.0), [0, 4, 8, 12])


class TestRhythmText:
    def test_flags_are_not_repeated_and_titles_say_why(self):
        import dataclasses

        from ecgviewer.gui.rhythm_panel import quality_flags, result_title
        from ecgviewer.rhythm.types import RhythmResult

        res = RhythmResult(
            "~",
            {"N": 0, "A": 0, "O": 0.1, "~": 0.9},
            np.zeros(0),
            np.zeros((0, 4)),
            None,
            None,
            True,
            10.0,
            ("signal quality too poor to assess the rhythm",),
        )
        assert quality_flags(None, res) == ["Signal quality too poor to assess the rhythm."]
        assert result_title(res) == "Cannot assess: too noisy"
        res = dataclasses.replace(res, label="A")
        assert result_title(res) == "Cannot assess (best guess: Atrial fibrillation)"
        assert result_title(dataclasses.replace(res, cannot_assess=False)) == "Atrial fibrillation"
