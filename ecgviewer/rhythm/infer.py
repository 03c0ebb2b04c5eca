"""Rhythm of one lead: whole-record label, calibrated probabilities, per-window timeline.

The shipped model (``models/rhythm_cnn.pt``) is an ensemble of the cross-validation fold
models; its sha256 is checked against the model card ``models/rhythm_cnn.json`` on load.
One forward pass per member gives the whole-record and every window's prediction: window
probabilities pool the same final feature map over the window's span.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ecgviewer.errors import ModelError, SignalFormatError
from ecgviewer.io.digest import file_sha256
from ecgviewer.paths import models_dir
from ecgviewer.rhythm.model import ModelConfig, RhythmCNN, masked_pool
from ecgviewer.rhythm.preprocess import preprocess, resample_mask
from ecgviewer.rhythm.qrs import assess_rr, detect_qrs
from ecgviewer.rhythm.types import CLASSES, RhythmResult

MODEL_FORMAT = "ecgviewer-rhythm-cnn-v1"
WINDOW_S = 10.0
HOP_S = 5.0
SHORT_WARN_S = 5.0
MIN_DURATION_S = 1.0
MAX_GAP_FRACTION = 0.5
NOISE_CANNOT_ASSESS = 0.5


@dataclass(frozen=True)
class RhythmModel:
    """Loaded ensemble: fold networks in eval mode, temperature, model rate, card."""

    nets: tuple[RhythmCNN, ...]
    temperature: float
    fs_hz: float
    sha256: str
    card: dict
    class_bias: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # added to logits before temperature


def default_model_path() -> Path:
    return models_dir() / "rhythm_cnn.pt"


_cache: dict[tuple[str, float], RhythmModel] = {}
_lock = threading.Lock()


def load_model(path: str | Path | None = None) -> RhythmModel:
    """Load and verify the weights (sha256 from the card beside them); cached per file."""
    path = Path(path) if path else default_model_path()
    card_path = path.with_suffix(".json")
    if not path.is_file():
        raise ModelError(
            f"rhythm model weights not found: {path} (reinstall, or train with `ecgviewer train`)"
        )
    if not card_path.is_file():
        raise ModelError(f"rhythm model card not found: {card_path} (needed to verify the weights)")
    key = (str(path.resolve()), path.stat().st_mtime)
    with _lock:
        if key in _cache:
            return _cache[key]
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"rhythm model card {card_path} is unreadable: {exc}") from exc
        digest = file_sha256(path)
        if digest != card.get("sha256"):
            raise ModelError(
                f"rhythm model weights {path} are corrupt or do not match their card: "
                f"sha256 {digest[:12]}... != expected {str(card.get('sha256'))[:12]}..."
            )
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if blob.get("format") != MODEL_FORMAT:
                raise ModelError(f"{path}: unknown model format {blob.get('format')!r}")
            cfg = ModelConfig.from_dict(blob["config"])
            nets = []
            for state in blob["states"]:
                net = RhythmCNN(cfg)
                net.load_state_dict(state)
                net.eval()
                nets.append(net)
            bias = tuple(float(v) for v in blob.get("class_bias", [0.0] * len(CLASSES)))
            model = RhythmModel(
                nets=tuple(nets),
                temperature=float(blob["temperature"]),
                fs_hz=float(blob["fs_hz"]),
                sha256=digest,
                card=card,
                class_bias=bias,
            )
        except ModelError:
            raise
        except KeyError as exc:
            raise ModelError(f"rhythm model {path} lacks {exc.args[0]!r}") from None
        except Exception as exc:  # torch raises many types for a bad file
            raise ModelError(f"rhythm model weights {path} cannot be loaded: {exc}") from exc
        _check_model(model, path)
        _cache[key] = model
        return model


def _check_model(model: RhythmModel, path: Path) -> None:
    """Refuse a model that cannot give a meaningful probability (validated at load)."""
    import math

    problems = []
    if not model.nets:
        problems.append("holds no networks")
    if not (math.isfinite(model.temperature) and model.temperature > 0):
        problems.append(f"temperature {model.temperature} is not a finite positive number")
    if not (math.isfinite(model.fs_hz) and 10 <= model.fs_hz <= 10_000):
        problems.append(f"input rate {model.fs_hz} Hz is not in [10, 10000]")
    if len(model.class_bias) != len(CLASSES) or not all(map(math.isfinite, model.class_bias)):
        problems.append(f"class_bias must be {len(CLASSES)} finite numbers")
    if problems:
        raise ModelError(f"rhythm model {path} is unusable: {'; '.join(problems)}")


def save_model(
    path: str | Path,
    states: list[dict],
    config: ModelConfig,
    temperature: float,
    fs_hz: float,
    class_bias: tuple[float, ...] | None = None,
) -> str:
    """Write the ensemble file; returns its sha256 (for the model card)."""
    blob = {
        "format": MODEL_FORMAT,
        "config": config.to_dict(),
        "fs_hz": float(fs_hz),
        "temperature": float(temperature),
        "class_bias": [
            float(v) for v in (class_bias if class_bias is not None else [0.0] * len(CLASSES))
        ],
        "states": [{k: v.detach().clone().contiguous() for k, v in s.items()} for s in states],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, path)
    return file_sha256(path)


def ensemble_logits(
    model: RhythmModel, x: np.ndarray, valid: np.ndarray, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(whole-record logits (4,), window logits (n_windows, 4)); both polarities, all members."""
    xt = torch.from_numpy(np.stack([x, -x])[:, None, :].astype(np.float32))
    mt = torch.from_numpy(np.stack([valid, valid])[:, None, :].astype(np.float32))
    whole = np.zeros(len(CLASSES))
    win = np.zeros((len(spans), len(CLASSES)))
    with torch.inference_mode():
        for net in model.nets:
            h, mm = net.features(xt, mt)
            n_out = h.shape[-1]
            scale = n_out / x.size
            pooled = [masked_pool(h, mm)]
            for a, b in spans:
                ia = min(int(a * scale), n_out - 1)
                ib = max(ia + 1, int(np.ceil(b * scale)))
                pooled.append(masked_pool(h[..., ia:ib], mm[..., ia:ib]))
            z = net.head(torch.cat(pooled, 0)).numpy().reshape(len(pooled), 2, -1).mean(axis=1)
            whole += z[0]
            win += z[1:]
    n = len(model.nets)
    return whole / n, win / n


def window_spans(n: int, fs_hz: float) -> list[tuple[int, int]]:
    """10 s windows every 5 s covering the record (one window when it is shorter)."""
    w, hop = int(WINDOW_S * fs_hz), int(HOP_S * fs_hz)
    if n <= w:
        return [(0, n)]
    starts = list(range(0, n - w + 1, hop))
    if starts[-1] + w < n:
        starts.append(n - w)
    return [(s, s + w) for s in starts]


def classify(signal_mv: np.ndarray, fs_hz: float, model: RhythmModel | None = None) -> RhythmResult:
    """Classify one lead (mV, any rate, any length >= 1 s; NaN marks gaps) as N / A / O / ~."""
    from ecgviewer.rhythm.metrics import softmax

    x = np.asarray(signal_mv, dtype=np.float64)
    if x.ndim == 2 and 1 in x.shape:
        x = x.ravel()
    if x.ndim != 1:
        raise SignalFormatError(f"classify expects one lead, got shape {x.shape}")
    if not fs_hz or fs_hz <= 0:
        raise SignalFormatError(f"sampling rate must be positive, got {fs_hz}")
    duration_s = x.size / fs_hz
    if duration_s < MIN_DURATION_S:
        raise SignalFormatError(
            f"signal too short to classify: {duration_s:.2f} s (< {MIN_DURATION_S:g} s)"
        )
    model = model or load_model()
    torch.set_num_threads(1)
    y, valid = preprocess(x, fs_hz, model.fs_hz)
    spans = window_spans(y.size, model.fs_hz)
    whole, win = ensemble_logits(model, y, valid, spans)
    bias = np.asarray(model.class_bias)
    probs = softmax(whole + bias, model.temperature)
    win_probs = softmax(win + bias, model.temperature)
    label = CLASSES[int(np.argmax(probs))]
    gap_fraction = float(np.mean(~np.isfinite(x)))
    flat = not np.any(y)
    peaks = detect_qrs(y, model.fs_hz, valid)
    # RR intervals across untraced stretches (even short, bridged ones) may hide a beat
    rr = assess_rr(peaks, model.fs_hz, resample_mask(np.isfinite(x), y.size))
    warnings = []
    if duration_s < SHORT_WARN_S:
        warnings.append(
            f"short record ({duration_s:.1f} s < {SHORT_WARN_S:g} s): rhythm label is unreliable"
        )
    if gap_fraction > 0.1:
        warnings.append(f"{gap_fraction:.0%} of the samples are missing")
    if flat:
        warnings.append("the signal is flat")
    cannot = bool(
        flat
        or gap_fraction > MAX_GAP_FRACTION
        or label == "~"
        or probs[CLASSES.index("~")] >= NOISE_CANNOT_ASSESS
    )
    if cannot and not flat:
        warnings.append("signal quality too poor to assess the rhythm")
    return RhythmResult(
        label=label,
        probabilities={c: float(p) for c, p in zip(CLASSES, probs)},
        timeline_t_s=np.array([(a + b) / 2 / model.fs_hz for a, b in spans]),
        timeline_probs=win_probs,
        heart_rate_bpm=rr.heart_rate_bpm,
        rr_irregularity=rr.irregularity,
        cannot_assess=cannot,
        duration_s=duration_s,
        warnings=tuple(warnings),
        extra={
            "model_sha256": model.sha256,
            "n_beats": int(peaks.size),
            **rr.summary(),  # what the rate rests on; why the irregularity is not given
            "gap_fraction": gap_fraction,
        },
    )
