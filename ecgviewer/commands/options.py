"""Command-line options shared by several subcommands: the batch options, how to read the
paper (speed, gain, layout, binarisation) and small argparse types.

Method and layout choices come from :mod:`ecgviewer.digitize.types` (derived from its
``Literal`` types), so the CLI, the GUI and the digitiser name the same things.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from ecgviewer.batch import DEFAULT_TIMEOUT_S
from ecgviewer.digitize.types import BINARIZE_METHODS, LAYOUT_NAMES, DigitizeSettings
from ecgviewer.errors import EcgViewerError, SettingsError
from ecgviewer.io.limits import RANGES, check_range

PAPER_SPEEDS_MM_S = (25.0, 50.0)
GAINS_MM_MV = (5.0, 10.0, 20.0)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a finite number above 0")
    return value


def gain_choice(text: str) -> float | None:
    """argparse type for ``--gain``: "auto" (None: read from the calibration pulse) or one of
    :data:`GAINS_MM_MV`."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if value not in GAINS_MM_MV:
        raise argparse.ArgumentTypeError(
            f"expected auto, 5, 10 or 20 (mm/mV), got {text!r}"
        )
    return value


def in_range(name: str) -> Callable[[str], float]:
    """argparse type: a finite number inside ``ecgviewer.io.limits.RANGES[name]``."""

    def parse(text: str) -> float:
        try:
            return check_range(name, float(text), "value")
        except ValueError as exc:  # float() or SettingsError (a ValueError)
            lo, hi, unit = RANGES[name]
            raise argparse.ArgumentTypeError(
                f"expected a number in [{lo:g}, {hi:g}]{' ' + unit if unit else ''}, got {text!r}"
            ) from exc

    parse.__name__ = name  # argparse names the type in its messages
    return parse


# DigitizeSettings fields -> the option that sets them, for one-line errors that name it
OPTION_OF_FIELD = {
    "output_fs_hz": "--fs",
    "rotation_deg": "--rotation",
    "threshold": "--threshold",
    "paper_speed_mm_s": "--speed",
    "gain_mm_mv": "--gain",
    "layout": "--layout",
    "binarize_method": "--method",
    "crop": "--crop",
}


def prepare_outdir(path: Path, option: str = "-o") -> Path:
    """Create the output folder, or say in one line why it cannot be one."""
    if path.exists() and not path.is_dir():
        raise EcgViewerError(f"{option} {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EcgViewerError(
            f"{option} {path}: cannot create the output folder ({exc.strerror or exc})"
        ) from None
    return path


def check_report_path(path: Path | None) -> None:
    """Refuse a ``--report`` that names a folder (before any work is done)."""
    if path is not None and path.is_dir():
        raise EcgViewerError(f"--report {path}: is a folder; name a CSV file")


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch options every file-processing command shares (workers, resume, report, ...);
    they map onto :func:`ecgviewer.batch.run_batch`'s arguments."""
    g = parser.add_argument_group("batch")
    g.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (default: 1 = in this process)",
    )
    g.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="skip inputs whose outputs are complete (default: on)",
    )
    g.add_argument(
        "--overwrite", action="store_true", help="redo every input, replacing existing outputs"
    )
    g.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="CSV",
        help="per-file report (input, status, reason, layout, quality, seconds)",
    )
    g.add_argument(
        "--timeout",
        type=in_range("timeout_s"),
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"give up on one file after S seconds (default: {DEFAULT_TIMEOUT_S:g})",
    )
    g.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://host:8786 (needs dask[distributed])",
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def add_paper_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """What the user tells the digitiser about the paper (shared by ``digitize`` and
    ``classify``): speed, gain, layout, binarisation. Returns the group to extend."""
    g = parser.add_argument_group("calibration and layout")
    g.add_argument(
        "--speed",
        type=float,
        choices=PAPER_SPEEDS_MM_S,
        default=25.0,
        metavar="{25,50}",
        help="paper speed in mm/s (default: 25)",
    )
    g.add_argument(
        "--gain",
        type=gain_choice,
        default=None,
        metavar="{auto,5,10,20}",
        help="gain in mm/mV (default: auto = the height of a clearly printed 1 mV calibration "
        "pulse when it is 5, 10 or 20 mm, else 10)",
    )
    g.add_argument(
        "--layout", choices=LAYOUT_NAMES, default="auto", help="page layout (default: detect)"
    )
    g.add_argument("--method", choices=BINARIZE_METHODS, default="auto", help="binarisation method")
    g.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="T",
        help="binarisation threshold 0..1 (implies --method manual)",
    )
    return g


def paper_settings(args: argparse.Namespace, **more) -> DigitizeSettings:
    """DigitizeSettings from :func:`add_paper_arguments`' options (and ``more`` fields)."""
    method = "manual" if args.threshold is not None else args.method
    if method == "manual" and args.threshold is None:
        raise EcgViewerError("--method manual needs --threshold T (0..1)")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise EcgViewerError(f"--threshold must be between 0 and 1, got {args.threshold:g}")
    try:
        return DigitizeSettings(
            binarize_method=method,
            threshold=args.threshold,
            paper_speed_mm_s=args.speed,
            gain_mm_mv=args.gain,
            layout=args.layout,
            **more,
        )
    except SettingsError as exc:  # name the option, not the field
        option, text = OPTION_OF_FIELD.get(exc.field), str(exc)
        if option and text.startswith(f"{exc.field}:"):
            text = option + text[len(exc.field) :]
        raise SettingsError(text, exc.field) from None
