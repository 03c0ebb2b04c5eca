"""``ecgviewer gui [FILE] [--screenshot OUT.png]``: the desktop app (also plain ``ecgviewer``)."""

from __future__ import annotations

import argparse

NAME = "gui"
HELP = "open the desktop app (optionally with an ECG image or PDF)"


def window_size(text: str) -> tuple[int, int]:
    """``"1600x950"`` → (1600, 950)."""
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        size = None
    if not sep or size is None or min(size) < 200 or max(size) > 10_000:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT in pixels (200..10000), got {text!r}"
        )
    return size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="ECG image (PNG, JPEG, TIFF, BMP) or PDF to open")
    parser.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="open FILE, wait for the waveform and rhythm result, save a picture "
        "of the window and quit (works with QT_QPA_PLATFORM=offscreen)",
    )
    parser.add_argument(
        "--size",
        metavar="WxH",
        default=None,
        type=window_size,
        help="window size for --screenshot, e.g. 1600x950",
    )
    parser.add_argument(
        "--settings",
        metavar="FILE.ini",
        default=None,
        help="settings file (default: ecgviewer.ini in the per-user data folder)",
    )


def run(args: argparse.Namespace) -> int:
    from ecgviewer.gui.app import run as run_app

    return run_app(
        args.file, screenshot=args.screenshot, settings_path=args.settings, size=args.size
    )
