"""How pixels of a page map to physical units and where each lead sits: plain frozen dataclasses
shared by the renderer (ground truth) and the digitiser (what it found)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Calibration:
    """How pixels map to physical units."""

    px_per_mm_x: float
    px_per_mm_y: float
    paper_speed_mm_s: float
    gain_mm_mv: float
    source: Literal["grid", "pulse", "user", "dpi", "default"]
    grid_found: bool = False
    pulse_found: bool = False
    pulse_height_mm: float | None = None  # measured height of the 1 mV pulse, if found

    @property
    def px_per_s(self) -> float:
        return self.px_per_mm_x * self.paper_speed_mm_s

    @property
    def px_per_mv(self) -> float:
        return self.px_per_mm_y * self.gain_mm_mv


@dataclass(frozen=True)
class LeadBox:
    """Where one lead sits on the (rotated, cropped) image, in pixels."""

    name: str
    x0: int
    x1: int
    y0: int
    y1: int
    baseline_y: float  # row of 0 mV
    row: int
    col: int


@dataclass(frozen=True)
class Layout:
    """The page's arrangement: a layout name (see :data:`~ecgviewer.paper.layouts.LAYOUT_SPECS`)
    and one box per lead segment."""

    name: str
    boxes: tuple[LeadBox, ...]
    rhythm_lead: str | None = None  # name of the lead chosen for rhythm analysis
