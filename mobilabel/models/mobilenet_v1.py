"""MobileNetV1 (Howard et al., 2017), as the paper's Table 1 lays it out.

torchvision has no V1, so it is built here from the same kind of small blocks
torchvision uses for V2: a 3x3 stride-2 stem with 32 filters, 13
depthwise-separable blocks, global average pooling and one fully connected layer.
"""

from __future__ import annotations

import torch
from torch import nn

# (output channels, stride) of the pointwise conv of each depthwise-separable block.
_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def _scaled(channels: int, alpha: float) -> int:
    # The paper thins each layer to alpha * channels; keep at least 8.
    return max(8, int(channels * alpha))


class ConvBNReLU(nn.Sequential):
    """Convolution, batch norm and ReLU: the unit every V1 layer is made of."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DepthwiseSeparable(nn.Sequential):
    """A 3x3 depthwise conv (one filter per channel) followed by a 1x1 pointwise conv."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            ConvBNReLU(in_channels, in_channels, 3, stride, groups=in_channels),
            ConvBNReLU(in_channels, out_channels, 1, 1),
        )


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int = 1000, alpha: float = 1.0, dropout: float = 0.0) -> None:
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        channels = _scaled(32, alpha)
        layers: list[nn.Module] = [ConvBNReLU(3, channels, 3, 2)]
        for out, stride in _BLOCKS:
            out = _scaled(out, alpha)
            layers.append(DepthwiseSeparable(channels, out, stride))
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, num_classes))
        self.last_channel = channels
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits
