"""The segmenter's weight file: format, safe loading, and the JSON card beside it."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ecgviewer.errors import ModelError
from ecgviewer.io.digest import file_sha256
from ecgviewer.paths import models_dir
from ecgviewer.segment.model import CLASS_NAMES, SegmenterConfig, TraceSegmenter

WEIGHTS_FORMAT = "ecgviewer-trace-segmenter-v1"
WEIGHTS_NAME = "segmenter.pt"
PX_PER_MM = 8.0


def default_weights_path() -> Path:
    return models_dir() / WEIGHTS_NAME


def save_weights(path: Path, net: TraceSegmenter, card: dict) -> str:
    """Write the weights (fp32 state dict) and ``<name>.json`` card; returns the sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "format": WEIGHTS_FORMAT,
        "config": net.config.to_dict(),
        "classes": list(CLASS_NAMES),
        "px_per_mm": PX_PER_MM,
        "state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    digest = file_sha256(path)
    card = {**card, "format": WEIGHTS_FORMAT, "sha256": digest, "classes": list(CLASS_NAMES)}
    path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")
    return digest


def _check_against_card(path: Path) -> None:
    """A weight file with a card beside it must match the card's sha256 (corrupt or swapped)."""
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        return  # a bare checkpoint (training, benchmarks of other checkpoints)
    try:
        expected = json.loads(card_path.read_text()).get("sha256")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"trace segmenter card {card_path} is unreadable: {exc}") from exc
    digest = file_sha256(path)
    if expected != digest:
        raise ModelError(
            f"trace segmenter weights {path} are corrupt or do not match their card: "
            f"sha256 {digest[:12]}... != expected {str(expected)[:12]}..."
        )


def load_weights(path: Path | None = None) -> tuple[TraceSegmenter, dict]:
    """The network in eval mode and its blob's metadata; :class:`ModelError` if unusable."""
    path = Path(path) if path else default_weights_path()
    if not path.is_file():
        raise ModelError(
            f"trace segmenter weights not found: {path} "
            "(reinstall, or train with `ecgviewer train-segmenter`)"
        )
    _check_against_card(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise ModelError(f"trace segmenter weights {path} cannot be loaded: {exc}") from exc
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        fmt = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise ModelError(f"{path}: not trace segmenter weights (format {fmt!r})")
    try:
        net = TraceSegmenter(SegmenterConfig.from_dict(blob["config"]))
        net.load_state_dict(blob["state"])
    except Exception as exc:
        raise ModelError(f"trace segmenter weights {path} do not fit the network: {exc}") from exc
    net.eval()
    meta = {k: v for k, v in blob.items() if k != "state"}
    return net, meta
