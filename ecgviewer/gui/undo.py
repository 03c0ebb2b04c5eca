"""Undoable hand corrections of a trace (QUndoStack commands over the plain document)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from ecgviewer.gui.document import Document


class TraceEditCommand(QUndoCommand):
    """Replace samples ``start:start+len(new)`` of one lead; undo writes the old ones back."""

    def __init__(self, doc: Document, lead_index: int, start: int, new_mv: np.ndarray, text: str):
        lead = doc.digitization.leads[lead_index]
        super().__init__(f"{text} ({lead.name})")
        self.doc = doc
        self.lead_index = lead_index
        self.start = int(start)
        self.new_mv = np.asarray(new_mv, dtype=np.float64).copy()
        stop = self.start + len(self.new_mv)
        self.old_mv = np.asarray(lead.signal_mv[self.start : stop], dtype=np.float64).copy()
        self.old_valid = np.asarray(lead.valid_mask[self.start : stop], dtype=bool).copy()
        self.was_edited = lead_index in doc.edited_leads

    def redo(self) -> None:
        self.doc.set_lead_samples(self.lead_index, self.start, self.new_mv)

    def undo(self) -> None:
        self.doc.set_lead_samples(
            self.lead_index, self.start, self.old_mv, edited=False, valid=self.old_valid
        )
        if not self.was_edited:
            self.doc.edited_leads.discard(self.lead_index)
