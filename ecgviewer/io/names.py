"""File-name rules shared by the writers and the batch planner (standard library only, so
batch workers can import it before numpy and set their thread limits first)."""

from __future__ import annotations

import re


def safe_stem(name: str) -> str:
    """A file stem usable as a WFDB record name: letters, digits, ``_`` and ``-`` only."""
    return re.sub(r"[^-\w]", "_", name, flags=re.ASCII) or "record"
