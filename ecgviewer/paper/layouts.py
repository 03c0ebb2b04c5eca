"""The arrangements of leads on ECG paper, as one table of :class:`LayoutSpec`.

Both the renderer (which prints a layout) and the digitiser (which names the layout of a page
and the lead in every box) read this table, so adding a layout means adding a row here (plus
drawing code in ``render`` if its geometry is new).

Standard arrangements (as printed by 12-lead carts): ``3x4`` has rows I/aVR/V1/V4,
II/aVL/V2/V5, III/aVF/V3/V6, each column showing the next quarter of the page time; ``+1``
adds a full-width lead II rhythm strip, ``+3`` adds V1, II, V5; ``6x2`` shows limb leads over
the first half and chest leads over the second half; ``12x1`` shows every lead over the full
page time. ``single`` prints one lead as consecutive rows (a long single-lead strip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

# the layouts offered as a choice (printing, digitising); must list the table's offered rows
PaperLayoutName = Literal["single", "3x4", "3x4+1", "3x4+3", "6x2", "12x1"]


@dataclass(frozen=True)
class LayoutSpec:
    """One arrangement of leads on a page.

    ``grid_rows`` holds the leads of each grid row, left to right: the columns of a row share
    the page time equally. ``rhythm_leads`` are full-width strips below the grid, top to
    bottom. A layout with no grid rows is ``single``: one lead printed as consecutive rows.
    """

    name: str
    grid_rows: tuple[tuple[str, ...], ...]
    rhythm_leads: tuple[str, ...] = ()
    offered: bool = True  # False: recognised on pages (by its row count), never a choice

    @property
    def single(self) -> bool:
        return not self.grid_rows

    @property
    def n_cols(self) -> int:
        return len(self.grid_rows[0]) if self.grid_rows else 1

    @property
    def n_grid_rows(self) -> int:
        return len(self.grid_rows)

    @property
    def n_rows(self) -> int:
        """Rows of trace on the page (0 for ``single``: as many as the strip needs)."""
        return len(self.grid_rows) + len(self.rhythm_leads)

    @property
    def rhythm_lead(self) -> str | None:
        """The lead of the strip meant for rhythm reading (lead II), if the layout has one."""
        return "II" if "II" in self.rhythm_leads else None


_ROWS_3X4 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))

LAYOUT_SPECS: dict[str, LayoutSpec] = {
    spec.name: spec
    for spec in (
        LayoutSpec("single", ()),
        LayoutSpec("3x4", _ROWS_3X4),
        LayoutSpec("3x4+1", _ROWS_3X4, ("II",)),
        LayoutSpec("3x4+2", _ROWS_3X4, ("V1", "II"), offered=False),
        LayoutSpec("3x4+3", _ROWS_3X4, ("V1", "II", "V5")),
        LayoutSpec("6x2", tuple((STANDARD_LEADS[i], STANDARD_LEADS[i + 6]) for i in range(6))),
        LayoutSpec("12x1", tuple((name,) for name in STANDARD_LEADS)),
    )
}

# names of the offered layouts, in table order (the same list as PaperLayoutName)
PAPER_LAYOUTS: tuple[str, ...] = tuple(n for n, spec in LAYOUT_SPECS.items() if spec.offered)


def with_strips(spec: LayoutSpec, n_strips: int) -> LayoutSpec | None:
    """The table's layout with ``spec``'s grid and ``n_strips`` rhythm strips, if any (a page
    can show more or fewer strips than the layout it was read as)."""
    for other in LAYOUT_SPECS.values():
        if other.grid_rows == spec.grid_rows and len(other.rhythm_leads) == n_strips:
            return other
    return None


def canonical_lead_name(name: str) -> str:
    """``AVR`` -> ``aVR``, ``ii`` -> ``II``; names that are not standard leads stay as they are."""
    for std in STANDARD_LEADS:
        if name.strip().lower() == std.lower():
            return std
    return name.strip()


def lead_rank(name: str) -> int:
    """Sort key for the usual lead order (I, II, III, aVR, ... V6, then any other name)."""
    lowered = name.strip().lower()
    for k, std in enumerate(STANDARD_LEADS):
        if lowered == std.lower():
            return k
    return len(STANDARD_LEADS)
