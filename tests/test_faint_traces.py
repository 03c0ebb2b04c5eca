"""Faint traces on varied paper (issue 18): a trace lighter than the page's classical ink
threshold, or one the segmenter is sure of only at its QRS tips and under pen scribbles, is
read whole, and what is read is the record."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.digitize import learned
from ecgviewer.paths import models_dir

HAVE_WEIGHTS = (models_dir() / "segmenter.pt").is_file()


def _read_back(cinc_dir, name: str, index: int, tags: str) -> None:
    """Print CinC ``name`` on its varied page (``index``: its place in the rhythm set), read it
    back: the whole strip, and its beats are the record's (count within 20 %, median RR
    within 5 %; a sample-wise correlation is meaningless for strips read over several rows)."""
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.rhythm.qrs import detect_qrs
    from ecgviewer.rhythm.training.image_data import print_and_read, record_seed

    rec = read_cinc_mat(cinc_dir / f"{name}.mat")
    trip = print_and_read(rec, seed=record_seed(2017, index))
    assert trip.tags == tags
    assert trip.error is None, trip.error
    assert trip.duration_s == pytest.approx(trip.printed_s, rel=0.02)
    ref = rec.signal_mv[: round(trip.printed_s * rec.fs_hz), 0]
    beats = detect_qrs(ref, rec.fs_hz)
    x = np.asarray(trip.signal_mv, float)
    read = detect_qrs(np.nan_to_num(x), trip.fs_hz, ~np.isnan(x))
    assert len(read) == pytest.approx(len(beats), rel=0.2)
    rr, rr_read = np.median(np.diff(beats)) / rec.fs_hz, np.median(np.diff(read)) / trip.fs_hz
    assert rr_read == pytest.approx(rr, rel=0.05)


@pytest.mark.data
@pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")
@pytest.mark.parametrize(
    "name, index, tags",
    [
        # a 1 px light-grey line, no grid, dark pen scribbles and a circle over the page: the
        # column peaks were sure (the scribbles and QRS complexes of other rows share every
        # column), so the map kept only the line's spikes; its ridges (0.13-0.37) lower the
        # threshold, and the line (0.08-0.1) is ink at a share of its own darkness, not of the
        # scribbles' (0.44)
        ("A01937", 1706, "grid=none pulse=none pen=1"),
        # a light blue line on blue paper, the map sure of all of it: the brightest-channel
        # darkness of a blue line is 0.12-0.16, under the page's Otsu threshold (0.21), so the
        # ink kept dashes of it (7 % of the columns)
        ("A06488", 5703, "grid=blue pulse=before pen=0"),
    ],
)
def test_a_trace_lighter_than_the_page_ink_is_read_whole(cinc_dir, name, index, tags):
    """Both pages read as empty ("no row of trace long enough to be an ECG") before."""
    _read_back(cinc_dir, name, index, tags)


def test_the_trace_own_darkness_is_its_line_not_its_surest_pixels():
    """:func:`learned.trace_core_darkness` is the line's typical darkness: a long light line
    with a few dark blobs on it (QRS tips, scribbles) is light, and a light line's ink is kept
    where the page's Otsu threshold would drop it; a dark line adds nothing below its own."""
    dark = np.zeros((60, 400), np.float32)
    dark[30, :] = 0.08  # the light line
    dark[25:35, ::40] = 0.5  # dark blobs on it
    dark[10, :] = 0.03  # a light grid line, lighter than the trace
    mapped = np.zeros_like(dark, bool)
    mapped[29:32, :] = True
    mapped[25:35, ::40] = True
    assert learned.trace_core_darkness(dark, mapped) == pytest.approx(0.08)
    own = learned.faint_trace_ink(dark, mapped.astype(np.float32), mapped, None)
    assert own[30].all() and not own[10].any()
    black = np.where(dark > 0, 0.8, 0.0).astype(np.float32)
    black[10, :] = 0.4  # a dark grid line half as dark as a black trace: not its ink
    own = learned.faint_trace_ink(black, mapped.astype(np.float32), mapped, None)
    assert own[30].all() and not own[10].any()
    assert learned.trace_core_darkness(dark, np.zeros_like(mapped)) is None


def test_a_light_line_under_sure_blobs_lowers_the_map_threshold():
    """:func:`learned.auto_map_threshold`: a light line whose columns are sure only because
    other things (scribbles, other rows' QRS complexes) share them gets a lowered threshold
    that keeps its line; a sure line keeps the default."""
    prob = np.zeros((200, 400), np.float32)
    for y in (40, 100, 160):
        prob[y, :] = 0.25  # three rows of a light line
    prob[5:9, :] = 0.9  # a long dark scribble above them all: every column's peak is sure
    t = learned.auto_map_threshold(prob, 0.5, 8.0)
    assert t < 0.25 and (prob[[40, 100, 160]] > t).all()
    sure = np.zeros((200, 400), np.float32)
    sure[[40, 100, 160], :] = 1.0
    assert learned.auto_map_threshold(sure, 0.5, 8.0) == 0.5
