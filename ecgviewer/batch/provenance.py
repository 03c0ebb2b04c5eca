"""What made an output: the input (path, size, modification time, content hash), the
settings, the program version and the model hash, stored in the summary JSON beside it.

Resume skips an item only when all of these match the run about to start; otherwise the item
is redone and the report says why. The summary JSON also says which files a run of ours wrote
(its ``outputs``), so a file in the output folder that no run of ours wrote is never replaced
without ``--overwrite``. Standard library only (it runs in spawned workers before numpy).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgviewer.io.digest import file_sha256

PROGRAM = "ecgviewer"
STATE_WRITING = "writing"  # the summary's "state" while an item's files are being written


def input_fingerprint(path: str | os.PathLike) -> dict:
    """Absolute path, size, modification time (ns) and sha256 of an input file."""
    st = os.stat(path)
    return {
        "path": os.path.abspath(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": file_sha256(path),
    }


def settings_digest(settings: dict) -> str:
    """A stable hash of a JSON-able settings dict (key order and float repr independent)."""
    text = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def make_provenance(
    path: str | os.PathLike, page: int, settings: dict, model_sha256: str | None = None
) -> dict:
    """The provenance block of one item's summary JSON."""
    from ecgviewer import __version__

    return {
        "program": PROGRAM,
        "version": __version__,
        "input": input_fingerprint(path),
        "page": page + 1,
        "settings": settings,
        "settings_sha256": settings_digest(settings),
        "model_sha256": model_sha256,
    }


def provenance_mismatch(stored: Any, expected: dict) -> str | None:
    """None when ``stored`` names the same input, settings, version and model as
    ``expected``, else a short reason (for the report) why the item must be redone."""
    if not isinstance(stored, dict) or not isinstance(stored.get("input"), dict):
        return "the earlier output does not say what made it"
    was, now = stored["input"], expected["input"]
    if was.get("path") != now["path"]:
        return f"the earlier output was made from another input ({was.get('path')})"
    if stored.get("page") != expected["page"]:
        return f"the earlier output was made from page {stored.get('page')}"
    if (was.get("size"), was.get("sha256")) != (now["size"], now["sha256"]):
        return "the input changed since the earlier output was made"
    if was.get("mtime_ns") != now["mtime_ns"]:
        return "the input's modification time changed since the earlier output was made"
    if stored.get("settings_sha256") != expected["settings_sha256"]:
        return "settings changed: " + _settings_diff(stored.get("settings"), expected["settings"])
    if stored.get("version") != expected["version"]:
        return f"made by ecgviewer {stored.get('version')}, this is {expected['version']}"
    if stored.get("model_sha256") != expected["model_sha256"]:
        return "made with another rhythm model"
    return None


def _settings_diff(old: Any, new: dict) -> str:
    old = old if isinstance(old, dict) else {}
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:4]) or "other options"


@dataclass(frozen=True)
class OutputState:
    """What the output folder holds for one item, as resume and overwrite rules need it."""

    complete: bool  # ours, finished, every listed file present, same provenance
    redo_reason: str  # why an earlier output of ours is redone ("" when there is none)
    foreign: tuple[Path, ...]  # files the item would replace that no run of ours wrote


def read_summary(path: Path) -> tuple[dict | None, bool]:
    """(parsed summary of ours or None, whether the summary file may be replaced).

    A missing file, or one that is not even JSON (a torn write), may be replaced; a valid
    JSON file that is not one of our summaries (no ``outputs`` list) is foreign."""
    if not (path.exists() or path.is_symlink()):
        return None, True
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, path.is_file()
    ours = isinstance(data, dict) and isinstance(data.get("outputs"), list)
    return (data if ours else None), ours


def output_state(summary_path: Path, expected: list[Path], provenance: Any = None) -> OutputState:
    """Compare what is on disk for one item with what this run would write.

    ``provenance`` is a callable giving this run's provenance for the item (evaluated only
    when an earlier output exists, as it hashes the input), or None to skip that test.
    """
    data, replaceable = read_summary(summary_path)
    folder = summary_path.parent
    owned = {summary_path} if replaceable else set()
    listed: list[Path] = []
    if data is not None:
        listed = [folder / str(o) for o in data["outputs"]]
        owned.update(listed)
    wanted = [*expected, summary_path]
    foreign = tuple(
        p for p in dict.fromkeys(wanted) if (p.exists() or p.is_symlink()) and p not in owned
    )
    if data is None:
        damaged = replaceable and summary_path.exists()
        return OutputState(False, "its summary was damaged" if damaged else "", foreign)
    if data.get("state") == STATE_WRITING:
        return OutputState(False, "an earlier run stopped while writing it", foreign)
    present = all(
        f.is_file() and (f.stat().st_size > 0 or f.suffix == ".dat") for f in [*listed, *expected]
    )
    if not present:
        return OutputState(False, "some of its output files are missing", foreign)
    if provenance is not None:
        why = provenance_mismatch(data.get("provenance"), provenance())
        if why:
            return OutputState(False, why, foreign)
    return OutputState(True, "", foreign)
