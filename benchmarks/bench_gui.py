"""How quick the desktop app feels: start time, open-to-waveform time on 200 dpi pages, and the
latency of the live threshold preview (target ≤ 100 ms). Prints a table.

    QT_QPA_PLATFORM=offscreen nice python benchmarks/bench_gui.py [--data ../shared/data] [--repeat 3]

Pages are rendered from PTB-XL record 1 (3×4 + rhythm strip) and CinC A00004 (single-lead
strip) with :func:`ecgviewer.render.render_ecg` at 200 dpi; a real scan (ecg00001.png,
3167×1580) is timed too. The rhythm model runs when its weights are present.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

START_SNIPPET = (
    "import time, sys; t0 = time.perf_counter();"
    "from ecgviewer.gui.app import application; from ecgviewer.gui.main_window import MainWindow;"
    "app = application(); w = MainWindow(settings_path=sys.argv[1]); w.show(); app.processEvents();"
    "print(f'{time.perf_counter() - t0:.3f}', flush=True); w.shutdown()"
)


def render_pages(data: Path, out: Path) -> dict[str, Path]:
    from PIL import Image

    from ecgviewer.io.signals import read_signal
    from ecgviewer.render import render_ecg
    from ecgviewer.render.style import RenderStyle

    pages = {}
    for name, rec_path, style in (
        (
            "PTB-XL 3×4+1, 200 dpi",
            data / "ptbxl/records500/00000/00001_hr.hea",
            RenderStyle(layout="3x4+1", dpi=200),
        ),
        (
            "CinC single strip, 200 dpi",
            data / "cinc2017/training2017/A00004.mat",
            RenderStyle(layout="single", dpi=200),
        ),
    ):
        page = render_ecg(read_signal(rec_path), style)
        path = out / f"{rec_path.stem}.png"
        Image.fromarray(page.image_rgb).save(path)
        pages[name] = path
    scan = data / "scans/ecg00001.png"
    if scan.is_file():
        pages["real scan ecg00001 (3167×1580)"] = scan
    return pages


def time_start(settings: Path, repeat: int) -> list[float]:
    """Seconds from interpreter start to the window shown, and process wall time."""
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", START_SNIPPET, str(settings)],
            check=True,
            capture_output=True,
            text=True,
        )
        walls.append(time.perf_counter() - t0)
    return walls


def time_open(window, app, path: Path) -> dict[str, float]:
    """Seconds from open_file to: page shown, waveform shown, rhythm result (or message) shown.
    The marks come from the document's events, after the window's own handlers drew."""
    from ecgviewer.gui.app import result_shown

    marks: dict[str, float] = {}
    doc = window.doc
    t0 = time.perf_counter()

    def mark(name):
        return lambda *_a: marks.setdefault(name, time.perf_counter() - t0)

    handlers = {"image": mark("page"), "digitization": mark("waveform"), "rhythm": mark("rhythm")}
    for name, fn in handlers.items():
        getattr(doc.events, name).connect(fn)
    try:
        window.open_file(path)
        while not (result_shown(window) and "waveform" in marks):
            app.processEvents()
            time.sleep(0.001)
    finally:
        for name, fn in handlers.items():
            getattr(doc.events, name).disconnect(fn)
    marks.setdefault("rhythm", time.perf_counter() - t0)
    marks["rhythm_ok"] = float(doc.rhythm is not None)
    return marks


def time_threshold(window, app, n: int = 30) -> list[float]:
    """Latency from a slider step to the new binary preview drawn (ms). The GUI thread waits
    in a Qt event loop (as in the app), not in a Python busy loop that would hold the GIL."""
    from PySide6.QtCore import QEventLoop, QTimer

    panel = window.settings_panel
    lat = []
    base = panel.threshold.value()
    for k in range(n):
        loop = QEventLoop()
        window.preview_shown.connect(loop.quit)
        QTimer.singleShot(10_000, loop.quit)
        t0 = time.perf_counter()
        panel.threshold.setValue(max(10, min(990, base + (k % 10 - 5) * 15 + 1)))
        loop.exec()
        window.preview_shown.disconnect(loop.quit)
        window.image_view.binary_item.update()
        app.processEvents()  # paint
        lat.append(1000 * (time.perf_counter() - t0))
        panel._commit_timer.stop()  # measure the preview only, not the re-digitisation
    return lat


def set_method(window, app, method: str) -> None:
    """Choose a binarisation method in the panel and wait for the re-digitisation."""
    panel = window.settings_panel
    panel.method.setCurrentIndex(panel.method.findData(method))
    while window.pipeline.busy or window.doc.digitization is None:
        app.processEvents()
        time.sleep(0.001)


def time_binarize(window) -> dict[str, float]:
    """The core's binarize on the cached crop, per method (ms, best of 3)."""
    from ecgviewer.digitize.binarize import binarize

    region, _ = window.doc.darkness_crop()
    out = {}
    for method in ("manual", "modified_otsu", "otsu", "adaptive", "auto"):
        best = min(_timed(lambda m=method: binarize(region, m, 0.4)) for _ in range(3))
        out[method] = 1000 * best
    return out


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    from ecgviewer.paths import data_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=data_dir())
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.data is None:
        print("no data folder: pass --data", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = tmp / "bench.ini"
        starts = time_start(settings, args.repeat)
        pages = render_pages(args.data, tmp)

        from ecgviewer.gui.app import application
        from ecgviewer.gui.main_window import MainWindow

        app = application()
        window = MainWindow(settings_path=settings, interactive=False)
        window.resize(1600, 950)
        window.show()
        rows = [
            (
                "app start (process launch → window shown)",
                f"{statistics.median(starts):.2f} s",
                f"median of {len(starts)}",
            )
        ]
        try:
            for name, path in pages.items():
                runs = [time_open(window, app, path) for _ in range(args.repeat)]
                page = statistics.median(r["page"] for r in runs)
                wave = statistics.median(r["waveform"] for r in runs)
                rhythm = statistics.median(r["rhythm"] for r in runs)
                shape = window.doc.image.rgb.shape
                rows.append(
                    (f"open {name}: page shown", f"{page:.2f} s", f"{shape[1]}×{shape[0]} px")
                )
                rows.append((f"open {name}: waveform shown", f"{wave:.2f} s", ""))
                note = (
                    "model ran"
                    if runs[-1]["rhythm_ok"]
                    else f"no model: {window.doc.rhythm_error}"[:60]
                )
                rows.append((f"open {name}: rhythm shown", f"{rhythm:.2f} s", note))
                for method in ("auto", "adaptive"):
                    set_method(window, app, method)
                    lat = sorted(time_threshold(window, app))
                    p95 = lat[int(0.95 * (len(lat) - 1))]
                    rows.append(
                        (
                            f"threshold preview latency, {method} ({name})",
                            f"{statistics.median(lat):.0f} ms",
                            f"p95 {p95:.0f} ms, n={len(lat)}",
                        )
                    )
                set_method(window, app, "auto")
                for method, ms in time_binarize(window).items():
                    rows.append((f"  binarize {method} on the crop", f"{ms:.1f} ms", ""))
        finally:
            window.shutdown()
            window.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'time':>9}  note")
    print("-" * (width + 30))
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>9}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
