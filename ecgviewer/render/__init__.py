"""Signals onto ECG paper, with exact ground truth (for testing and training the digitiser).

>>> from ecgviewer.render import render_ecg, RenderStyle
>>> page = render_ecg(record, RenderStyle(layout="3x4+1", dpi=200))  # doctest: +SKIP
>>> page.image_rgb.shape, page.truth.lead_names  # doctest: +SKIP
"""

from ecgviewer.paper.colours import GRID_PRESETS, TRACE_COLOURS
from ecgviewer.render.distort import apply_distortions
from ecgviewer.render.layout import plan_page
from ecgviewer.render.renderer import RenderedEcg, render_ecg
from ecgviewer.render.style import (
    DISTORTION_PRESETS,
    LAYOUTS,
    Distortions,
    RenderStyle,
    random_style,
    resolve_distortions,
)

__all__ = [
    "DISTORTION_PRESETS",
    "GRID_PRESETS",
    "LAYOUTS",
    "TRACE_COLOURS",
    "Distortions",
    "RenderStyle",
    "RenderedEcg",
    "apply_distortions",
    "plan_page",
    "random_style",
    "render_ecg",
    "resolve_distortions",
]
