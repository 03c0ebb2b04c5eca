"""Re-create ``cinc2017_A00004_strip.png`` and its ground truth from the CinC 2017 record.

    python resources/samples/make_cinc_strip.py [DATA_DIR]

The page is the renderer's clean single-lead layout at 100 dpi (25 mm/s, 10 mm/mV, red grid,
3 rows of 10 s); the truth is what was plotted, in mV at 300 Hz (NaN where nothing was).
"""

from __future__ import annotations

import io
import sys
from dataclasses import replace
from pathlib import Path

from PIL import Image

from ecgviewer.io.signals import atomic_write_bytes, read_wfdb, write_wfdb
from ecgviewer.paths import data_dir
from ecgviewer.render import RenderStyle, render_ecg

NAME = "cinc2017_A00004_strip"


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else data_dir()
    if root is None:
        sys.exit("data folder not found: pass it as an argument or set ECGVIEWER_DATA")
    record = read_wfdb(root / "cinc2017" / "training2017" / "A00004.hea")
    style = RenderStyle(layout="single", dpi=100.0)
    page = render_ecg(record, style, seed=0)
    out = Path(__file__).resolve().parent
    buf = io.BytesIO()
    Image.fromarray(page.image_rgb).save(buf, format="PNG", dpi=(style.dpi, style.dpi))
    atomic_write_bytes(out / f"{NAME}.png", buf.getvalue())
    write_wfdb(replace(page.truth, name=f"{NAME}_truth"), out / f"{NAME}_truth")
    atomic_write_bytes(out / f"{NAME}_truth.json", page.sidecar_json().encode())
    print(out / f"{NAME}.png")


if __name__ == "__main__":
    main()
