"""The waveform as printed ECG paper (one sheet in mm, locked aspect), the scan beside its
binary image, and the wheel: geometry checked in view and screen coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from ecgviewer.digitize.types import CropBox, Digitization, Lead
from ecgviewer.gui.sheet import doubted, layout_sheet
from ecgviewer.paper import Calibration, Layout, LeadBox

pytestmark = pytest.mark.gui

FS = 500.0
TWELVE = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)


def pulse_lead(name="II", seconds=10.0, start_s=0.0, valid=None) -> Lead:
    """A flat lead with a 1 mV, 0.2 s square pulse starting 1 s in."""
    n = int(seconds * FS)
    sig = np.zeros(n)
    sig[int(1.0 * FS) : int(1.2 * FS)] = 1.0
    mask = np.ones(n, bool) if valid is None else valid
    return Lead(name, sig, FS, start_s, mask, 0.95)


def make_dig(leads, boxes=(), review=()) -> Digitization:
    cal = Calibration(10.0, 10.0, 25.0, 10.0, "grid", grid_found=True)
    return Digitization(
        np.full((600, 2600, 3), 255, np.uint8),
        np.zeros((500, 2500), bool),
        CropBox(50, 50, 2550, 550),
        0.0,
        cal,
        Layout("3x4+1" if boxes else "single", tuple(boxes), "II"),
        tuple(leads),
        review_reasons=tuple(review),
    )


def twelve_lead() -> Digitization:
    """A 3×4 page with a lead II rhythm strip, rows 300 px (30 mm at 10 px/mm) apart."""
    leads, boxes = [], []
    for r, names in enumerate(TWELVE):
        for c, name in enumerate(names):
            leads.append(pulse_lead(name, 2.5, start_s=2.5 * c))
            boxes.append(
                LeadBox(name, c * 625, (c + 1) * 625, r * 300, (r + 1) * 300, r * 300 + 150, r, c)
            )
    leads.append(pulse_lead("II", 10.0))
    boxes.append(LeadBox("II", 0, 2500, 900, 1200, 1050.0, 3, 0))
    return make_dig(leads, boxes)


@pytest.fixture
def view(qtbot):
    from ecgviewer.gui.waveform_view import WaveformView

    w = WaveformView()
    qtbot.addWidget(w)
    w.resize(1200, 700)
    w.show()
    qtbot.waitExposed(w)
    return w


def screen_px(view, x_mm, y_mm) -> QPointF:
    """Screen pixels of a sheet point (pyqtgraph's scene is the view's pixels, unscaled)."""
    assert view.graphics.transform().isIdentity()
    return view.view_box.mapViewToScene(QPointF(x_mm, y_mm))


class TestPaperGeometry:
    def test_a_1mv_02s_pulse_is_10_by_5_small_squares_with_equal_screen_scale(self, view):
        view.show_digitization(make_dig([pulse_lead()]), 0)
        QApplication.processEvents()
        trace = view.traces[0]
        x, y = trace.curve.xData, trace.curve.yData
        base = trace.place.baseline_mm
        high = x[y > base + 5]
        assert high.max() - high.min() + 1 / FS * 25 == pytest.approx(5.0, abs=0.06)  # 5 mm wide
        assert y.max() - base == pytest.approx(10.0)  # 10 mm tall
        # one ViewBox, aspect locked: a mm is as many pixels across as it is up
        a, b = screen_px(view, 25.0, base), screen_px(view, 30.0, base + 10.0)
        px_x, px_y = (b.x() - a.x()) / 5.0, (a.y() - b.y()) / 10.0
        assert px_x > 2 and px_x == pytest.approx(px_y, rel=0.01)
        assert view.view_box.state["aspectLocked"] == 1.0

    def test_twelve_lead_page_is_drawn_as_printed(self, view):
        view.show_digitization(twelve_lead(), 12)
        sheet = view.sheet
        assert sheet.arrangement == "paper" and sheet.pitch_mm == pytest.approx(30.0)
        places = {(p.row, round(p.x0_mm, 3)) for p in sheet.placements}
        assert places == {(r, 62.5 * c) for r in range(3) for c in range(4)} | {(3, 0.0)}
        assert sheet.right_mm == pytest.approx(250.0)
        # the whole sheet fits the pane: its full width is in view, not one 2.5 s segment
        (x0, x1), _ = view.view_box.viewRange()
        assert x0 <= sheet.left_mm + 1 and x1 >= sheet.right_mm - 1
        assert view.timeline_curves and view.caption.text().startswith("25 mm/s, 10 mm/mV")

    def test_one_lead_per_row_stays_an_option(self, view):
        view.show_digitization(twelve_lead(), 12)
        view.set_arrangement("rows")
        sheet = view.sheet
        assert sheet.arrangement == "rows"
        assert sorted(p.row for p in sheet.placements) == list(range(13))
        assert sheet.placements[0].index == 12  # the rhythm strip first
        with pytest.raises(ValueError):
            view.set_arrangement("staircase")

    def test_a_long_single_lead_strip_wraps_into_rows_of_paper(self):
        sheet = layout_sheet(make_dig([pulse_lead(seconds=30.0)]), 0)
        assert [p.row for p in sheet.placements] == [0, 1, 2]
        assert {p.count for p in sheet.placements} == {int(10 * FS)}
        assert sheet.right_mm == pytest.approx(250.0)

    def test_a_strip_of_three_printed_rows_stays_three_rows(self):
        """The A00004 sample strip: rows measured at 9.999 s on the page (4999 samples at
        500 Hz) held 14999 samples, and the two left over made an empty fourth row "30 s"."""
        boxes = [LeadBox("ECG", 0, 2500 - 0.3, r * 300, (r + 1) * 300, r * 300 + 150, r, 0)
                 for r in range(3)]  # fmt: skip
        lead = pulse_lead("ECG", seconds=29.998)
        sheet = layout_sheet(make_dig([lead], boxes), 0)
        assert [p.row for p in sheet.placements] == [0, 1, 2]
        assert sum(p.count for p in sheet.placements) == len(lead.signal_mv)
        assert sheet.placements[-1].count == len(lead.signal_mv) - 2 * 4999
        short = pulse_lead("ECG", seconds=25.0)  # a last row half full stays a row of its own
        assert len(layout_sheet(make_dig([short], boxes), 0).placements) == 3

    def test_wheel_zooms_the_whole_sheet_never_one_rows_amplitude(self, view, qtbot):
        view.show_digitization(twelve_lead(), 12)
        QApplication.processEvents()
        before = [tr.curve.yData.copy() for tr in view.traces]
        (x0, x1), (y0, y1) = view.view_box.viewRange()
        centre = view.graphics.viewport().rect().center()
        event = QWheelEvent(
            QPointF(centre), QPointF(view.graphics.viewport().mapToGlobal(centre)), QPoint(0, 0),
            QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(view.graphics.viewport(), event)
        QApplication.processEvents()
        (u0, u1), (v0, v1) = view.view_box.viewRange()
        zoom_x, zoom_y = (x1 - x0) / (u1 - u0), (y1 - y0) / (v1 - v0)
        assert zoom_x > 1.2 and zoom_x == pytest.approx(zoom_y, rel=0.02)  # both axes, together
        for old, tr in zip(before, view.traces):
            np.testing.assert_array_equal(old, tr.curve.yData)  # no lead rescaled
        a, b = screen_px(view, 0.0, 0.0), screen_px(view, 10.0, 10.0)
        assert b.x() - a.x() == pytest.approx(a.y() - b.y(), rel=0.01)  # squares stay square


class TestConfidence:
    def test_bridged_samples_are_drawn_faded_not_solid(self, view):
        valid = np.ones(int(10 * FS), bool)
        valid[2000:2100] = False
        view.show_digitization(make_dig([pulse_lead(valid=valid)]), 0)
        trace = view.traces[0]
        assert np.isnan(trace.curve.yData[2000:2100]).all()
        assert np.isfinite(trace.doubt.yData[1999:2101]).all()
        assert np.isnan(trace.doubt.yData[:1999]).all()
        assert np.isnan(doubted(np.ones(3, bool), np.zeros(3))).all()

    def test_needs_review_is_stated_plainly(self, view):
        view.show_digitization(make_dig([pulse_lead()], review=["leads out of range"]), 0)
        assert view.review.isVisible()
        assert "Needs review" in view.review.text() and "leads out of range" in view.review.text()
        view.show_digitization(make_dig([pulse_lead()]), 0)
        assert not view.review.isVisible()

    def test_low_trace_quality_is_shown_beside_the_lead(self, view):
        from ecgviewer.gui._pg import pg

        lead = pulse_lead()
        low = Lead(lead.name, lead.signal_mv, FS, 0.0, lead.valid_mask, 0.4)
        view.show_digitization(make_dig([low]), 0)
        texts = [it.textItem.toPlainText() for it in view.plot.items if isinstance(it, pg.TextItem)]
        assert any("trace quality 40 %" in t for t in texts)
        assert any("Normal sinus rhythm" in t for t in texts)  # the timeline's legend


def six_full_width_rows() -> Digitization:
    """A page of six full-width leads, one per row (like the greyscale scan ecg00005): no
    grid of columns, so lead II is not a rhythm strip."""
    names = ("I", "II", "III", "aVR", "aVL", "aVF")
    leads = [pulse_lead(name, 7.4) for name in names]
    boxes = [
        LeadBox(n, 0, 1850, r * 300, (r + 1) * 300, r * 300 + 150, r, 0)
        for r, n in enumerate(names)
    ]
    return make_dig(leads, boxes)


class TestRhythmLeadLabel:
    def test_only_a_real_rhythm_strip_is_called_one(self, view):
        view.show_digitization(twelve_lead(), 12)
        QApplication.processEvents()
        strips = [lb for lb in view.labels if lb.text.startswith("Rhythm strip")]
        assert [lb.text for lb in strips] == ["Rhythm strip (II)"]
        assert "rhythm" in strips[0].item.toolTip()
        # the short lead II of the grid is plain "II"
        assert sum(lb.text == "II" for lb in view.labels) == 1

    def test_lead_ii_of_full_width_rows_keeps_its_name(self, view):
        view.resize(1900, 700)
        view.show_digitization(six_full_width_rows(), 1)
        QApplication.processEvents()
        texts = [lb.text for lb in view.labels]
        assert not any("Rhythm strip" in t for t in texts), texts
        (ii,) = [lb for lb in view.labels if lb.text.split()[0] == "II"]
        assert ii.text == "II · rhythm read here"  # the note fits a wide pane
        assert "rhythm is read from this lead" in ii.item.toolTip()
        assert sorted(t.split()[0] for t in texts) == ["I", "II", "III", "aVF", "aVL", "aVR"]

    def test_strip_rule_without_boxes_uses_duration(self):
        from ecgviewer.gui.sheet import is_rhythm_strip

        dig = twelve_lead()
        assert is_rhythm_strip(dig, 12) and not is_rhythm_strip(dig, 4)
        assert not is_rhythm_strip(six_full_width_rows(), 1)
        no_boxes = make_dig([pulse_lead("I", 2.5), pulse_lead("V1", 2.5), pulse_lead("II", 10.0)])
        assert is_rhythm_strip(no_boxes, 2) and not is_rhythm_strip(no_boxes, 0)
        same = make_dig([pulse_lead("I", 10.0), pulse_lead("II", 10.0)])
        assert not is_rhythm_strip(same, 1)
        assert not is_rhythm_strip(make_dig([pulse_lead()]), 0)  # one lead: no strip to name


class TestSideBySide:
    def test_scan_beside_binary_zoomed_together(self, qtbot):
        from ecgviewer.gui.image_view import ImageView

        iv = ImageView()
        qtbot.addWidget(iv)
        iv.resize(1200, 400)
        iv.show()
        page = np.full((300, 400, 3), 230, np.uint8)
        binary = np.zeros((200, 300), bool)
        binary[100, 20:280] = True
        iv.set_page(page)
        iv.set_binary(binary, CropBox(50, 50, 350, 250))
        assert iv.mode == "side"
        assert iv.side_view.isVisible() and iv.page_item.isVisible()
        assert iv.side_item.image.shape == binary.shape and not iv.notes[1].isVisible()
        iv.view.setRange(xRange=(60, 120), yRange=(60, 100), padding=0)
        QApplication.processEvents()
        np.testing.assert_allclose(iv.side_view.viewRange()[0], iv.view.viewRange()[0], atol=1)
        left = iv.view.sceneBoundingRect()
        right = iv.side_view.sceneBoundingRect()
        assert right.left() >= left.right() - 1 and right.width() > 0.4 * iv.width()
        iv.set_mode("both")
        assert not iv.side_view.isVisible() and iv.binary_item.isVisible()
        assert iv.binary_item.zValue() > max(t.zValue() for t in iv.trace_items or [iv.page_item])

    def test_no_ink_shows_the_page_and_what_to_do(self, qtbot):
        from ecgviewer.gui.image_view import ImageView

        iv = ImageView()
        qtbot.addWidget(iv)
        iv.show()
        iv.set_page(np.full((300, 400, 3), 230, np.uint8))
        iv.set_binary(np.zeros((200, 300), bool), CropBox(50, 50, 350, 250))
        iv.set_mode("binary")
        assert iv.page_item.isVisible()  # never a blank view
        assert iv.notes[0].isVisible() and "lower the threshold" in iv.notes[0].toPlainText()


def low_quality_twelve_lead(quality=0.45) -> Digitization:
    dig = twelve_lead()
    leads = [Lead(d.name, d.signal_mv, FS, d.start_s, d.valid_mask, quality) for d in dig.leads]
    return make_dig(leads, dig.layout.boxes)


def label_rects(view):
    """Screen rectangles of the labels, by row, left to right."""
    rows: dict[int, list] = {}
    for label in view.labels:
        rows.setdefault(round(label.item.pos().y()), []).append(label)
    return {
        y: [lb.item.sceneBoundingRect() for lb in sorted(ls, key=lambda lb: lb.item.pos().x())]
        for y, ls in rows.items()
    }


def wheel(view, pos: QPointF, steps: int = 1) -> None:
    """A mouse wheel turned ``steps`` notches over ``pos`` (viewport pixels), posted to the
    viewport and delivered by the event loop as a real one is."""
    vp = view.graphics.viewport()
    event = QWheelEvent(
        pos, QPointF(vp.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.postEvent(vp, event)
    QApplication.processEvents()


class TestLabelsFitTheirColumn:
    def test_trace_quality_never_runs_into_the_next_columns_label(self, view, qtbot):
        """On a narrow pane the quality note shortens ("V1 45 %", then "V1"), so it does not
        overlap the next column's name; with room (a wide pane, or zoomed in) it is spelt out."""
        for width, full in ((520, False), (1900, True)):
            view.resize(width, 700)
            view.show_digitization(low_quality_twelve_lead(), 12)
            QApplication.processEvents()
            for rects in label_rects(view).values():
                for a, b in zip(rects, rects[1:]):
                    assert a.right() <= b.left(), (width, a, b)
            texts = [lb.text for lb in view.labels if not lb.text.startswith("Rhythm")]
            assert all("45 %" in t for t in texts)  # the quality is never dropped silently
            assert all(("trace quality 45 %" in t) == full for t in texts), texts
        view.resize(520, 700)
        view.show_digitization(low_quality_twelve_lead(), 12)
        QApplication.processEvents()
        i_label = next(lb for lb in view.labels if lb.text.startswith("I "))
        assert "trace quality" not in i_label.text
        for _ in range(4):  # zoomed in, the same pane has room again
            wheel(view, QPointF(view.graphics.viewport().rect().center()))
        assert "trace quality 45 %" in i_label.text


class TestWheelOnTheWindow:
    def test_wheel_over_a_row_zooms_about_the_cursor_not_the_row(self, window, qtbot):
        """The wheel turned over lead V1 in the main window, delivered through the event loop:
        the sheet zooms about the point under the cursor (it stays under the cursor), both
        axes alike; no row's amplitude or label changes (it used to read "V1 (x0.001)")."""
        view = window.waveform
        view.show_digitization(twelve_lead(), 12)
        QApplication.processEvents()
        names = sorted(lb.text for lb in view.labels)
        before = [tr.curve.yData.copy() for tr in view.traces]
        v1 = next(tr for tr in view.traces if window_lead(view, tr) == "V1")
        target = QPointF(v1.place.x0_mm + 20.0, v1.place.baseline_mm)
        scene = view.view_box.mapViewToScene(target)
        pos = view.graphics.mapFromScene(scene)
        (x0, x1), (y0, y1) = view.view_box.viewRange()
        for _ in range(3):
            wheel(view, QPointF(pos))
        (u0, u1), (v0, v1_) = view.view_box.viewRange()
        zoom_x, zoom_y = (x1 - x0) / (u1 - u0), (y1 - y0) / (v1_ - v0)
        assert zoom_x > 1.5 and zoom_x == pytest.approx(zoom_y, rel=0.02)
        after = view.view_box.mapSceneToView(view.graphics.mapToScene(pos))
        assert after.x() == pytest.approx(target.x(), abs=1.0)  # mm: still under the cursor
        assert after.y() == pytest.approx(target.y(), abs=1.0)
        for old, tr in zip(before, view.traces):
            np.testing.assert_array_equal(old, tr.curve.yData)
        assert sorted(lb.text.split(" ")[0] for lb in view.labels) == sorted(
            n.split(" ")[0] for n in names
        )
        wheel(view, QPointF(pos), steps=-6)  # and back out past the start: never inverted
        (w0, w1), _ = view.view_box.viewRange()
        assert w1 - w0 > 0


def window_lead(view, trace) -> str:
    return view.digitization.leads[trace.place.index].name
