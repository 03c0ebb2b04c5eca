"""Varied rhythm strips that were not read at all (issue 18, "no row of trace long enough to be
an ECG"): a faint trace's unsure map is a dotted line and its own ink a 1 px line broken at
every diagonal step, so no row held a stroke long enough to be trace. The map's dots are kept
as one line and the map joins the ink where it breaks; what is read is the record."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ecgviewer.digitize import learned
from ecgviewer.digitize.binarize import binarize
from tests.test_faint_traces import HAVE_WEIGHTS, _read_back


@pytest.mark.data
@pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")
@pytest.mark.parametrize(
    "name, index, tags",
    [
        # no grid, grey noisy paper, a thin grey trace with 3 mm QRS complexes: its ink was a
        # 1 px line broken every few mm at diagonal steps (strokes of 8 mm covered 20 % of rows)
        ("A07163", 6313, "grid=none pulse=before pen=0"),
        # a grey trace lighter than a dark pink grid: the map at its lowered threshold was a
        # dotted line whose dots (each under the speck size) were dropped as specks
        ("A02654", 2331, "grid=pink pulse=apart pen=0"),
        # a grey trace on green paper whose map stayed dots between its QRS complexes: read at
        # 0.83 of its length while the dots seeded nothing (faint_trace_binary's wide pieces)
        ("A03742", 3275, "grid=green pulse=before pen=0"),
    ],
)
def test_a_faint_broken_trace_is_read_whole(cinc_dir, name, index, tags):
    """Both pages read as empty before (scored as the noise class by the rhythm benchmark)."""
    _read_back(cinc_dir, name, index, tags)


def test_a_dotted_map_line_is_not_specks_but_lone_specks_are():
    """The "auto" threshold's speck removal counts dots 1 px apart as one piece: a dotted line
    of 2 px dots stays whole, a lone dot of the same size goes."""
    prob = np.zeros((40, 300), np.float32)
    prob[20, 10:290:3] = 0.3  # dots 1 px apart...
    prob[20, 11:290:3] = 0.3  # ...each 2 px long
    prob[5, 100:102] = 0.3  # a lone speck
    kept = binarize(prob, "auto", 0.2).binary
    assert (kept[20] == (prob[20] > 0.2)).all()
    assert not kept[5].any()


def test_a_faint_line_broken_at_its_steps_is_joined_by_the_map():
    """On a faint page (:func:`learned.combine_with_ink` with ``faint``) the binary is one line
    where the trace's own ink is a 1 px staircase broken at its steps and the thresholded map
    runs unbroken along it; the map adds nothing off the line, and on a page that is not faint
    the breaks stay (the classical binary, no map halo)."""
    dark = np.full((60, 300), 0.02, np.float32)  # paper
    mapped = np.zeros(dark.shape, bool)
    for k, x in enumerate(range(0, 280, 20)):
        dark[20 + k, x + 2 : x + 20] = 0.1  # a light line, broken 2 px at every step
        mapped[19 + k : 22 + k, x : x + 21] = True  # the map: thicker and unbroken
    dark[45, 20:280] = 0.04  # a grid line lighter than the trace, off the map
    prob = np.where(mapped, 0.3, 0.0).astype(np.float32)
    every = np.ones((3, 3), bool)
    binary, _, _ = learned.combine_with_ink(mapped, dark, prob, 8.0, None, faint=True)
    assert ndimage.label(binary, every)[1] == 1
    assert binary[20:34].any(axis=0)[:280].all() and not binary[40:].any()
    clean, _, _ = learned.combine_with_ink(mapped, dark, prob, 8.0, None, faint=False)
    assert ndimage.label(clean, every)[1] > 1


def test_a_faint_line_seeded_only_by_map_specks_is_kept_when_wide():
    """Where speck removal left the thresholded map empty along a faint line (its dots each too
    small), :func:`learned.faint_trace_binary` keeps the trace's own ink touching the map's
    specks when the piece is :data:`learned.FAINT_RUN_MM` wide; a short piece under one speck
    (noise) is not kept, and without the map only the part touching the thresholded map is."""
    own = np.zeros((60, 400), bool)
    own[20, 10:150:3] = own[20, 11:150:3] = True  # a 1 px line in 2 px dashes, 1 px apart
    own[20, 160:390:4] = own[20, 161:390:4] = True  # ...after a gap, 2 px apart
    own[45, 300:310] = True  # a short stroke of noise, 1.25 mm
    prob = np.zeros(own.shape, np.float32)
    prob[20, 20:140] = prob[20, 200:380:8] = 0.3  # the map: a line, then dots
    prob[45, 305] = 0.3
    mapped = np.zeros(own.shape, bool)
    mapped[20, 20:140] = True  # thresholded and speck-removed: the dots are gone
    line = learned.faint_trace_binary(own, mapped, prob, 8.0)
    assert (line[20] == (own[20] | (prob[20] > 0))).all()  # the ink and the map's dots
    assert not line[45].any()
    old = learned.faint_trace_binary(own, mapped)
    assert old[20, :150].any() and not old[20, 160:].any()
