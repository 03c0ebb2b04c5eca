"""Every row of a long single-lead strip is read, from its common start (issue 18): CinC records
printed on their seeded varied strips (the rhythm-from-paper benchmark's pages) and read back
with the single layout, speed, gain and dpi given, each read within 2 % of the seconds printed.

Kinds that were read short: rows of a noisy record wandering off their baseline band for
seconds (A01246: 5 of 6 rows lost), rows of a noisy record drawn dense with a thick pen (A02479:
5 of 6 lost), rows with low QRS complexes broken by dropouts (A05392: 2 of 6 lost), rows found
up to 0.5 s late at a transient or a beat taken for a calibration pulse (A02804, A00180)."""

from __future__ import annotations

import pytest

from ecgviewer.paths import models_dir

HAVE_WEIGHTS = (models_dir() / "segmenter.pt").is_file()

needs_segmenter = pytest.mark.skipif(not HAVE_WEIGHTS, reason="models/segmenter.pt not trained yet")


def _round_trip(cinc_dir, name: str):
    """Record ``name`` printed on its seeded varied strip and read back, as the benchmark does
    (its seed: its place in the set's REFERENCE.csv)."""
    from ecgviewer.io.signals import read_cinc_mat
    from ecgviewer.rhythm.training import image_data

    names = [n for n, _ in image_data.read_reference(cinc_dir)]
    rec = read_cinc_mat(cinc_dir / f"{name}.mat")
    return image_data.print_and_read(rec, seed=image_data.record_seed(2017, names.index(name)))


@pytest.mark.data
@needs_segmenter
@pytest.mark.parametrize(
    "name, what",
    [
        ("A01246", "six 5 s rows at 5 mm/mV of a noisy record wandering off their baselines"),
        ("A02479", "six 5 s rows of a noisy record drawn dense with a thick pen"),
        ("A02804", "three rows, the first falling from a transient, a beat taken for a pulse"),
        ("A00180", "six 5 s rows, three found late at a faint or falling start"),
    ],
)
def test_every_row_of_a_varied_strip_is_read_from_its_start(cinc_dir, name, what):
    trip = _round_trip(cinc_dir, name)
    assert trip.error is None, f"{name} ({what}): {trip.error}"
    ratio = trip.duration_s / trip.printed_s
    assert abs(ratio - 1.0) <= 0.02, (
        f"{name} ({what}): read {trip.duration_s:.2f} s of {trip.printed_s:.2f} s printed"
    )


def test_rows_of_a_strip_move_to_its_common_start_and_end():
    """The rule alone (no data): rows found 1 mm to 1 s after the strip's start move to it, a
    "pulse" standing inside the strip is dropped, the last (partial) row keeps its end; a row
    found more than 1 s late stays (a row of something else)."""
    from ecgviewer.digitize.row_find import TraceRow
    from ecgviewer.digitize.row_starts import align_strip_rows, strip_start
    from ecgviewer.paper.types import Calibration

    cal = Calibration(8.0, 8.0, 25.0, 10.0, "dpi")  # 200 px/s
    rows = [
        TraceRow(300.0, 0, 600, 179, 2128),  # a transient at its start left the band
        TraceRow(900.0, 600, 1200, 217, 2128, pulse_x1=216, pulse_base_y=906.0),  # a beat
        TraceRow(1400.0, 1200, 1600, 127, 2128, pulse_x1=104, pulse_base_y=1409.0),  # apart
        TraceRow(1600.0, 1400, 1700, 127, 900),  # the partial last row
    ]
    assert strip_start(rows, cal) == 127  # from the row whose pulse stands apart
    out = align_strip_rows(rows, cal)
    assert [r.x0 for r in out] == [127, 127, 127, 127]
    assert out[1].pulse_x1 is None and out[1].pulse_base_y is None
    assert out[2].pulse_x1 == 104 and out[3].x1 == 900
    late = [TraceRow(300.0, 0, 600, 130, 2128), TraceRow(900.0, 600, 1200, 131, 2128),
            TraceRow(1500.0, 1200, 1700, 400, 2128)]  # fmt: skip
    assert [r.x0 for r in align_strip_rows(late, cal)] == [130, 131, 400]  # 1 mm: one column
    ends = [TraceRow(300.0, 0, 600, 130, 2128), TraceRow(900.0, 600, 1200, 130, 2122),
            TraceRow(1200.0, 1000, 1400, 130, 2050), TraceRow(1500.0, 1400, 1700, 130, 1500)]  # fmt: skip
    assert [r.x1 for r in align_strip_rows(ends, cal)] == [2128, 2122, 2128, 1500]
    ends[-1] = TraceRow(1500.0, 1400, 1700, 130, 2400)  # a pen stroke beside the last row
    assert align_strip_rows(ends, cal)[-1].x1 == 2128
