"""The vocabulary of ECG paper shared by the renderer and the digitiser: layouts (one table of
:class:`LayoutSpec`), lead names and their order, and the calibration and lead-box types."""

from ecgviewer.paper.layouts import (
    LAYOUT_SPECS,
    PAPER_LAYOUTS,
    STANDARD_LEADS,
    LayoutSpec,
    PaperLayoutName,
    canonical_lead_name,
    lead_rank,
    with_strips,
)
from ecgviewer.paper.types import Calibration, Layout, LeadBox

__all__ = [
    "LAYOUT_SPECS",
    "PAPER_LAYOUTS",
    "STANDARD_LEADS",
    "Calibration",
    "Layout",
    "LayoutSpec",
    "LeadBox",
    "PaperLayoutName",
    "canonical_lead_name",
    "lead_rank",
    "with_strips",
]
