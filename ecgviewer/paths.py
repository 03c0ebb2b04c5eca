"""Where things live: bundled resources and models, the shared data folder, per-user folders.

Works from a source checkout and from a PyInstaller bundle (``sys._MEIPASS``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def app_root() -> Path:
    """Folder holding ``resources/`` and ``models/`` (repository root, or the bundle)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return app_root() / "resources"


def models_dir() -> Path:
    return Path(os.environ.get("ECGVIEWER_MODELS", app_root() / "models"))


def data_dir() -> Path | None:
    """The real-data folder: ``$ECGVIEWER_DATA`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("ECGVIEWER_DATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    default = app_root().parent / "shared" / "data"
    return default if default.is_dir() else None


def user_data_dir() -> Path:
    """Per-user writable folder (settings, caches); never next to the executable."""
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "ecgviewer"
