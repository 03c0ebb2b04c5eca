"""The colours of ECG paper: grid presets (minor and major lines, tinted paper) and trace inks.

One table for everything that draws paper: the renderer prints with it and the GUI draws its
waveform grid in the "pink" preset.
"""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class GridColours:
    """Minor/major line colours and the paper tint that goes with a grid preset."""

    minor: RGB
    major: RGB
    tinted_paper: RGB


GRID_PRESETS: dict[str, GridColours | None] = {
    "red": GridColours(minor=(244, 178, 178), major=(226, 96, 96), tinted_paper=(255, 246, 244)),
    "pink": GridColours(minor=(248, 206, 216), major=(236, 140, 166), tinted_paper=(255, 245, 248)),
    "orange": GridColours(minor=(250, 208, 168), major=(238, 150, 80), tinted_paper=(255, 248, 236)),
    "green": GridColours(minor=(186, 222, 186), major=(100, 176, 100), tinted_paper=(244, 252, 244)),
    "blue": GridColours(minor=(186, 204, 240), major=(100, 138, 220), tinted_paper=(244, 247, 255)),
    "grey": GridColours(minor=(214, 214, 214), major=(150, 150, 150), tinted_paper=(248, 248, 246)),
    "none": None,
}

TRACE_COLOURS: dict[str, RGB] = {"black": (18, 18, 18), "dark_blue": (20, 32, 110)}

__all__ = ["GRID_PRESETS", "RGB", "TRACE_COLOURS", "GridColours"]
