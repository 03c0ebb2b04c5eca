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

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The U-Net from the stem's input to the last decoder block (1/4 resolution)."""
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        y = skips.pop()
        for block in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.features(F.pixel_unshuffle(x, self.config.fold))
        return F.pixel_shuffle(self.head(y), self.config.fold)


def _folded(seq: nn.Sequential) -> nn.Conv2d:
    """The conv of a conv-BatchNorm-ReLU block with the (eval-mode) BatchNorm folded in,
    computed in float64 so that the folding adds no rounding of its own."""
    conv, bn = seq[0], seq[1]
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, bias=True)
    out.weight.data = (conv.weight.double() * scale[:, None, None, None]).float()
    out.bias.data = (bn.bias.double() - bn.running_mean.double() * scale).float()
    return out


class InferenceSegmenter(nn.Module):
    """A trained :class:`TraceSegmenter` rearranged for CPU inference, same function (to float
    rounding, ~1e-5 in probability): BatchNorm folded into the convolutions; pixel-unshuffle
    plus the 1×1 stem as one 4×4 stride-4 conv, and the 1×1 head plus pixel-shuffle as one
    stride-4 transposed conv, so the full-resolution reshuffles disappear; channels-last
    memory (faster oneDNN kernels). Built from the loaded weights, never trained or saved."""

    def __init__(self, net: TraceSegmenter) -> None:
        super().__init__()
        self.config = cfg = net.config
        k, relu = cfg.fold, nn.ReLU(inplace=True)
        stem_in = _folded(net.stem[0])  # 1×1 over unshuffled channels c·k² + i·k + j
        stem = nn.Conv2d(IN_CHANNELS, cfg.widths[0], k, stride=k, bias=True)
        stem.weight.data = stem_in.weight.data.reshape(cfg.widths[0], IN_CHANNELS, k, k)
        stem.bias.data = stem_in.bias.data
        self.stem = nn.Sequential(stem, relu, _folded(net.stem[1]), relu)
        self.down = nn.ModuleList(nn.Sequential(_folded(b[0]), relu, _folded(b[1]), relu)
                                  for b in net.down)
        self.up = nn.ModuleList(nn.Sequential(_folded(b), relu) for b in net.up)
        last = self.up[-1][0]  # one more output channel: weights 0, bias 1, so constant 1
        ones = nn.Conv2d(last.in_channels, last.out_channels + 1, last.kernel_size,
                         padding=last.padding, dilation=last.dilation, bias=True)
        ones.weight.data = F.pad(last.weight.data, (0, 0, 0, 0, 0, 0, 0, 1))
        ones.bias.data = F.pad(last.bias.data, (0, 1), value=1.0)
        self.up[-1][0] = ones
        # head + pixel-shuffle as a transposed conv; its per-sub-pixel bias rides on the
        # constant channel, so no full-resolution add is needed
        w = net.head.weight.data.reshape(cfg.n_classes, k, k, -1)  # out channel c·k² + i·k + j
        b = net.head.bias.data.reshape(cfg.n_classes, k, k, 1)
        self.register_buffer("head_weight", torch.cat([w, b], dim=3).permute(3, 0, 1, 2).contiguous())
        self.eval()
        self.to(memory_format=torch.channels_last)

    multiple = TraceSegmenter.multiple
    features = TraceSegmenter.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.features(x.contiguous(memory_format=torch.channels_last))
        return F.conv_transpose2d(y, self.head_weight, stride=self.config.fold)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
