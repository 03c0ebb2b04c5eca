"""Digitisation of ECG page images: image → calibrated leads (mV vs s).

Public entry points: :func:`digitize` (one call), the cacheable stages :func:`prepare_page` and
:func:`digitize_prepared`, and :func:`digitization_to_record` to get a signal Record.

The pipeline (scipy, scikit-image) is imported on first use, so importing the result types
(``ecgviewer.digitize.types``) stays cheap for the CLI's start-up and ``--version``.
"""

from ecgviewer.digitize.types import (
    BINARIZE_METHODS,
    LAYOUT_NAMES,
    Digitization,
    DigitizeSettings,
)

_PIPELINE_NAMES = (
    "PreparedPage",
    "digitization_to_record",
    "digitize",
    "digitize_prepared",
    "prepare_page",
)

__all__ = [
    "BINARIZE_METHODS",
    "LAYOUT_NAMES",
    "Digitization",
    "DigitizeSettings",
    *_PIPELINE_NAMES,
]


def __getattr__(name: str):
    if name in _PIPELINE_NAMES:
        from ecgviewer.digitize import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ecgviewer.digitize' has no attribute {name!r}")
