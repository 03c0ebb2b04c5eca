"""Result of rhythm classification (plain data; the GUI and CLI present it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLASSES = ("N", "A", "O", "~")
CLASS_NAMES = {
    "N": "Normal sinus rhythm",
    "A": "Atrial fibrillation",
    "O": "Other rhythm",
    "~": "Too noisy to classify",
}


@dataclass(frozen=True)
class RhythmResult:
    label: str  # one of CLASSES
    probabilities: dict[str, float]  # calibrated, sum to 1
    timeline_t_s: np.ndarray  # centre times of the analysis windows
    timeline_probs: np.ndarray  # (n_windows, 4) probabilities per window, order CLASSES
    heart_rate_bpm: float | None
    rr_irregularity: float | None  # e.g. RMSSD / mean RR of detected beats; None if < 3 beats
    cannot_assess: bool  # True when signal quality is too poor to trust the label
    duration_s: float
    warnings: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "label_name": CLASS_NAMES[self.label],
            "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
            "heart_rate_bpm": None
            if self.heart_rate_bpm is None
            else round(self.heart_rate_bpm, 1),
            "rr_irregularity": None
            if self.rr_irregularity is None
            else round(self.rr_irregularity, 4),
            "rr_irregularity_withheld": self.extra.get("rr_reason") or None,
            "cannot_assess": self.cannot_assess,
            "duration_s": round(self.duration_s, 3),
            "warnings": list(self.warnings),
        }
