"""How a rendered ECG page looks (:class:`RenderStyle`) and how it is degraded (:class:`Distortions`).

Both are small frozen dataclasses so a rendered page is fully described by
``(record, style, distortions, seed)``; :func:`random_style` draws varied pairs for training
data and :data:`DISTORTION_PRESETS` holds the fixed conditions the benchmarks use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from ecgviewer.paper.layouts import LAYOUT_SPECS, PAPER_LAYOUTS, PaperLayoutName

LAYOUTS: tuple[str, ...] = PAPER_LAYOUTS  # the layouts the renderer prints
GridPreset = Literal["red", "pink", "orange", "green", "blue", "grey", "none"]  # GRID_PRESETS

PAPER_SIZES_MM: dict[str, tuple[float, float]] = {
    "a4": (297.0, 210.0),  # landscape: width, height
    "letter": (279.4, 215.9),
}


@dataclass(frozen=True)
class RenderStyle:
    """Everything that decides how a record is printed on paper (geometry, colours, text)."""

    layout: PaperLayoutName = "3x4+1"
    dpi: float = 200.0  # 100..600
    paper_speed_mm_s: float = 25.0  # 25 or 50
    gain_mm_mv: float = 10.0  # 5, 10 or 20
    paper: Literal["a4", "letter"] = "a4"
    grid: GridPreset = "red"
    grid_dotted: bool = False  # minor grid as dots at the 1 mm crossings
    tinted_paper: bool = False
    grid_minor_width_mm: float = 0.1
    grid_major_width_mm: float = 0.2
    trace_width_mm: float = 0.3
    trace_colour: Literal["black", "dark_blue"] = "black"
    calibration_pulse: bool = True
    pulse_gap_s: float | None = None  # blank paper from the pulse's end to the trace (None: ~0.1 s)
    lead_labels: bool = True
    label_position: Literal["above", "below"] = "above"  # of the baseline, at segment start
    separators: bool = True  # short vertical ticks between time-segmented columns
    header_lines: tuple[str, ...] = ()  # text printed above the grid
    row_seconds: float = 10.0  # "single" layout: seconds per row (clamped to the page width)
    single_lead: str | None = None  # "single" layout: which lead (default: the first)
    page_seconds: float | None = None  # 12-lead layouts: default 10 s (25 mm/s) or 5 s (50)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Distortions:
    """Scan/photo degradations, applied in a fixed order with a seed (same seed, same image)."""

    rotation_deg: float = 0.0
    blur_sigma_px: float = 0.0
    noise_std: float = 0.0  # Gaussian noise, in grey levels (0..255)
    jpeg_quality: int | None = None  # None: no JPEG round trip
    lighting_strength: float = 0.0  # 0..1: darkening of a smooth random illumination field
    greyscale: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def is_clean(self) -> bool:
        return self == Distortions()


DISTORTION_PRESETS: dict[str, Distortions] = {
    "clean": Distortions(),
    "distorted": Distortions(
        rotation_deg=1.5,
        blur_sigma_px=1.0,
        noise_std=8.0,
        jpeg_quality=60,
        lighting_strength=0.35,
        greyscale=False,
    ),
}

_HEADER_SAMPLES = (
    ("ID: 000000  Name: (anonymised)", "25 mm/s  10 mm/mV  0.05-150 Hz", "Research rendering"),
    ("Vent rate 72 bpm", "PR 160 ms  QRS 90 ms  QT/QTc 380/410 ms", "Unconfirmed report"),
    ("ECG Viewer synthetic page",),
)


def random_style(
    rng: np.random.Generator, layouts: tuple[str, ...] | None = None
) -> tuple[RenderStyle, Distortions]:
    """Draw a varied, realistic (style, distortions) pair for training and robustness tests.

    ``layouts`` restricts the choice (e.g. ``("single",)`` for single-lead records).
    """
    layout = str(rng.choice(layouts or LAYOUTS))
    speed = 25.0 if rng.random() < 0.85 else 50.0
    n_rows = LAYOUT_SPECS[layout].n_rows
    if n_rows >= 12:
        gain = 5.0 if rng.random() < 0.7 else 10.0
    elif n_rows >= 6:  # six rows: 20 mm/mV would pile the traces up
        gain = float(rng.choice([5.0, 10.0, 10.0, 10.0]))
    else:
        gain = float(rng.choice([5.0, 10.0, 10.0, 10.0, 20.0]))
    grid = str(rng.choice(["red", "red", "pink", "orange", "green", "blue", "grey", "none"]))
    style = RenderStyle(
        layout=layout,  # type: ignore[arg-type]
        dpi=float(rng.choice([100, 150, 200, 200, 300])),
        paper_speed_mm_s=speed,
        gain_mm_mv=gain,
        paper=str(rng.choice(["a4", "letter"])),  # type: ignore[arg-type]
        grid=grid,  # type: ignore[arg-type]
        grid_dotted=bool(rng.random() < 0.15),
        tinted_paper=bool(rng.random() < 0.3),
        grid_minor_width_mm=float(rng.uniform(0.06, 0.14)),
        grid_major_width_mm=float(rng.uniform(0.15, 0.3)),
        trace_width_mm=float(rng.uniform(0.2, 0.45)),
        trace_colour="black" if rng.random() < 0.8 else "dark_blue",
        calibration_pulse=bool(rng.random() < 0.85),
        lead_labels=bool(rng.random() < 0.9),
        label_position="above" if rng.random() < 0.6 else "below",
        separators=bool(rng.random() < 0.8),
        header_lines=_HEADER_SAMPLES[int(rng.integers(len(_HEADER_SAMPLES)))]
        if rng.random() < 0.7
        else (),
        row_seconds=float(rng.choice([5.0, 10.0, 10.0])),
    )
    if rng.random() < 0.25:
        distortions = Distortions()
    else:
        distortions = Distortions(
            rotation_deg=float(rng.normal(0.0, 1.2)),
            blur_sigma_px=float(rng.uniform(0.0, 1.3)),
            noise_std=float(rng.uniform(0.0, 12.0)),
            jpeg_quality=int(rng.integers(40, 95)) if rng.random() < 0.6 else None,
            lighting_strength=float(rng.uniform(0.0, 0.45)),
            greyscale=bool(rng.random() < 0.25),
        )
    return style, distortions


def resolve_distortions(spec: str | Distortions | None, rng: np.random.Generator) -> Distortions:
    """A preset name ("clean", "distorted", "random"), an explicit object, or None (clean)."""
    if spec is None:
        return Distortions()
    if isinstance(spec, Distortions):
        return spec
    if spec == "random":
        return random_style(rng)[1]
    if spec not in DISTORTION_PRESETS:
        raise ValueError(f"unknown distortion preset {spec!r}; choose from {sorted(DISTORTION_PRESETS)}")
    return DISTORTION_PRESETS[spec]


__all__ = [
    "DISTORTION_PRESETS",
    "LAYOUTS",
    "PAPER_SIZES_MM",
    "Distortions",
    "RenderStyle",
    "random_style",
    "resolve_distortions",
]
