"""Small fully convolutional 1-D residual CNN with masked global average + max pooling.

Takes any input length; padding beyond each record's valid length is re-zeroed after every
layer, so a padded batch gives the same output as each record alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ecgviewer.rhythm.types import CLASSES


@dataclass(frozen=True)
class ModelConfig:
    stem_channels: int = 16
    stem_kernel: int = 15
    stem_stride: int = 4  # 100 Hz in -> 25 Hz feature rate: CPU cost halves vs stride 2
    channels: tuple[int, ...] = (16, 24, 32, 48, 64, 96)
    strides: tuple[int, ...] = (1, 2, 2, 2, 2, 2)
    kernel: int = 7
    hidden: int = 64
    dropout: float = 0.2
    n_classes: int = len(CLASSES)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        for k in ("channels", "strides"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


def _down(mask: torch.Tensor, stride: int) -> torch.Tensor:
    return mask[..., ::stride] if stride > 1 else mask


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.stride = stride
        self.short = None
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out)
            )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = _down(mask, self.stride)
        h = torch.relu(self.bn1(self.conv1(x))) * m
        h = self.bn2(self.conv2(h))
        s = x if self.short is None else self.short(x)
        return torch.relu(h + s) * m, m


class RhythmCNN(nn.Module):
    """(batch, 1, n) samples + (batch, 1, n) float mask -> (batch, n_classes) logits."""

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        c = config
        self.stem = nn.Conv1d(
            1,
            c.stem_channels,
            c.stem_kernel,
            stride=c.stem_stride,
            padding=c.stem_kernel // 2,
            bias=False,
        )
        self.stem_bn = nn.BatchNorm1d(c.stem_channels)
        blocks = []
        c_in = c.stem_channels
        for ch, st in zip(c.channels, c.strides):
            blocks.append(ResBlock(c_in, ch, st, c.kernel))
            c_in = ch
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(
            nn.Linear(2 * c_in, c.hidden),
            nn.ReLU(),
            nn.Dropout(c.dropout),
            nn.Linear(c.hidden, c.n_classes),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones_like(x)
        h, m = self.features(x, mask)
        return self.head(masked_pool(h, m))

    def features(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final feature map and its mask (before pooling)."""
        x = x * mask
        m = _down(mask, self.config.stem_stride)
        h = torch.relu(self.stem_bn(self.stem(x))) * m
        for blk in self.blocks:
            h, m = blk(h, m)
        return h, m


def masked_pool(h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Concatenate masked mean and masked max over time; all-masked rows give zeros."""
    n = m.sum(dim=-1).clamp_min(1.0)
    avg = (h * m).sum(dim=-1) / n
    mx = h.masked_fill(m < 0.5, float("-inf")).amax(dim=-1)
    mx = torch.where(torch.isfinite(mx), mx, torch.zeros_like(mx))
    return torch.cat([avg, mx], dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
