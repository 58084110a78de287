"""Preprocessing: the tutorial's transforms, with their sizes carried in checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ImageTransform = Callable[[Image.Image], torch.Tensor]
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


class TensorEvalTransform:
    """The validation transforms on a decoded uint8 (3, H, W) tensor, on the tensor's device.

    Resize is bilinear with antialiasing and rounds back to uint8, as Pillow does, so
    on the shared flowers the result differs from the Pillow path by 2e-5 on average
    (a rounding step on a few pixels) and gives the same ImageNet labels on all 609.
    """

    def __init__(self, resize_size: int, crop_size: int, mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
        self._resize_size = resize_size
        self._crop_size = crop_size
        std_tensor = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self._scale = 1.0 / (255.0 * std_tensor)
        self._shift = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1) / std_tensor

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        image = TF.center_crop(TF.resize(image, [self._resize_size], antialias=True), [self._crop_size])
        if self._scale.device != image.device:
            self._scale, self._shift = self._scale.to(image.device), self._shift.to(image.device)
        return image.float() * self._scale - self._shift


@dataclass(frozen=True)
class Preprocessing:
    """Sizes and normalisation a model was trained with.

    The defaults are the validation transforms of the tutorial: Resize(256),
    CenterCrop(224), ToTensor, Normalize(ImageNet mean/std). A resolution
    multiplier rho scales both sizes.
    """

    resize_size: int = 256
    crop_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def for_resolution(cls, rho: float) -> Preprocessing:
        if not 0 < rho <= 1:
            raise ValueError(f"resolution multiplier rho must be in (0, 1], got {rho}")
        return cls(resize_size=round(256 * rho), crop_size=round(224 * rho))

    def eval_transform(self) -> ImageTransform:
        return T.Compose([T.Resize(self.resize_size), T.CenterCrop(self.crop_size), ToNormalizedTensor(self.mean, self.std)])

    def eval_tensor_transform(self) -> TensorTransform:
        """``eval_transform`` for images already decoded to uint8 tensors (on any device)."""
        return TensorEvalTransform(self.resize_size, self.crop_size, self.mean, self.std)

    def train_transform(self) -> ImageTransform:
        return T.Compose([
            T.RandomResizedCrop(self.crop_size),
            T.RandomHorizontalFlip(),
            ToNormalizedTensor(self.mean, self.std),
        ])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        return cls(
            resize_size=int(data["resize_size"]),
            crop_size=int(data["crop_size"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
        )
