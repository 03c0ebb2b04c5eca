"""Sane ranges and size caps for every setting and option, in one place.

:class:`~ecgviewer.digitize.types.DigitizeSettings` validates itself with
:func:`validate_settings` (so the CLI, the app and the session reader all get the same
checks), and the command-line options use :data:`RANGES` through ``commands/options.py``.
A value outside its range raises :class:`~ecgviewer.errors.SettingsError` naming the field.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from ecgviewer.errors import SettingsError

# name -> (low, high, unit); both ends inclusive. Finite numbers only.
RANGES: dict[str, tuple[float, float, str]] = {
    "rotation_deg": (-360.0, 360.0, "degrees"),
    "threshold": (0.0, 1.0, ""),
    "paper_speed_mm_s": (1.0, 1000.0, "mm/s"),
    "gain_mm_mv": (0.5, 1000.0, "mm/mV"),
    "px_per_mm": (0.1, 1000.0, "px/mm"),
    "dpi": (10.0, 10_000.0, "dpi"),  # digitiser's fallback scale (from the file or the user)
    "output_fs_hz": (50.0, 5000.0, "Hz"),  # digitiser output rate
    "input_fs_hz": (1.0, 100_000.0, "Hz"),  # --fs for signal files that declare none
    "pdf_dpi": (30.0, 1200.0, "dpi"),
    "render_dpi": (50.0, 600.0, "dpi"),  # a 600-dpi Letter page is 34 Mpx
    "row_seconds": (0.5, 120.0, "s"),
    "timeout_s": (0.1, 7 * 24 * 3600.0, "s"),
    "max_shift_s": (0.0, 10.0, "s"),
}

MAX_CSV_BYTES = 64 << 20  # a CSV signal file larger than this is refused (memory)
MAX_SIGNAL_SAMPLES = 50_000_000  # samples x leads of one record read or written
MAX_RHYTHM_LEAD_CHARS = 16


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


def check_range(name: str, value: Any, what: str | None = None) -> float:
    """``value`` as a float when finite and inside ``RANGES[name]``, else SettingsError."""
    lo, hi, unit = RANGES[name]
    label = what or name
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{label}: expected a number, got {value!r}", name)
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        unit_txt = f" {unit}" if unit else ""
        raise SettingsError(f"{label}: {_fmt(v)} outside [{lo:g}, {hi:g}]{unit_txt}", name)
    return v


def _is_index(value: Any) -> bool:
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def validate_settings(s: Any, methods: tuple[str, ...], layouts: tuple[str, ...]) -> None:
    """Check every field of a ``DigitizeSettings`` (called from its ``__post_init__`` with
    the binarisation method and layout names it allows)."""
    for name in ("paper_speed_mm_s", "output_fs_hz"):
        check_range(name, getattr(s, name))
    for name in ("rotation_deg", "threshold", "gain_mm_mv", "px_per_mm", "dpi"):
        if getattr(s, name) is not None:
            check_range(name, getattr(s, name))
    if s.binarize_method not in methods:
        raise SettingsError(
            f"binarize_method: {s.binarize_method!r} is not one of {', '.join(methods)}",
            "binarize_method",
        )
    if s.layout not in layouts:
        raise SettingsError(f"layout: {s.layout!r} is not one of {', '.join(layouts)}", "layout")
    if not isinstance(s.rhythm_lead, str) or not 0 < len(s.rhythm_lead) <= MAX_RHYTHM_LEAD_CHARS:
        raise SettingsError(
            f"rhythm_lead: expected a lead name of 1..{MAX_RHYTHM_LEAD_CHARS} characters",
            "rhythm_lead",
        )
    crop = s.crop  # an empty or inverted box is the pipeline's to clip (it says so in warnings)
    if crop is not None:
        corners = tuple(getattr(crop, k, None) for k in ("x0", "y0", "x1", "y1"))
        if not all(_is_index(c) and abs(c) <= 1 << 20 for c in corners):
            raise SettingsError(f"crop: corners must be pixel indices, got {corners}", "crop")
