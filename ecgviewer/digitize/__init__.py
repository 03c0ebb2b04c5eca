"""Digitisation of ECG page images: image → calibrated leads (mV vs s).

Public entry points: :func:`digitize` (one call), the cacheable stages :func:`prepare_page` and
:func:`digitize_prepared`, and :func:`digitization_to_record` to get a signal Record.
"""

from ecgviewer.digitize.pipeline import (
    PreparedPage,
    digitization_to_record,
    digitize,
    digitize_prepared,
    prepare_page,
)
from ecgviewer.digitize.types import Digitization, DigitizeSettings

__all__ = [
    "Digitization",
    "DigitizeSettings",
    "PreparedPage",
    "digitization_to_record",
    "digitize",
    "digitize_prepared",
    "prepare_page",
]
