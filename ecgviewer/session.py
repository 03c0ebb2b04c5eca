"""The user's session sidecar: which image, which settings, which hand corrections.

A versioned JSON file (``<image>.ecgsession.json`` by default) so that a user can close the
program and come back to the same digitisation, and so that the file stays readable by later
versions (:data:`MIGRATIONS` upgrades old files step by step). Everything read is validated
by hand against the schema below; a damaged, foreign or too-new file raises
:class:`SessionFormatError` with a one-line reason naming the offending field.

Schema, version 1::

    {"format": "ecgviewer-session", "version": 1,
     "app_version": "0.1.0", "saved_utc": "2026-11-25T10:00:00Z",
     "image": {"path": str, "sha256": 64 hex, "page": int >= 0, "pdf_dpi": number > 0},
     "settings": {<DigitizeSettings fields>; crop null or {"x0","y0","x1","y1"}},
     "corrections": [{"lead_index": int, "lead_name": str, "start": int,
                      "values_mv": [number | null, ...]}, ...],
     "notes": str}

GUI-free: no Qt here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecgviewer import __version__
from ecgviewer.digitize.types import BinarizeMethod, CropBox, DigitizeSettings, LayoutName
from ecgviewer.errors import EcgViewerError, SettingsError
from ecgviewer.io.digest import file_sha256
from ecgviewer.io.signals import atomic_write_bytes

SESSION_FORMAT = "ecgviewer-session"
SESSION_VERSION = 1
SIDECAR_SUFFIX = ".ecgsession.json"  # same suffix as the GUI's file dialogs
MAX_SESSION_BYTES = 64 << 20  # a session with corrections on every sample of 12 leads is ~2 MB
MAX_CORRECTION_SAMPLES = 1_000_000


class SessionFormatError(EcgViewerError):
    """A session file is damaged, not a session, or from an unknown (newer) version."""


@dataclass(frozen=True)
class ImageRef:
    """The image a session belongs to; ``sha256`` detects that the file changed since."""

    path: str
    sha256: str
    page: int = 0
    pdf_dpi: float = 200.0


@dataclass(frozen=True)
class Correction:
    """A hand correction: samples ``start:start+len(values_mv)`` of one lead replaced.

    ``lead_index`` is the position in ``Digitization.leads`` (names can repeat: lead II on the
    grid and on the rhythm strip); ``lead_name`` lets a replay check it hits the same lead.
    NaN in ``values_mv`` marks a gap.
    """

    lead_index: int
    lead_name: str
    start: int
    values_mv: tuple[float, ...]


@dataclass(frozen=True)
class Session:
    image: ImageRef
    settings: DigitizeSettings = field(default_factory=DigitizeSettings)
    corrections: tuple[Correction, ...] = ()
    notes: str = ""
    app_version: str = __version__
    saved_utc: str = ""


# --------------------------------------------------------------------------- helpers


def image_ref(path: str | os.PathLike, page: int = 0, pdf_dpi: float = 200.0) -> ImageRef:
    """An :class:`ImageRef` for a file on disk (absolute path, current hash)."""
    p = Path(path).resolve()
    return ImageRef(str(p), file_sha256(p), int(page), float(pdf_dpi))


def sidecar_path(image_path: str | os.PathLike) -> Path:
    """Default session file for an image: ``scan.png`` → ``scan.png.ecgsession.json``."""
    p = Path(image_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def image_changed(session: Session) -> str | None:
    """None when the session's image exists with the same hash, else a one-line reason."""
    p = Path(session.image.path)
    if not p.is_file():
        return f"the image {p} is missing"
    if file_sha256(p) != session.image.sha256:
        return f"the image {p.name} changed since the session was saved"
    return None


# --------------------------------------------------------------------------- save


def session_to_dict(session: Session) -> dict:
    """The JSON-ready dict of the current schema version."""
    settings = dataclasses.asdict(session.settings)
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "app_version": session.app_version,
        "saved_utc": session.saved_utc,
        "image": dataclasses.asdict(session.image),
        "settings": settings,
        "corrections": [
            {
                "lead_index": c.lead_index,
                "lead_name": c.lead_name,
                "start": c.start,
                "values_mv": [None if not math.isfinite(v) else float(v) for v in c.values_mv],
            }
            for c in session.corrections
        ],
        "notes": session.notes,
    }


def save_session(session: Session, path: str | os.PathLike) -> Path:
    """Write the session as JSON atomically (a crash never leaves half a file).

    An image in the session file's folder (or below it) is stored by relative path, so a
    folder of scans with their sidecars can be moved or shared.
    """
    path = Path(path)
    stamped = dataclasses.replace(
        session, saved_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    data = session_to_dict(stamped)
    session_from_dict(data)  # never write a file that load_session would refuse
    data["image"]["path"] = _portable_path(session.image.path, path.parent)
    text = json.dumps(data, indent=1, allow_nan=False, ensure_ascii=False)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def _portable_path(image_path: str, folder: Path) -> str:
    p = Path(image_path)
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.relative_to(folder.resolve()))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------- load


# MIGRATIONS[v] turns a version-v dict into a version-(v + 1) dict. To change the schema:
# bump SESSION_VERSION, register the step here, and keep every old step (files live forever).
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def migrate(data: dict) -> dict:
    """Upgrade a parsed session dict to :data:`SESSION_VERSION`, one step at a time."""
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SessionFormatError(f"version: expected an integer, got {version!r}")
    if version > SESSION_VERSION:
        raise SessionFormatError(
            f"session version {version} was written by a newer ECG Viewer "
            f"(this one reads up to {SESSION_VERSION})"
        )
    while version < SESSION_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SessionFormatError(f"session version {version} is not supported")
        data = step(dict(data))
        version += 1
        data["version"] = version
    return data


def load_session(path: str | os.PathLike, image_path: str | os.PathLike | None = None) -> Session:
    """Read and validate a session file; relative image paths resolve against its folder.

    The session is bound to its image by content hash: given ``image_path`` (or, for a
    default sidecar ``scan.png.ecgsession.json``, the ``scan.png`` beside it), that image
    must have the hash the session was saved with, else :class:`SessionFormatError` names
    both files; the session then refers to that image whatever path it stored.
    """
    path = Path(path)
    session = _read_session(path)
    if image_path is None and path.name.endswith(SIDECAR_SUFFIX):
        beside = path.with_name(path.name[: -len(SIDECAR_SUFFIX)])
        image_path = beside if beside.is_file() else None
    return session if image_path is None else bind_image(session, path, Path(image_path))


def bind_image(session: Session, session_path: Path, image_path: Path) -> Session:
    """``session`` pointed at ``image_path`` when that file has the session's content hash."""
    try:
        digest = file_sha256(image_path)
    except OSError as exc:
        raise SessionFormatError(
            f"{session_path.name}: cannot read its image {image_path} ({exc.strerror or exc})"
        ) from None
    if digest != session.image.sha256:
        raise SessionFormatError(
            f"{session_path} was saved for another image ({session.image.path}, sha256 "
            f"{session.image.sha256[:12]}...), not {image_path} (sha256 {digest[:12]}...): "
            "refusing to apply it"
        )
    bound = dataclasses.replace(session.image, path=str(image_path.resolve()))
    return dataclasses.replace(session, image=bound)


def _read_session(path: Path) -> Session:
    """Parse and validate the file; the stored image path resolved against its folder."""
    try:
        st = path.stat()
        size = st.st_size
        if not stat.S_ISREG(st.st_mode):
            raise SessionFormatError(f"{path}: not a regular file")
        if size > MAX_SESSION_BYTES:
            raise SessionFormatError(f"{path.name}: {size / 1e6:.0f} MB is too large for a session")
        raw = path.read_bytes()
    except OSError as exc:
        raise SessionFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise SessionFormatError(f"{path.name}: not a text file") from None
    except json.JSONDecodeError as exc:
        raise SessionFormatError(
            f"{path.name}: damaged JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except RecursionError:
        raise SessionFormatError(f"{path.name}: damaged JSON (nested too deeply)") from None
    except ValueError as exc:
        raise SessionFormatError(f"{path.name}: {exc}") from None
    try:
        session = session_from_dict(data)
    except SessionFormatError as exc:
        raise SessionFormatError(f"{path.name}: {exc}") from None
    img = Path(session.image.path)
    if not img.is_absolute():
        img = (path.parent / img).resolve()
        session = dataclasses.replace(
            session, image=dataclasses.replace(session.image, path=str(img))
        )
    return session


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a session file")


def session_from_dict(data: Any) -> Session:
    """Validate a parsed JSON value (any version we know) and build a :class:`Session`."""
    if not isinstance(data, dict):
        raise SessionFormatError(f"expected a JSON object, got {_kind(data)}")
    if data.get("format") != SESSION_FORMAT:
        raise SessionFormatError(f"not an ECG Viewer session (format {data.get('format')!r})")
    data = migrate(data)
    image = _image(_get(data, "image", dict, "image"))
    settings = _settings(data.get("settings", {}))
    corrections_raw = data.get("corrections", [])
    if not isinstance(corrections_raw, list):
        raise SessionFormatError(f"corrections: expected a list, got {_kind(corrections_raw)}")
    corrections = tuple(_correction(c, f"corrections[{i}]") for i, c in enumerate(corrections_raw))
    return Session(
        image=image,
        settings=settings,
        corrections=corrections,
        notes=_str(data.get("notes", ""), "notes", max_len=100_000, allow_empty=True),
        app_version=_str(data.get("app_version", ""), "app_version", 64, allow_empty=True),
        saved_utc=_str(data.get("saved_utc", ""), "saved_utc", 64, allow_empty=True),
    )


# --------------------------------------------------------------------------- validators


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number" if _is_num(value) else "?"
    )


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _get(obj: dict, key: str, typ: type, where: str) -> Any:
    if key not in obj:
        raise SessionFormatError(f"{where}: missing")
    value = obj[key]
    if not isinstance(value, typ):
        raise SessionFormatError(f"{where}: expected {typ.__name__}, got {_kind(value)}")
    return value


def _num(value: Any, where: str, lo: float, hi: float, lo_open: bool = False) -> float:
    if not _is_num(value) or not math.isfinite(value):
        raise SessionFormatError(f"{where}: expected a number, got {_kind(value)}")
    if value < lo or value > hi or (lo_open and value == lo):
        bracket = "(" if lo_open else "["
        raise SessionFormatError(f"{where}: {value!r} outside {bracket}{lo:g}, {hi:g}]")
    return float(value)


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SessionFormatError(f"{where}: expected an integer, got {_kind(value)}")
    if not lo <= value <= hi:
        raise SessionFormatError(f"{where}: {value} outside [{lo}, {hi}]")
    return value


def _str(value: Any, where: str, max_len: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SessionFormatError(f"{where}: expected a string, got {_kind(value)}")
    if not value and not allow_empty:
        raise SessionFormatError(f"{where}: must not be empty")
    if len(value) > max_len:
        raise SessionFormatError(f"{where}: longer than {max_len} characters")
    return value


def _choice(value: Any, where: str, literal: Any) -> str:
    options = typing.get_args(literal)
    if value not in options:
        raise SessionFormatError(f"{where}: {value!r} is not one of {', '.join(options)}")
    return value


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda v, where: None if v is None else check(v, where)


def _crop(value: Any, where: str) -> CropBox:
    if not isinstance(value, dict):
        raise SessionFormatError(f"{where}: expected an object, got {_kind(value)}")
    big = 1 << 20
    x0, y0, x1, y1 = (
        _int(_get(value, k, object, f"{where}.{k}"), f"{where}.{k}", 0, big)
        for k in ("x0", "y0", "x1", "y1")
    )
    if x1 <= x0 or y1 <= y0:
        raise SessionFormatError(f"{where}: empty box ({x0}, {y0}, {x1}, {y1})")
    return CropBox(x0, y0, x1, y1)


# One type check per DigitizeSettings field; the ranges are DigitizeSettings' own
# (ecgviewer.io.limits, checked in its __post_init__), the same for the CLI, the app and here.
def _number(value: Any, where: str) -> float:
    return _num(value, where, -math.inf, math.inf)


_SETTING_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "crop": _optional(_crop),
    "rotation_deg": _optional(_number),
    "binarize_method": lambda v, w: _choice(v, w, BinarizeMethod),
    "threshold": _optional(_number),
    "paper_speed_mm_s": _number,
    "gain_mm_mv": _optional(_number),
    "px_per_mm": _optional(_number),
    "dpi": _optional(_number),
    "layout": lambda v, w: _choice(v, w, LayoutName),
    "rhythm_lead": lambda v, w: _str(v, w, 16),
    "output_fs_hz": _number,
    "correct_perspective": lambda v, w: _bool(v, w),
}


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SessionFormatError(f"{where}: expected true or false, got {_kind(value)}")
    return value


def _generic_check(default: Any) -> Callable[[Any, str], Any]:
    """For settings fields added to DigitizeSettings after this module: type of the default."""

    def check(value: Any, where: str) -> Any:
        if value is None or default is None:
            if value is None or isinstance(value, (str, bool)) or _is_num(value):
                return value
        elif isinstance(default, bool):
            return _bool(value, where)
        elif _is_num(default):
            return _num(value, where, -math.inf, math.inf)
        elif isinstance(default, str) and isinstance(value, str):
            return value
        raise SessionFormatError(f"{where}: unexpected {_kind(value)}")

    return check


def _settings(value: Any) -> DigitizeSettings:
    if not isinstance(value, dict):
        raise SessionFormatError(f"settings: expected an object, got {_kind(value)}")
    defaults = DigitizeSettings()
    kwargs = {}
    for f in dataclasses.fields(DigitizeSettings):
        if f.name not in value:
            continue  # older file: keep the default
        check = _SETTING_CHECKS.get(f.name) or _generic_check(getattr(defaults, f.name))
        kwargs[f.name] = check(value[f.name], f"settings.{f.name}")
    try:
        return DigitizeSettings(**kwargs)
    except SettingsError as exc:
        raise SessionFormatError(f"settings.{exc}") from None


def _image(value: dict) -> ImageRef:
    path = _str(_get(value, "path", str, "image.path"), "image.path", 4096)
    sha = _str(_get(value, "sha256", str, "image.sha256"), "image.sha256", 64).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise SessionFormatError("image.sha256: expected 64 hexadecimal digits")
    page = _int(value.get("page", 0), "image.page", 0, 100_000)
    dpi = _num(value.get("pdf_dpi", 200.0), "image.pdf_dpi", 0.0, 10_000.0, lo_open=True)
    return ImageRef(path, sha, page, dpi)


def _correction(value: Any, where: str) -> Correction:
    if not isinstance(value, dict):
        raise SessionFormatError(f"{where}: expected an object, got {_kind(value)}")
    index = _int(
        _get(value, "lead_index", object, f"{where}.lead_index"), f"{where}.lead_index", 0, 1000
    )
    name = _str(_get(value, "lead_name", object, f"{where}.lead_name"), f"{where}.lead_name", 16)
    start = _int(_get(value, "start", object, f"{where}.start"), f"{where}.start", 0, 1 << 31)
    raw = _get(value, "values_mv", list, f"{where}.values_mv")
    if not raw or len(raw) > MAX_CORRECTION_SAMPLES:
        raise SessionFormatError(f"{where}.values_mv: expected 1..{MAX_CORRECTION_SAMPLES} values")
    if not all(v is None or (_is_num(v) and math.isfinite(v)) for v in raw):
        raise SessionFormatError(f"{where}.values_mv: expected numbers (null for a gap)")
    values = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
    if np.nanmax(np.abs(values), initial=0.0) > 1000.0:
        raise SessionFormatError(f"{where}.values_mv: values beyond ±1000 mV")
    return Correction(index, name, start, tuple(values.tolist()))
