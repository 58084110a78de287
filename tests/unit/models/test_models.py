"""Architectures: shapes, parameter counts, width and resolution multipliers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import transforms as T

from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Classifier, MobileNetV1, Preprocessing, build_model
from mobilabel.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from mobilabel.models.transforms import ToNormalizedTensor
from tests.conftest import IMAGENET_WEIGHTS


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_mobilenet_v2_matches_the_paper_at_alpha_1() -> None:
    model = build_model("mobilenet_v2", 1000, 1.0)
    assert parameter_count(model) == 3_504_872
    assert model.eval()(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)


def test_mobilenet_v1_matches_the_paper_at_alpha_1() -> None:
    model = build_model("mobilenet_v1", 1000, 1.0)
    assert parameter_count(model) == 4_231_976
    assert model.eval()(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)
    depthwise = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 13, "13 depthwise-separable blocks"


@pytest.mark.parametrize("arch", ["mobilenet_v1", "mobilenet_v2"])
def test_width_multiplier_thins_the_network(arch: str) -> None:
    full = parameter_count(build_model(arch, 5, 1.0))
    half = parameter_count(build_model(arch, 5, 0.5))
    assert half < 0.5 * full
    assert build_model(arch, 5, 0.5).eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 5)


def test_mobilenet_v2_rounds_channels_to_multiples_of_8() -> None:
    model = build_model("mobilenet_v2", 10, 0.35)
    channels = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c % 8 == 0 for c in channels)
    assert model.last_channel == 1280, "torchvision keeps the last conv at 1280 below alpha 1"


def test_mobilenet_v1_resolution_multiplier_scales_input_and_transforms() -> None:
    preprocessing = Preprocessing.for_resolution(160 / 224)
    assert (preprocessing.resize_size, preprocessing.crop_size) == (183, 160)
    model = MobileNetV1(num_classes=5, alpha=0.75).eval()
    assert model(torch.zeros(1, 3, 160, 160)).shape == (1, 5)


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        build_model("resnet", 5)


def test_the_fused_tensor_step_equals_torchvision_to_tensor_then_normalize(val_images: list[Path]) -> None:
    reference = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    fused = ToNormalizedTensor(IMAGENET_MEAN, IMAGENET_STD)
    for path in val_images[:10]:
        image = T.CenterCrop(224)(T.Resize(256)(read_rgb(path, 10**8)))
        expected, got = reference(image), fused(image)
        assert got.shape == expected.shape == (3, 224, 224) and got.dtype == torch.float32
        assert (got - expected).abs().max() < 1e-6


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_labelling_on_pixels_gives_the_logits_of_the_tutorial_transforms(val_images: list[Path], engine: str) -> None:
    """Labelling engines take uint8 pixels and normalise inside the network: the same arithmetic."""
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    classifier = Classifier.load(checkpoint, engine=engine, device="cpu")
    images = [read_rgb(p, 10**8) for p in val_images[:16]]
    reference_transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    with torch.no_grad():
        reference = checkpoint.build().eval()(torch.stack([reference_transform(i) for i in images]))
    pixels = torch.from_numpy(np.stack([classifier.pixels(i) for i in images]))
    assert pixels.dtype == torch.uint8 and pixels.shape == (16, 224, 224, 3)
    assert torch.allclose(classifier.engine.forward(pixels), reference, atol=1e-4)
