"""Settings and results of digitisation: plain frozen dataclasses, numpy arrays, units in names.

This is the contract between the digitisation core and everything that uses it (CLI, GUI,
benchmarks, rhythm training). Fields may be added; existing ones keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from ecgviewer.paper.layouts import PaperLayoutName
from ecgviewer.paper.types import Calibration, Layout

BinarizeMethod = Literal["auto", "otsu", "modified_otsu", "adaptive", "manual"]
LayoutName = Literal["auto", PaperLayoutName]

# the choices as tuples, for command-line options and GUI menus (one list: the Literal)
BINARIZE_METHODS: tuple[str, ...] = get_args(BinarizeMethod)
LAYOUT_NAMES: tuple[str, ...] = get_args(LayoutName)


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
    # 5, 10 or 20; None: a clearly measured 1 mV pulse of a standard height says, else 10
    gain_mm_mv: float | None = None
    px_per_mm: float | None = None  # override the detected grid scale (both axes)
    dpi: float | None = None  # fallback scale when no grid is found (from file or user)
    layout: LayoutName = "auto"
    rhythm_lead: str = "II"
    output_fs_hz: float = 500.0
    correct_perspective: bool = True

    def __post_init__(self) -> None:
        from ecgviewer.io.limits import validate_settings

        validate_settings(self, BINARIZE_METHODS, LAYOUT_NAMES)  # SettingsError naming the field; one rule for CLI, GUI, sessions


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
    # why the result cannot be right as it stands (see ecgviewer.digitize.checks); any -> review
    review_reasons: tuple[str, ...] = ()

    @property
    def status(self) -> Literal["ok", "needs_review"]:
        """``"needs_review"`` when a self-check found the result implausible, else ``"ok"``."""
        return "needs_review" if self.review_reasons else "ok"

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
