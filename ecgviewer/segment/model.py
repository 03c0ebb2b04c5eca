"""The trace segmenter network: a small U-Net that runs at 1/4 of the 8 px/mm page scale.

The input (RGB + darkness, normalised per page) is folded by pixel-unshuffle x4, so every conv
runs at 1/4 resolution or below with few channels; the head predicts 16 sub-pixels per class
and pixel-shuffle unfolds them back to full resolution. This keeps a 200-dpi A4 page under a
second on two CPU cores while still drawing 1-px traces.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

CLASS_NAMES: tuple[str, ...] = ("trace", "grid", "marks")
IN_CHANNELS = 4  # R, G, B, darkness (1 - min channel), each normalised per page


@dataclass(frozen=True)
class SegmenterConfig:
    """Architecture hyper-parameters (stored with the weights)."""

    widths: tuple[int, ...] = (24, 40, 64, 96)  # at 1/4, 1/8, 1/16, 1/32 of the input
    fold: int = 4  # pixel-unshuffle factor
    n_classes: int = len(CLASS_NAMES)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SegmenterConfig:
        return cls(widths=tuple(int(w) for w in d["widths"]), fold=int(d["fold"]),
                   n_classes=int(d["n_classes"]))


def _conv(c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TraceSegmenter(nn.Module):
    """(N, 4, H, W) normalised page -> (N, n_classes, H, W) logits; H, W multiples of
    ``fold * 2 ** (len(widths) - 1)``."""

    def __init__(self, config: SegmenterConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SegmenterConfig()
        w = cfg.widths
        f2 = cfg.fold * cfg.fold
        self.stem = nn.Sequential(_conv(IN_CHANNELS * f2, w[0], k=1), _conv(w[0], w[0]))
        self.down = nn.ModuleList()
        for i in range(1, len(w)):
            dil = 2 if i == len(w) - 1 else 1
            self.down.append(nn.Sequential(_conv(w[i - 1], w[i], stride=2), _conv(w[i], w[i], dilation=dil)))
        self.up = nn.ModuleList(_conv(w[i] + w[i - 1], w[i - 1]) for i in range(len(w) - 1, 0, -1))
        self.head = nn.Conv2d(w[0], cfg.n_classes * f2, 1)

    @property
    def multiple(self) -> int:
        return self.config.fold * 2 ** (len(self.config.widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_unshuffle(x, self.config.fold)
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        y = skips.pop()
        for block in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))
        return F.pixel_shuffle(self.head(y), self.config.fold)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
