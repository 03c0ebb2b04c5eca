"""The paper of the rhythm round trip (issue 18's variety): whole single-lead strips drawn the way
the trace segmenter's training pages are, seeded per record.

A record is laid out by the renderer in a random single-lead style (speed, gain, row length,
labels, separator ticks, header lines: :func:`ecgviewer.render.random_style`) with its 1 mV
pulse before the trace, apart from it (:data:`PULSE_APART_GAP_S` of blank paper, then the trace,
on every row) or absent. The segmenter synth turns it into trace and marks layers and supplies
the rest: grids red, pink, orange, green, blue, grey, black or none, 1 + 5 mm, 5 mm only or
dotted, sometimes as dark as the trace; trace inks and widths (0.5-3 px); tinted paper;
handwriting and stamps across the traces. Then a scanner: uneven light, wrinkle ripples and
moire (:func:`~ecgviewer.segment.training.augment.light_window`), rotation, and low resolution,
blur, noise, greyscale and JPEG (:func:`~ecgviewer.segment.training.augment.degrade`).
The page is a file at :data:`DPI`. Not drawn: photo geometry (perspective, curl, creases, desk):
the digitiser is told the file's dpi, which a photo does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ecgviewer.render import Distortions, RenderStyle, apply_distortions, random_style
from ecgviewer.render.renderer import plan_record
from ecgviewer.segment.training import augment, synth

DPI = synth.DPI  # 8 px/mm, the segmenter's scale
PULSE_PLACES: dict[str, float] = {"before": 0.45, "apart": 0.35, "none": 0.20}  # probabilities
PULSE_APART_GAP_S = 0.3  # the independent test's strips: pulse, 0.3 s gap, trace
GRID_FAMILIES = ("red", "red", "pink", "orange", "green", "blue", "grey", "black", "none")
HANDWRITING_P = 0.3
ROTATION_P, ROTATION_SD_DEG = 0.75, 1.2
# a long record at 20 mm/mV or 50 mm/s may not fit the page: fall back to what fits
FIT_FALLBACKS: tuple[dict, ...] = (
    {},
    {"gain_mm_mv": 10.0},
    {"gain_mm_mv": 10.0, "paper_speed_mm_s": 25.0, "row_seconds": 10.0},
    {"gain_mm_mv": 5.0, "paper_speed_mm_s": 25.0, "row_seconds": 10.0},
)


@dataclass(frozen=True)
class PageChoices:
    """What a strip will have, drawn before anything is printed."""

    style: RenderStyle  # as drawn (before :func:`fit_style` fits the record)
    pulse: str  # a key of PULSE_PLACES
    grid: str  # one of GRID_FAMILIES
    handwriting: bool

    @property
    def tags(self) -> str:
        return f"grid={self.grid} pulse={self.pulse} pen={int(self.handwriting)}"


@dataclass(frozen=True)
class VarietyPage:
    """A printed strip: the image, the style it was laid out in, the record seconds on it and
    what was drawn (:attr:`PageChoices.tags`)."""

    image_rgb: np.ndarray
    style: RenderStyle
    printed_s: float
    tags: str


def choose(rng: np.random.Generator) -> PageChoices:
    """Draw a strip's style, pulse place, grid family and handwriting."""
    style, _ = random_style(rng, ("single",))
    pulse = str(rng.choice(list(PULSE_PLACES), p=list(PULSE_PLACES.values())))
    style = replace(
        style,
        dpi=DPI,
        calibration_pulse=pulse != "none",
        pulse_gap_s=PULSE_APART_GAP_S if pulse == "apart" else None,
    )
    return PageChoices(style, pulse, str(rng.choice(GRID_FAMILIES)), rng.random() < HANDWRITING_P)


def page_choices(seed: int) -> PageChoices:
    """What the page of ``seed`` has (cheap: nothing is drawn)."""
    return choose(np.random.default_rng(seed))


def fit_style(record, style: RenderStyle) -> tuple[RenderStyle, float]:
    """The first of :data:`FIT_FALLBACKS` that puts the whole record on the page (gain and
    speed only ever lowered), and the record seconds it prints."""
    for fallback in FIT_FALLBACKS:
        if "gain_mm_mv" in fallback:
            fallback = {**fallback, "gain_mm_mv": min(style.gain_mm_mv, fallback["gain_mm_mv"])}
        tried = replace(style, **fallback)
        printed_s = plan_record(record, tried)[2].page_seconds
        if printed_s >= record.duration_s - 0.05:
            break
    return tried, printed_s


def draw_page(record, seed: int) -> VarietyPage:
    """``record`` (first lead) printed on a random strip of the variety, seeded."""
    rng = np.random.default_rng(seed)
    pick = choose(rng)
    style, printed_s = fit_style(record, pick.style)
    trace, marks = synth.render_layers(record, rng, style)
    blank = np.zeros(trace.shape, np.float32)
    minor, major = synth.draw_grid(trace.shape, rng) if pick.grid != "none" else (blank, blank)
    pen = synth.distractor_layer(trace.shape, rng) if pick.handwriting else blank
    layers = np.stack([trace, marks, minor, major, pen, np.ones(trace.shape, np.float32)])
    palette = synth.draw_palette(pick.grid, rng)
    img, _ = synth.compose_window(layers, palette, np.zeros(3, np.float32))
    return VarietyPage(_scan(img, palette.paper, rng), style, printed_s, pick.tags)


def _scan(img: np.ndarray, paper_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A flatbed scan of the composed page (float H×W×3, 0..1): light, rotation, optics, file."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = augment.light_window(img, augment.make_warp((w, h), rng, False, False), xx, yy, rng)
    rotation = float(rng.normal(0.0, ROTATION_SD_DEG)) if rng.random() < ROTATION_P else 0.0
    u8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    fill = tuple(int(c * 255 + 0.5) for c in paper_rgb)
    u8 = apply_distortions(u8, Distortions(rotation_deg=rotation), rng, fill_rgb=fill)
    return augment.degrade(u8.astype(np.float32) / 255.0, rng, photo=False)
