"""Settings and results of digitisation: plain frozen dataclasses, numpy arrays, units in names.

This is the contract between the digitisation core and everything that uses it (CLI, GUI,
benchmarks, rhythm training). Fields may be added; existing ones keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

BinarizeMethod = Literal["auto", "otsu", "modified_otsu", "adaptive", "manual"]
LayoutName = Literal["auto", "single", "3x4", "3x4+1", "3x4+3", "6x2", "12x1"]

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


@dataclass(frozen=True)
class CropBox:
    """A crop in pixels of the (rotated) page: columns [x0, x1), rows [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass(frozen=True)
class DigitizeSettings:
    """What the user (or the defaults) decide. ``None`` means "detect automatically"."""

    crop: CropBox | None = None
    rotation_deg: float | None = None  # None: estimate from the grid; a number: apply that
    binarize_method: BinarizeMethod = "auto"
    threshold: float | None = None  # 0..1 on the grid-suppressed grey image, for "manual"
    paper_speed_mm_s: float = 25.0  # 25 or 50
    gain_mm_mv: float = 10.0  # 5, 10 or 20
    px_per_mm: float | None = None  # override the detected grid scale (both axes)
    dpi: float | None = None  # fallback scale when no grid is found (from file or user)
    layout: LayoutName = "auto"
    rhythm_lead: str = "II"
    output_fs_hz: float = 500.0
    correct_perspective: bool = True


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
    """The page's arrangement: a name from :data:`LayoutName` and one box per lead segment."""

    name: str
    boxes: tuple[LeadBox, ...]
    rhythm_lead: str | None = None  # name of the lead chosen for rhythm analysis


@dataclass(frozen=True)
class Lead:
    """One extracted lead: samples in mV at ``fs_hz`` starting at ``start_s`` on the page."""

    name: str
    signal_mv: np.ndarray
    fs_hz: float
    start_s: float
    valid_mask: np.ndarray  # bool, same length as signal_mv; False = gap / not traced
    quality: float  # 0 (unusable) .. 1 (clean)
    trace_x_px: np.ndarray = field(default_factory=lambda: np.zeros(0))  # overlay, image coords
    trace_y_px: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def duration_s(self) -> float:
        return len(self.signal_mv) / self.fs_hz


@dataclass(frozen=True)
class Digitization:
    """Everything :func:`ecgviewer.digitize.digitize` found. Coordinates refer to ``image_rgb``
    after rotation (``rotation_deg``) and perspective correction, before cropping; the binary
    image covers ``crop``."""

    image_rgb: np.ndarray  # the rotated page the coordinates refer to (uint8, H×W×3)
    binary: np.ndarray  # bool, True = trace ink, shape (crop.height, crop.width)
    crop: CropBox
    rotation_deg: float
    calibration: Calibration
    layout: Layout
    leads: tuple[Lead, ...]
    warnings: tuple[str, ...] = ()
    quality: float = 0.0
    threshold: float | None = None  # the threshold actually used (0..1), for the GUI slider
    timings_s: dict = field(default_factory=dict)

    def lead(self, name: str) -> Lead:
        for lead in self.leads:
            if lead.name.lower() == name.lower():
                return lead
        raise KeyError(f"lead {name!r} not found; have {[ld.name for ld in self.leads]}")

    @property
    def rhythm_lead(self) -> Lead | None:
        """The lead chosen for rhythm analysis (longest lead II strip on 12-lead pages)."""
        name = self.layout.rhythm_lead
        if name is None:
            return max(self.leads, key=lambda ld: ld.duration_s, default=None)
        matches = [ld for ld in self.leads if ld.name == name]
        return max(matches, key=lambda ld: ld.duration_s) if matches else None
