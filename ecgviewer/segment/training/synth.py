"""Synthetic training pages for the trace segmenter, with exact per-pixel masks.

A record is printed by our renderer at 8 px/mm on white paper with no grid, twice: once with
only the trace (the exact trace mask) and once with the page furniture (pulse, separator
ticks, labels, header: the exact "marks" mask is the extra ink). The page is then composed
here from those layers and a grid drawn here (so grid colour, darkness, pitch style and width
vary far beyond the renderer's presets), distractors are added, and :mod:`augment` warps image
and masks together and degrades the image like a scanner or phone camera would.

Held-out styles (:data:`HELD_OUT`) never appear in training pages; ``held_out=True`` draws
pages that use them, for validation and benchmarks.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ecgviewer.io.signals import Record, read_cinc_mat, read_wfdb
from ecgviewer.render import RenderStyle, random_style, render_ecg
from ecgviewer.segment.training import augment

PX_PER_MM = 8.0
DPI = PX_PER_MM * 25.4
HELD_OUT: frozenset[str] = frozenset({"blue_grid", "crease"})
GRID_HUES: dict[str, tuple[float, float]] = {  # hue (0..1), saturation of the major lines
    "red": (0.0, 0.62),
    "pink": (0.95, 0.45),
    "orange": (0.08, 0.68),
    "green": (0.33, 0.45),
    "blue": (0.6, 0.55),
    "grey": (0.0, 0.0),
    "black": (0.0, 0.0),
}
TRAIN_GRID_FAMILIES = ("red", "red", "pink", "orange", "green", "grey", "black", "none")
PTBXL_LAYOUTS = ("3x4", "3x4+1", "3x4+1", "3x4+3", "6x2", "12x1")
TRACE_INK = 18  # renderer's black trace grey level


@dataclass(frozen=True)
class SynthPage:
    """Windows of one augmented page: images and masks (trace, grid, marks), uint8 0..255."""

    image_rgb: np.ndarray  # N×H×W×3 uint8 windows
    masks: np.ndarray  # N×H×W×3 uint8
    family: str  # grid family, "+photo" when photographed, "+crease" when creased


def ptbxl_records(data_dir: Path, numbers: range) -> list[Path]:
    """WFDB header paths of PTB-XL records ``numbers`` (1-based; 301-400 are benchmarks')."""
    base = data_dir / "ptbxl" / "records500"
    return [base / f"{(n // 1000) * 1000:05d}" / f"{n:05d}_hr.hea" for n in numbers]


def cinc_records(data_dir: Path, start: int, stop: int) -> list[Path]:
    """CinC 2017 ``.mat`` paths from the RECORDS list [start, stop); its tail is benchmarks'."""
    folder = data_dir / "cinc2017" / "training2017"
    names = (folder / "RECORDS").read_text().split()
    return [folder / f"{n}.mat" for n in names[start:stop]]


def load_record(path: Path) -> Record:
    return read_cinc_mat(path) if path.suffix == ".mat" else read_wfdb(path)


def _ink_alpha(rgb: np.ndarray) -> np.ndarray:
    """Ink coverage (0..1) of a render on white paper with black ink."""
    grey = rgb.astype(np.float32).mean(axis=2)
    return np.clip((255.0 - grey) / (255.0 - TRACE_INK), 0.0, 1.0)


def render_layers(
    record: Record, rng: np.random.Generator, style: RenderStyle | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact trace and marks coverage (float32 H×W each) of a page of ``record``, in ``style``
    (geometry, pulse, labels; a random one when None) with a random trace width."""
    if style is None:
        layouts = ("single",) if record.signal_mv.shape[1] < 12 else PTBXL_LAYOUTS
        style, _ = random_style(rng, layouts)
    base = replace(
        style,
        dpi=DPI,
        grid="none",
        tinted_paper=False,
        trace_colour="black",
        trace_width_mm=float(np.exp(rng.uniform(np.log(0.07), np.log(0.38)))),
    )
    trace_only = replace(  # blank header lines keep the rows where they are
        base,
        calibration_pulse=False,
        lead_labels=False,
        separators=False,
        header_lines=tuple(" " for _ in base.header_lines),
    )
    trace = _ink_alpha(render_ecg(record, trace_only).image_rgb)
    furniture = _ink_alpha(render_ecg(record, base).image_rgb)
    marks = np.clip(furniture - trace, 0.0, 1.0)
    return trace, marks


def _line_coverage(n: int, pitch: float, offset: float, width: float) -> np.ndarray:
    """Box-filtered coverage of lines at ``offset + k * pitch`` with ``width`` (pixels)."""
    i = np.arange(n, dtype=np.float32)
    d = np.abs(((i - offset) % pitch + pitch / 2) % pitch - pitch / 2)
    return np.clip(width / 2 + 0.5 - d, 0.0, 1.0) * min(width, 1.0) ** 0.3


def draw_grid(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Minor and major grid coverage (H×W float32) over a random rectangle of the page."""
    h, w = shape
    pitch = PX_PER_MM * float(rng.uniform(0.985, 1.015))  # printer scale error
    ox, oy = rng.uniform(0, 5 * pitch, 2)
    minor_w, major_w = rng.uniform(0.5, 1.6), rng.uniform(1.0, 2.8)
    kind = rng.choice(["lines", "lines", "lines", "dotted", "major_only"])
    cx_minor = _line_coverage(w, pitch, ox, minor_w)
    cy_minor = _line_coverage(h, pitch, oy, minor_w)
    cx_major = _line_coverage(w, 5 * pitch, ox, major_w)
    cy_major = _line_coverage(h, 5 * pitch, oy, major_w)
    if kind == "dotted":
        dot_x = _line_coverage(w, pitch, ox, max(minor_w, 1.4))
        dot_y = _line_coverage(h, pitch, oy, max(minor_w, 1.4))
        minor = np.outer(dot_y, dot_x)
    elif kind == "major_only":
        minor = np.zeros((h, w), np.float32)
    else:
        minor = 1 - np.outer(1 - cy_minor, 1 - cx_minor)
    major = 1 - np.outer(1 - cy_major, 1 - cx_major)
    area = np.zeros((h, w), np.float32)
    x0, y0 = (rng.uniform(0, 0.05, 2) * (w, h)).astype(int)
    x1, y1 = (w, h) - (rng.uniform(0, 0.05, 2) * (w, h)).astype(int)
    area[y0:y1, x0:x1] = 1.0
    return (minor * area).astype(np.float32), (major * area).astype(np.float32)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.asarray(colorsys.hsv_to_rgb(h % 1.0, np.clip(s, 0, 1), np.clip(v, 0, 1)), np.float32)


def grid_colours(family: str, rng: np.random.Generator, trace_rgb: np.ndarray):
    """(minor, major) RGB 0..1 of a grid family, jittered; "dark" grids rival the trace."""
    hue, sat = GRID_HUES[family]
    hue += rng.normal(0, 0.015)
    if family == "black":
        major = np.full(3, rng.uniform(0.05, 0.45), np.float32)
    elif rng.random() < 0.15:  # as dark as the trace
        major = _hsv(hue, sat + 0.3, rng.uniform(0.35, 0.6))
        if family == "grey":
            major = np.minimum(trace_rgb + rng.uniform(0.0, 0.2), 1.0).astype(np.float32)
    else:
        major = _hsv(hue, sat * rng.uniform(0.6, 1.3), rng.uniform(0.6, 0.92))
    lighten = rng.uniform(0.2, 0.7)
    minor = major + lighten * (1.0 - major)
    return minor.astype(np.float32), major.astype(np.float32)


def _trace_colour(rng: np.random.Generator) -> np.ndarray:
    r = rng.random()
    if r < 0.55:
        return np.full(3, rng.uniform(0.0, 0.2), np.float32)  # black / dark grey
    if r < 0.75:
        return _hsv(rng.uniform(0.58, 0.7), rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.6))
    if r < 0.85:
        return np.full(3, rng.uniform(0.25, 0.5), np.float32)  # faded / grey print
    return _hsv(rng.uniform(0, 1), rng.uniform(0.2, 0.7), rng.uniform(0.1, 0.45))


def _paper_colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.6:
        return np.full(3, rng.uniform(0.93, 1.0), np.float32)
    return _hsv(rng.uniform(0, 1), rng.uniform(0.02, 0.12), rng.uniform(0.88, 1.0))


def distractor_layer(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Handwriting-like strokes and stamps crossing the page (coverage H×W float32)."""
    h, w = shape
    layer = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(1, 7))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        pts, ang = [], rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(8, 60))):
            ang += rng.normal(0, 0.7)
            step = rng.uniform(4, 20)
            x, y = x + step * np.cos(ang), y + step * np.sin(ang)
            pts.append((x, y))
        draw.line(pts, fill=int(rng.integers(150, 256)), width=int(rng.integers(1, 5)), joint="curve")
    if rng.random() < 0.4:  # a stamp: ring or box with lines of text
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(60, 180)
        width = int(rng.integers(2, 6))
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=200, width=width)
        else:
            draw.rectangle((cx - r, cy - r / 2, cx + r, cy + r / 2), outline=200, width=width)
        for k in range(int(rng.integers(1, 4))):
            draw.text((cx - r * 0.6, cy - r / 4 + k * r / 5), "RECEIVED 2024", fill=200)
    return np.asarray(layer, np.float32) / 255.0 * rng.uniform(0.6, 1.0)


@dataclass(frozen=True)
class Palette:
    """Colours (RGB 0..1) of one page."""

    paper: np.ndarray
    minor: np.ndarray
    major: np.ndarray
    marks: np.ndarray
    trace: np.ndarray
    pen: np.ndarray
    pen_over: bool


def draw_palette(family: str, rng: np.random.Generator) -> Palette:
    trace = _trace_colour(rng)
    minor, major = grid_colours(family, rng, trace) if family != "none" else (trace, trace)
    pen = _hsv(float(rng.choice([0.62, 0.0, 0.78, 0.6])), rng.uniform(0.4, 0.9),
               rng.uniform(0.2, 0.7))
    if rng.random() < 0.3:
        pen = np.full(3, rng.uniform(0.05, 0.3), np.float32)
    return Palette(
        paper=_paper_colour(rng),
        minor=minor,
        major=major,
        marks=trace if rng.random() < 0.7 else _trace_colour(rng),
        trace=trace,
        pen=pen,
        pen_over=bool(rng.random() < 0.5),
    )


def _blend(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return img + alpha[..., None] * (colour - img)


def compose_window(layers: np.ndarray, pal: Palette, desk: np.ndarray):
    """Colour image (H×W×3 float) and masks (trace, grid, marks) from warped layers
    (trace, marks, minor grid, major grid, pen, sheet)."""
    trace, marks, minor, major, pen, sheet = layers
    img = np.broadcast_to(pal.paper, (*trace.shape, 3)).astype(np.float32)
    img = _blend(_blend(img, minor, pal.minor), major, pal.major)
    img = _blend(img, marks, pal.marks)
    if pal.pen_over:
        img = _blend(_blend(img, trace, pal.trace), pen, pal.pen)
    else:
        img = _blend(_blend(img, pen, pal.pen), trace, pal.trace)
    img = img + (1.0 - sheet)[..., None] * desk  # layers were zero-padded outside the sheet
    grid = np.maximum(minor, major) * (1.0 - np.maximum(np.maximum(trace, marks), pen))
    return img, np.stack([trace, grid, marks], axis=-1)


def _window_origins(trace: np.ndarray, warp, n: int, size: int, rng: np.random.Generator):
    """Top-left corners of ``n`` windows, most centred on a trace pixel."""
    cw, ch = warp.canvas_wh
    ys, xs = np.nonzero(trace[::4, ::4] > 0.3)
    out = []
    for _ in range(n):
        if len(xs) and rng.random() < 0.75:
            k = int(rng.integers(len(xs)))
            cx, cy = augment.page_to_canvas(warp, xs[k] * 4.0, ys[k] * 4.0)
            cx, cy = cx + rng.uniform(-size / 3, size / 3), cy + rng.uniform(-size / 3, size / 3)
        else:
            cx, cy = rng.uniform(0, cw), rng.uniform(0, ch)
        x0 = int(np.clip(cx - size / 2, 0, max(cw - size, 0)))
        y0 = int(np.clip(cy - size / 2, 0, max(ch - size, 0)))
        out.append((x0, y0))
    return out


def make_windows(records: list[Path], rng: np.random.Generator, n_windows: int = 5,
                 size: int = 512, held_out: bool = False) -> SynthPage:
    """``n_windows`` augmented windows of one random page; ``held_out`` uses held-out styles."""
    record = load_record(records[int(rng.integers(len(records)))])
    trace, marks = render_layers(record, rng)
    if held_out:
        family = "blue" if rng.random() < 0.6 else str(rng.choice(TRAIN_GRID_FAMILIES))
        crease = family != "blue" or rng.random() < 0.5
    else:
        family, crease = str(rng.choice(TRAIN_GRID_FAMILIES)), False
    shape = trace.shape
    minor, major = draw_grid(shape, rng) if family != "none" else (np.zeros(shape, np.float32),) * 2
    pen = distractor_layer(shape, rng) if rng.random() < 0.4 else np.zeros(shape, np.float32)
    layers = torch.from_numpy(np.stack([trace, marks, minor, major, pen, np.ones(shape, np.float32)]))
    photo = bool(rng.random() < 0.5)
    warp = augment.make_warp((shape[1], shape[0]), rng, photo, crease)
    pal = draw_palette(family, rng)
    images, masks = [], []
    for x0, y0 in _window_origins(trace, warp, n_windows, size, rng):
        warped, xx, yy = augment.sample_layers(layers, warp, x0, y0, size)
        img, mask = compose_window(warped, pal, warp.desk)
        img = augment.light_window(img, warp, xx, yy, rng)
        images.append(augment.degrade(img, rng, photo))
        masks.append(np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8))
    tag = family + ("+photo" if photo else "") + ("+crease" if crease else "")
    return SynthPage(image_rgb=np.stack(images), masks=np.stack(masks), family=tag)
