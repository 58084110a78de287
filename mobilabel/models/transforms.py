"""Preprocessing: the tutorial's transforms, with their sizes carried in checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from PIL import Image
from torchvision import transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ImageTransform = Callable[[Image.Image], torch.Tensor]


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
    def for_resolution(cls, rho: float) -> "Preprocessing":
        if not 0 < rho <= 1:
            raise ValueError(f"resolution multiplier rho must be in (0, 1], got {rho}")
        return cls(resize_size=round(256 * rho), crop_size=round(224 * rho))

    def eval_transform(self) -> ImageTransform:
        return T.Compose([
            T.Resize(self.resize_size),
            T.CenterCrop(self.crop_size),
            T.ToTensor(),
            T.Normalize(self.mean, self.std),
        ])

    def train_transform(self) -> ImageTransform:
        return T.Compose([
            T.RandomResizedCrop(self.crop_size),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(self.mean, self.std),
        ])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessing":
        return cls(
            resize_size=int(data["resize_size"]),
            crop_size=int(data["crop_size"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
        )
