"""The tutorial's transforms in torch, built from a ``Preprocessing`` (its sizes carried in checkpoints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as TF

from .preprocessing import INCEPTION_MIN_CROP_AREA, Preprocessing

ImageTransform = Callable[[Image.Image], torch.Tensor]
# Training augmentations (``--augment``): "basic" is the tutorial's RandomResizedCrop and flip;
# the others add one of torchvision's photometric/geometric policies after them.
AUGMENTATIONS = ("basic", "trivial", "randaugment", "colorjitter")
TensorTransform = Callable[[torch.Tensor], torch.Tensor]


class ToNormalizedTensor:
    """ToTensor then Normalize, in one pass over the pixels.

    The same arithmetic, ((x / 255) - mean) / std, folded into one multiply and one
    subtract per channel: equal to torchvision's two steps within float32 rounding
    (under 1e-6) and about twice as fast, which matters when decoding shares the
    CPU with the model.
    """

    def __init__(self, mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
        std_array = np.asarray(std, dtype=np.float32)
        self._scale = (1.0 / (255.0 * std_array)).astype(np.float32)
        self._shift = (np.asarray(mean, dtype=np.float32) / std_array).astype(np.float32)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        pixels *= self._scale
        pixels -= self._shift
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class TensorEvalPixels:
    """Resize and CenterCrop of the validation transforms on a decoded uint8 (3, H, W) tensor,
    on the tensor's device; the result is uint8 (H, W, 3), as ``eval_pixels`` gives.

    Resize is bilinear with antialiasing and rounds back to uint8, as Pillow does: on the
    shared flowers the result differs from Pillow's by 2e-5 on average (a rounding step
    on a few pixels) and gives the same ImageNet labels on all 609.
    """

    def __init__(self, resize_size: int, crop_size: int) -> None:
        self._resize_size = resize_size
        self._crop_size = crop_size

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        cropped: torch.Tensor = TF.center_crop(TF.resize(image, [self._resize_size], antialias=True), [self._crop_size])
        return cropped.permute(1, 2, 0)


class NormalizedInput(nn.Module):
    """A network taking uint8 pixels (N, H, W, 3) and normalising them itself, as ToTensor and
    Normalize would: ((x / 255) - mean) / std, folded into one multiply and one subtract.

    Inside ONNX Runtime this costs nothing measurable (identical logits), where the same
    arithmetic in numpy in the decode threads cost a measurable share of each image
    (docs/design/cpu-engine.md); on a GPU it runs there, and the uint8 batch is a quarter of the bytes.
    """

    def __init__(self, network: nn.Module, mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
        super().__init__()
        self.network = network
        std_tensor = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("scale", 1.0 / (255.0 * std_tensor))
        self.register_buffer("shift", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) / std_tensor)

    def forward(self, pixels: torch.Tensor) -> Any:
        """What the network returns (logits, or a tuple whose first item is the logits)."""
        # NHWC permuted to NCHW is channels_last in memory: the layout the convolutions want.
        return self.network(pixels.permute(0, 3, 1, 2).float() * self.get_buffer("scale") - self.get_buffer("shift"))


def eval_transform(preprocessing: Preprocessing) -> ImageTransform:
    """The tutorial's validation transforms: Resize, CenterCrop, then a normalised float tensor (3, H, W)."""
    transform: ImageTransform = T.Compose(
        [
            T.Resize(preprocessing.resize_size),
            T.CenterCrop(preprocessing.crop_size),
            ToNormalizedTensor(preprocessing.mean, preprocessing.std),
        ]
    )
    return transform


def train_transform(
    preprocessing: Preprocessing, augment: str = "basic", min_crop_area: float = INCEPTION_MIN_CROP_AREA
) -> ImageTransform:
    """The tutorial's RandomResizedCrop (crops of ``min_crop_area`` to all of the image's area,
    aspect ratio 3/4 to 4/3) and RandomHorizontalFlip, then for ``augment``:
    "trivial" TrivialAugmentWide, "randaugment" RandAugment (torchvision's defaults: 2 ops,
    magnitude 9), "colorjitter" ColorJitter(brightness, contrast, saturation 0.4, the usual
    ImageNet-training strength). Raises ``ValueError`` for another name.
    """
    extra: dict[str, list[ImageTransform]] = {
        "basic": [],
        "trivial": [T.TrivialAugmentWide()],
        "randaugment": [T.RandAugment()],
        "colorjitter": [T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)],
    }
    if augment not in extra:
        raise ValueError(f"unknown augmentation {augment!r}; choose one of {', '.join(AUGMENTATIONS)}")
    transform: ImageTransform = T.Compose(
        [
            T.RandomResizedCrop(preprocessing.crop_size, scale=(min_crop_area, 1.0)),
            T.RandomHorizontalFlip(),
            *extra[augment],
            ToNormalizedTensor(preprocessing.mean, preprocessing.std),
        ]
    )
    return transform
