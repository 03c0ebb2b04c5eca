"""Heart-rhythm classification (N / A / O / ~) from one ECG lead.

``classify`` and ``load_model`` import torch on first use only, so importing this package
stays cheap (the GUI imports it at start).
"""

from __future__ import annotations

from ecgviewer.rhythm.types import CLASS_NAMES, CLASSES, RhythmResult

__all__ = ["CLASSES", "CLASS_NAMES", "RhythmResult", "classify", "load_model"]


def classify(signal_mv, fs_hz: float, model=None) -> RhythmResult:
    """See :func:`ecgviewer.rhythm.infer.classify`."""
    from ecgviewer.rhythm.infer import classify as _classify

    return _classify(signal_mv, fs_hz, model)


def load_model(path=None):
    """See :func:`ecgviewer.rhythm.infer.load_model`."""
    from ecgviewer.rhythm.infer import load_model as _load

    return _load(path)
