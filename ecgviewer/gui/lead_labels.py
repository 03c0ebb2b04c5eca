"""The paper view's caption, and its lead names with a low trace quality beside them, sized to the room they
have: a label never runs into the next column's label (on a narrow pane "V1 trace quality 45 %"
became "V1 trace quali" under "V4"). The label says as much as fits at the current zoom:
"V1 trace quality 45 %", else "V1 45 %", else "V1"; it is fitted again whenever the view
zooms or the pane is resized.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecgviewer.gui._pg import PAPER_RGB, pg
from ecgviewer.gui.sheet import Placement, Sheet

QUALITY_RGB = "#b35c00"
RHYTHM_HEX = "#1565c0"  # the rhythm lead's name, in the colour of its trace
_GAP_PX = 6.0  # room kept free before the next column's label


@dataclass
class LeadLabel:
    """One label: its item, its texts from the longest to the shortest, and how much room
    (mm along the row, up to the next label) it has."""

    item: pg.TextItem
    texts: tuple[str, ...]
    room_mm: float

    def fit(self, px_per_mm: float) -> None:
        """Show the longest text that fits the room at ``px_per_mm`` screen pixels per mm."""
        room_px = self.room_mm * px_per_mm - _GAP_PX
        for html in self.texts:
            self.item.setHtml(html)
            if self.item.textItem.boundingRect().width() <= room_px:
                return

    @property
    def text(self) -> str:
        return self.item.textItem.toPlainText()


def caption_text(sheet: Sheet | None) -> str:
    speed, gain = (sheet.mm_per_s, sheet.mm_per_mv) if sheet else (25.0, 10.0)
    return (
        f"{speed:g} mm/s, {gain:g} mm/mV: small square 1 mm = {1 / speed:.2g} s × "
        f"{1 / gain:.2g} mV, large 5 mm = {5 / speed:.2g} s × {5 / gain:.2g} mV. "
        "Grey dashes: bridged or doubted; orange %: trace quality. "
        "Wheel: zoom · drag: pan · double-click: fit."
    )


def label_texts(name: str, quality: float | None, colour: str, note: str = "") -> tuple[str, ...]:
    """The label's texts, longest first: the name, a ``note`` in the name's colour (dropped
    first when room is short), and the trace quality when given."""
    head = f"<span style='color:{colour}; font-weight:bold'>{name}</span>"
    texts: tuple[str, ...] = (head,)
    if quality is not None:
        pct = f"{100 * quality:.0f} %"
        texts = (
            f"{head} <span style='color:{QUALITY_RGB}'>trace quality {pct}</span>",
            f"{head} <span style='color:{QUALITY_RGB}'>{pct}</span>",
            head,
        )
    if note:
        noted = f"{head} <span style='color:{colour}'>{note}</span>"
        texts = (texts[0].replace(head, noted, 1),) + texts
    return texts


def lead_label_texts(
    name: str, quality: float | None, is_rhythm: bool, strip: bool
) -> tuple[tuple[str, ...], str]:
    """(texts, tooltip) of a lead's label. The rhythm lead is named in blue: "Rhythm strip
    (II)" only when it is printed as one (``strip``: alone on its row under a grid of
    columns), else "II" with a note that the rhythm was read from it."""
    if not is_rhythm:
        return label_texts(name, quality, "#111"), ""
    if strip:
        tip = f"The rhythm strip (lead {name}): the rhythm is read from it."
        return label_texts(f"Rhythm strip ({name})", quality, RHYTHM_HEX), tip
    tip = f"Lead {name}, drawn in blue: the rhythm is read from this lead."
    return label_texts(name, quality, RHYTHM_HEX, "· rhythm read here"), tip


def room_mm(sheet: Sheet, place: Placement) -> float:
    """Room along the row from this placement's start to the next placement's start (or the
    sheet's right edge)."""
    starts = [
        p.x0_mm for p in sheet.placements if p.row == place.row and p.x0_mm > place.x0_mm + 1e-6
    ]
    return min(starts, default=sheet.right_mm) - place.x0_mm


def add_label(plot, sheet: Sheet, place: Placement, texts: tuple[str, ...]) -> LeadLabel:
    """Put a label at the top left of a placement's row band and return it (unfitted)."""
    item = pg.TextItem(html=texts[0], anchor=(0, 0), fill=pg.mkBrush(*PAPER_RGB, 200))
    item.setPos(place.x0_mm + 0.5, place.baseline_mm + 0.48 * sheet.pitch_mm)
    item.setZValue(5)
    plot.addItem(item)
    return LeadLabel(item, texts, room_mm(sheet, place) - 0.5)
