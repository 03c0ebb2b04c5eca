"""The state of one open ECG in plain Python (no Qt), so it can be tested and reasoned about
without a window. Widgets read it and listen to its events; the controller changes it.

One document = one loaded page + the user's settings + what the core produced from them
(prepared page, digitisation, rhythm result) + the user's manual trace corrections.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ecgviewer.digitize.stages import MIN_CROP_PX, clip_crop, prepare_key, signal_with_gaps
from ecgviewer.digitize.types import CropBox, Digitization, DigitizeSettings, Lead
from ecgviewer.io.images import LoadedImage
from ecgviewer.rhythm.types import RhythmResult


class Event:
    """A minimal observer list: ``connect(callback)`` then ``emit(*args)`` calls each callback."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for cb in list(self._callbacks):
            cb(*args)


class DocumentEvents:
    """The events a :class:`Document` emits (each with the document as only argument)."""

    def __init__(self) -> None:
        self.image = Event()  # a new page was loaded (everything else was reset)
        self.settings = Event()  # the user's settings changed
        self.digitization = Event()  # a new digitisation (or its failure) arrived
        self.leads = Event()  # (document, lead index): a lead was corrected by hand or undone
        self.rhythm = Event()  # a rhythm result (or its failure) arrived


def fresh_settings(settings: DigitizeSettings, dpi: float | None) -> DigitizeSettings:
    """Settings for a newly opened page: per-page choices back to automatic, preferences kept."""
    return dataclasses.replace(
        settings, crop=None, rotation_deg=None, threshold=None, px_per_mm=None, dpi=dpi
    )


class Document:
    """Everything known about the open page. Mutate only through the methods (they emit)."""

    def __init__(self, settings: DigitizeSettings | None = None) -> None:
        self.events = DocumentEvents()
        self.image: LoadedImage | None = None
        self.settings = settings or DigitizeSettings()
        self.prepared: Any = None
        self.prepared_key: tuple | None = None
        self.page_rgb: np.ndarray | None = None  # the rotated page the coordinates refer to
        self.darkness: np.ndarray | None = None  # trace darkness of page_rgb, for live preview
        self.digitization: Digitization | None = None
        self.digitize_error: str | None = None
        self.rhythm: RhythmResult | None = None
        self.rhythm_error: str | None = None
        self.edited_leads: set[int] = set()
        self.original_leads: tuple[Lead, ...] = ()  # as digitised, before hand corrections

    # -- queries ------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        return None if self.image is None else Path(self.image.path)

    @property
    def title(self) -> str:
        if self.image is None:
            return "no file"
        name = Path(self.image.path).name
        return (
            f"{name} (page {self.image.page + 1}/{self.image.n_pages})"
            if self.image.n_pages > 1
            else name
        )

    def prepared_for(self, settings: DigitizeSettings) -> Any:
        """The cached prepared page when it fits ``settings``, else None."""
        if self.prepared is not None and self.prepared_key == prepare_key(settings):
            return self.prepared
        return None

    def rhythm_lead_index(self) -> int | None:
        """Index in ``digitization.leads`` of the lead used for rhythm analysis."""
        dig = self.digitization
        if dig is None or not dig.leads:
            return None
        chosen = dig.rhythm_lead
        if chosen is None:
            return None
        for i, lead in enumerate(dig.leads):
            if lead is chosen:
                return i
        return None

    def rhythm_input(self) -> tuple[np.ndarray, float] | None:
        """(signal_mv with gaps as NaN, fs_hz) of the rhythm lead; None without one."""
        i = self.rhythm_lead_index()
        if i is None:
            return None
        lead = self.digitization.leads[i]
        return signal_with_gaps(lead), float(lead.fs_hz)

    def corrections(self) -> list[tuple[int, int, np.ndarray]]:
        """Hand corrections as ``(lead index, first sample, values with NaN gaps)``: for each
        lead, the span where it differs from what was digitised."""
        out = []
        if self.digitization is None:
            return out
        for i, (now, orig) in enumerate(zip(self.digitization.leads, self.original_leads)):
            a, b = signal_with_gaps(now), signal_with_gaps(orig)
            if a.shape != b.shape:
                continue
            differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
            idx = np.flatnonzero(differ)
            if idx.size:
                out.append((i, int(idx[0]), a[idx[0] : idx[-1] + 1]))
        return out

    def effective_crop(self) -> CropBox | None:
        """The crop the user chose, else the one the last digitisation used."""
        if self.settings.crop is not None:
            return self.settings.crop
        return None if self.digitization is None else self.digitization.crop

    def darkness_crop(
        self, crop: CropBox | None = None, method: str | None = None
    ) -> tuple[np.ndarray, CropBox] | None:
        """The cached map that ``method`` thresholds (the darkness image; for "auto" the trace
        probability, once computed) restricted to ``crop`` (clipped to the page, at least
        :data:`~ecgviewer.digitize.stages.MIN_CROP_PX` a side, for a live preview)."""
        source = self.darkness
        if method == "auto":
            page = getattr(self.prepared, "prepared", None)
            maps = page.trace_maps(compute=False) if hasattr(page, "trace_maps") else None
            source = None if maps is None else maps.trace_prob
        if source is None:
            return None
        h, w = source.shape
        c = clip_crop(crop or self.effective_crop(), w, h, MIN_CROP_PX)
        return source[c.y0 : c.y1, c.x0 : c.x1], c

    # -- changes ------------------------------------------------------------------------------
    def set_image(self, image: LoadedImage, settings: DigitizeSettings | None = None) -> None:
        """Start over with a freshly loaded page: with ``settings`` (a restored session), else
        the current preferences with the per-page choices back to automatic."""
        self.image = image
        self.settings = (
            settings if settings is not None else fresh_settings(self.settings, image.dpi)
        )
        self.prepared = self.prepared_key = None
        self.page_rgb = image.rgb
        self.darkness = None
        self.digitization = None
        self.digitize_error = None
        self.rhythm = None
        self.rhythm_error = None
        self.edited_leads = set()
        self.original_leads = ()
        self.events.image.emit(self)

    def update_settings(self, **changes: Any) -> bool:
        """Apply setting changes; returns True when anything changed."""
        new = dataclasses.replace(self.settings, **changes)
        if new == self.settings:
            return False
        self.settings = new
        self.events.settings.emit(self)
        return True

    def set_prepared(
        self, key: tuple, prepared: Any, page_rgb: np.ndarray, darkness: np.ndarray
    ) -> None:
        self.prepared, self.prepared_key = prepared, key
        self.page_rgb = page_rgb
        self.darkness = darkness

    def set_digitization(self, dig: Digitization | None, error: str | None = None) -> None:
        """A new digitisation replaces the old one (and drops hand corrections and rhythm)."""
        self.digitization = dig
        self.digitize_error = error
        self.edited_leads = set()
        self.original_leads = () if dig is None else dig.leads
        self.rhythm = None
        self.rhythm_error = None
        if dig is not None:
            self.page_rgb = dig.image_rgb
        self.events.digitization.emit(self)

    def set_rhythm(self, result: RhythmResult | None, error: str | None = None) -> None:
        self.rhythm = result
        self.rhythm_error = error
        self.events.rhythm.emit(self)

    def set_lead_samples(
        self,
        index: int,
        start: int,
        values: np.ndarray,
        edited: bool = True,
        valid: np.ndarray | None = None,
    ) -> None:
        """Overwrite samples ``start:start+len(values)`` of lead ``index`` (a hand correction:
        the span becomes valid, or takes ``valid`` when an undo restores it)."""
        dig = self.digitization
        if dig is None:
            raise ValueError("no digitisation to correct")
        lead = dig.leads[index]
        values = np.asarray(values, dtype=np.float64)
        stop = start + len(values)
        if not 0 <= start <= stop <= len(lead.signal_mv):
            raise IndexError(
                f"samples {start}:{stop} outside lead {lead.name} (0:{len(lead.signal_mv)})"
            )
        sig = np.array(lead.signal_mv, dtype=np.float64, copy=True)
        sig[start:stop] = values
        mask = np.array(lead.valid_mask, dtype=bool, copy=True)
        mask[start:stop] = np.isfinite(values) if valid is None else np.asarray(valid, bool)
        new_lead = _shift_overlay(
            lead, dataclasses.replace(lead, signal_mv=sig, valid_mask=mask), dig.calibration
        )
        self.digitization = dataclasses.replace(
            dig, leads=dig.leads[:index] + (new_lead,) + dig.leads[index + 1 :]
        )
        if edited:
            self.edited_leads.add(index)
        self.events.leads.emit(self, index)


def overlay_breaks(x_px: np.ndarray, y_px: np.ndarray, max_step_px: float = 25.0) -> np.ndarray:
    """Bool per point: True where the overlay line continues to the next point. It breaks at
    gaps (NaN) and at jumps, e.g. where a long strip wraps to the next printed row."""
    x = np.asarray(x_px, dtype=np.float64)
    y = np.asarray(y_px, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0, bool)
    ok = np.isfinite(x) & np.isfinite(y)
    dx = np.diff(x)
    cont = ok[:-1] & ok[1:] & (dx >= 0) & (dx <= max_step_px)
    return np.append(cont, False)


def _shift_overlay(old: Lead, new: Lead, cal) -> Lead:
    """Move the image overlay of a hand-corrected lead by the change in mV (so the overlay on the
    scan shows the correction). Overlay columns map to samples from the first traced column."""
    x = np.asarray(old.trace_x_px, dtype=np.float64)
    y = np.asarray(old.trace_y_px, dtype=np.float64)
    if x.size == 0 or len(new.signal_mv) == 0:
        return new
    valid = np.flatnonzero(np.asarray(old.valid_mask, bool))
    first = int(valid[0]) if valid.size else 0
    idx = first + np.rint((x - x.min()) / cal.px_per_s * old.fs_hz).astype(np.intp)
    idx = np.clip(idx, 0, len(new.signal_mv) - 1)
    delta_mv = np.asarray(new.signal_mv)[idx] - np.asarray(old.signal_mv)[idx]
    return dataclasses.replace(new, trace_x_px=x, trace_y_px=y - delta_mv * cal.px_per_mv)
