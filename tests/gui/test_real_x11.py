"""The wheel, drag and double click under a real X11 window (Xvfb + xdotool), not posted Qt
events: skipped where Xvfb or xdotool is not installed (CI has neither; see the README for the
two Debian packages)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(
        not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool"
    ),
]

PROBE = Path(__file__).with_name("x11_wheel_probe.py")


@pytest.fixture
def x_display():
    """A fresh Xvfb display, stopped after the test."""
    number = 90 + os.getpid() % 100
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    yield f":{number}"
    server.terminate()
    server.wait(10)


def test_real_wheel_zooms_the_sheet_about_the_cursor_and_double_click_fits(x_display):
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    run = subprocess.run(
        [sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["platform"] == "xcb"
    (x0, x1), (y0, y1) = seen["before"]
    (u0, u1), (v0, v1) = seen["after_wheel"]
    zoom_x, zoom_y = (x1 - x0) / (u1 - u0), (y1 - y0) / (v1 - v0)
    assert zoom_x > 1.5, seen  # three notches zoomed in
    assert zoom_x == pytest.approx(zoom_y, rel=0.02)  # the whole sheet, square grid kept
    assert seen["under_cursor_mm"] == pytest.approx(seen["target_mm"], abs=1.5)  # mm
    assert seen["curves_after"] == seen["curves_before"]  # no row's amplitude changed
    assert not any("(x" in label for label in seen["labels"])  # no "V1 (x0.001)"
    (f0, f1), _ = seen["after_double_click"]
    assert f1 - f0 == pytest.approx(x1 - x0, rel=0.05)  # fitted again
