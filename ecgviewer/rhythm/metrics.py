"""Scores of the CinC 2017 challenge and calibration (numpy only).

Challenge score = mean F1 of N, A and O (Clifford et al. 2017); noise F1 is reported apart.
"""

from __future__ import annotations

import numpy as np

from ecgviewer.rhythm.types import CLASSES


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Rows = reference class, columns = predicted class (order CLASSES)."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


def f1_per_class(cm: np.ndarray) -> np.ndarray:
    """F1 = 2 TP / (row sum + column sum), as in the challenge's scoring script."""
    tp = np.diag(cm).astype(float)
    denom = cm.sum(axis=0) + cm.sum(axis=1)
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def challenge_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 of N, A, O."""
    return float(np.mean(f1_per_class(confusion(y_true, y_pred))[:3]))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def reliability_table(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Top-label confidence bins: count, mean confidence, accuracy."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    rows = []
    for i in range(n_bins):
        sel = (conf > edges[i]) & (conf <= edges[i + 1]) if i else (conf <= edges[1])
        n = int(sel.sum())
        rows.append(
            {
                "bin": f"{edges[i]:.1f}-{edges[i + 1]:.1f}",
                "count": n,
                "confidence": float(conf[sel].mean()) if n else None,
                "accuracy": float(correct[sel].mean()) if n else None,
            }
        )
    return rows


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> float:
    """Top-label ECE with equal-width confidence bins."""
    total = len(y_true)
    ece = 0.0
    for row in reliability_table(probs, y_true, n_bins):
        if row["count"]:
            ece += row["count"] / total * abs(row["confidence"] - row["accuracy"])
    return float(ece)


def summarize(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Everything the model card and the CLI report, as plain JSON-able values."""
    y_true = np.asarray(y_true)
    pred = probs.argmax(axis=1)
    cm = confusion(y_true, pred)
    f1 = f1_per_class(cm)
    return {
        "n": len(y_true),
        "challenge_score": float(np.mean(f1[:3])),
        "f1": {c: float(v) for c, v in zip(CLASSES, f1)},
        "accuracy": float((pred == y_true).mean()),
        "confusion": cm.tolist(),
        "ece": expected_calibration_error(probs, y_true),
    }


def format_summary(s: dict) -> str:
    """Human-readable table of :func:`summarize`'s output."""
    lines = [
        (
            f"records: {s['n']}   challenge score (mean F1 N,A,O): {s['challenge_score']:.4f}   "
            f"accuracy: {s['accuracy']:.4f}   ECE: {s['ece']:.4f}"
        ),
        "F1: " + "  ".join(f"{c}={v:.4f}" for c, v in s["f1"].items()),
        "confusion (rows = reference, cols = predicted):",
        "       " + "".join(f"{c:>7}" for c in CLASSES),
    ]
    for c, row in zip(CLASSES, s["confusion"]):
        lines.append(f"{c:>7}" + "".join(f"{v:>7}" for v in row))
    return "\n".join(lines)
