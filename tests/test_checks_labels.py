"""A close-up of part of a 12-lead sheet is not reported "ok" (issue 20).

A photo of one column of a 3x4+1 sheet (V4, V5, V6 and the end of the rhythm strip) has four
rows like a whole page: it was read as 3x4+1 with I, II, III at the row starts and reported
"ok". The printed labels at the row starts say V4, V5, V6: the check
:func:`~ecgviewer.digitize.checks.check_labels` sends such a result to review.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.digitize.checks import _family


@pytest.fixture(scope="module")
def page(ptbxl_dir):
    """PTB-XL record 305 printed 3x4+1 (labels above the row starts), 200 dpi."""
    from ecgviewer.io.signals import read_wfdb
    from ecgviewer.render import RenderStyle, render_ecg

    rec = read_wfdb(ptbxl_dir / "records500" / "00000" / "00305_hr")
    return render_ecg(rec, RenderStyle(layout="3x4+1", row_seconds=10.0), seed=3)


def _column(page, first: str) -> np.ndarray:
    """The page from 5 mm before the column whose top lead is ``first`` to the right edge."""
    box = next(b for b in page.layout.boxes if b.name == first)
    x0 = int(box.x0 - 5 * page.calibration.px_per_mm_x)
    return np.ascontiguousarray(page.image_rgb[:, x0:])


def test_family():
    assert [_family(n) for n in ("I", "III", "aVR", "aVF", "V1", "V6")] == [
        "", "", "aV", "aV", "V", "V",
    ]


@pytest.mark.data
def test_a_quarter_of_a_sheet_needs_review(page):
    from ecgviewer.digitize import DigitizeSettings, digitize

    dig = digitize(_column(page, "V4"), DigitizeSettings(dpi=200))
    reasons = [r for r in dig.review_reasons if "printed lead labels" in r]
    assert dig.status == "needs_review" and len(reasons) == 1
    assert "V4" in reasons[0] and "V6" in reasons[0]  # V5 may read as "V6?" (a near tie)


@pytest.mark.data
def test_the_whole_sheet_and_its_right_half_keep_their_verdicts(page):
    """The whole page: labels agree, no label reason. The right half (V1-V3 and V4-V6
    columns) is read as 3x4 with V1, V2, V3 where I, II, III are put: flagged too."""
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.digitize.checks import check_labels

    whole = digitize(page.image_rgb, DigitizeSettings(dpi=200))
    assert whole.layout.name == "3x4+1" and check_labels(whole) == []
    assert whole.status == "ok"
    half = digitize(_column(page, "V1"), DigitizeSettings(dpi=200))
    assert any("printed lead labels read V1, V2, V3" in r for r in half.review_reasons)


@pytest.mark.data
def test_part_of_a_sheet_is_flagged_by_its_row_length_too(page):
    """Where the labels are not read (a phone close-up, blurred), the paper a row spans still
    tells: a 12-lead page's rows are about 250 mm long, the V4 column's about 65 mm."""
    from ecgviewer.digitize import DigitizeSettings, digitize
    from ecgviewer.digitize.checks import check_partial_sheet

    whole = digitize(page.image_rgb, DigitizeSettings(dpi=200))
    assert check_partial_sheet(whole) == []
    part = digitize(_column(page, "V4"), DigitizeSettings(dpi=200))
    reasons = check_partial_sheet(part)
    assert len(reasons) == 1 and "part of the sheet" in reasons[0]
    assert part.status == "needs_review"
