"""pyqtgraph, configured once for the whole app: images are (row, column), as numpy has them."""

from __future__ import annotations

import pyqtgraph as pg

from ecgviewer.paper.colours import GRID_PRESETS

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="k")

# ECG paper: the grid in the "pink" preset of ecgviewer.paper.colours, on a near-white paper
PAPER_RGB = (255, 250, 251)
MINOR_RGB = GRID_PRESETS["pink"].minor
MAJOR_RGB = GRID_PRESETS["pink"].major
TRACE_RGB = (20, 20, 20)
RHYTHM_RGB = (21, 101, 192)
CLASS_COLOURS = {"N": (46, 125, 50), "A": (198, 40, 40), "O": (239, 108, 0), "~": (117, 117, 117)}

__all__ = ["CLASS_COLOURS", "MAJOR_RGB", "MINOR_RGB", "PAPER_RGB", "RHYTHM_RGB", "TRACE_RGB", "pg"]
