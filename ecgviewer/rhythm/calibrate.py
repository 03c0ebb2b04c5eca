"""Temperature scaling (Guo et al. 2017) fitted on out-of-fold logits."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from ecgviewer.rhythm.metrics import softmax


def nll(logits: np.ndarray, y_true: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y_true)), y_true], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature T > 0 minimising the negative log-likelihood of softmax(logits / T)."""
    res = minimize_scalar(lambda lt: nll(logits, y_true, float(np.exp(lt))),
                          bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def crossfit_temperature_probs(logits: np.ndarray, y_true: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Calibrated probabilities where each fold's temperature is fitted on the other folds only.

    Gives an honest 'after calibration' ECE (the shipped temperature uses all folds).
    """
    out = np.zeros_like(logits, dtype=np.float64)
    for f in np.unique(fold):
        sel = fold == f
        t = fit_temperature(logits[~sel], y_true[~sel])
        out[sel] = softmax(logits[sel], t)
    return out
