"""The architectures a checkpoint may name, built by one function."""

from __future__ import annotations

from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.models.mobilenetv2 import InvertedResidual

from .mobilenet_v1 import DepthwiseSeparable, MobileNetV1

ARCHITECTURES = ("mobilenet_v2", "mobilenet_v1")


def build_model(arch: str, num_classes: int, alpha: float = 1.0) -> nn.Module:
    """A freshly initialised network.

    MobileNetV2 is torchvision's: its layer names are the tutorial's, so ImageNet
    weight files load as they are. For alpha below 1 torchvision keeps the last
    conv at 1280 channels (the paper's choice), where the tutorial shrinks it too.
    """
    if arch == "mobilenet_v2":
        network: nn.Module = mobilenet_v2(num_classes=num_classes, width_mult=alpha)
        return network
    if arch == "mobilenet_v1":
        return MobileNetV1(num_classes=num_classes, alpha=alpha)
    raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")


def head(model: nn.Module) -> nn.Module:
    """The classifier head: both architectures end in ``classifier(flatten(avgpool(features(x))))``."""
    return model.get_submodule("classifier")


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of the classifier head (what transfer learning trains)."""
    return list(head(model).parameters())


def backbone(model: nn.Module) -> nn.Module:
    """The feature extractor (what transfer learning freezes)."""
    return model.get_submodule("features")


def backbone_blocks(model: nn.Module) -> list[int]:
    """Indices in ``backbone(model)`` of its blocks: MobileNetV2's 17 inverted-residual blocks
    (``features[1:18]``), MobileNetV1's 13 depthwise-separable ones (``features[1:14]``).

    What ``--unfreeze-last K`` counts: the last K blocks, and every layer after them, train.
    """
    layers = backbone(model).children()
    return [i for i, module in enumerate(layers) if isinstance(module, InvertedResidual | DepthwiseSeparable)]
