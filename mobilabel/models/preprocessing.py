"""Sizes and normalisation a model labels with, and its validation crop in Pillow and numpy (no torch).

The torch transforms built from the same sizes (training, tensors on a GPU) are in ``transforms``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from .devices import torch_installed

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .transforms import ImageTransform, NormalizedInput, TensorTransform

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# RandomResizedCrop's smallest crop, as a share of the image's area: torchvision's default (so the
# tutorial's), from Inception's ImageNet training (Szegedy et al. 2015).
INCEPTION_MIN_CROP_AREA = 0.08

Pixels = npt.NDArray[np.uint8]
PixelTransform = Callable[[Image.Image], Pixels]


class CenterCropPixels:
    """The validation transforms' Resize and CenterCrop on a Pillow image, as uint8 (H, W, 3) pixels.

    torchvision's Resize(size) and CenterCrop(size) on a Pillow image, step for step: the shorter
    side scaled to ``resize_size`` (the longer truncated to whole pixels) by Pillow's bilinear
    filter, unless already that size; the crop's corner rounded to the nearest pixel; an image
    smaller than the crop padded with black. So the pixels are identical, with no torch imported.
    """

    def __init__(self, resize_size: int, crop_size: int) -> None:
        self._resize_size = resize_size
        self._crop_size = crop_size

    def __call__(self, image: Image.Image) -> Pixels:
        width, height = image.size
        short, long = min(width, height), max(width, height)
        long = int(self._resize_size * long / short)
        size = (self._resize_size, long) if width <= height else (long, self._resize_size)
        if size != (width, height):
            image = image.resize(size, Image.Resampling.BILINEAR)
        return _pad_crop(np.asarray(image.convert("RGB")), self._crop_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._resize_size}, {self._crop_size})"


@functools.lru_cache(maxsize=64)  # photos come in a few sizes; callers never write to what it returns
def _bilinear_weights(input_size: int, output_size: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32], int]:
    """Source indices (output_size, taps), int16-range weights and their precision (bits) of an antialiased
    bilinear resize from ``input_size`` to ``output_size`` pixels.

    PyTorch's uint8 kernel (ATen's ``_compute_index_ranges_int16_weights``, from Pillow-SIMD), step for
    step in float64: a triangle filter stretched by the scale, normalised per output, then scaled to
    int16 at the largest precision that keeps the biggest weight of all outputs in range.
    """
    scale = input_size / output_size
    support = scale if scale >= 1.0 else 1.0
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    taps = int(np.ceil(support)) * 2 + 1
    centers = scale * (np.arange(output_size, dtype=np.float64) + 0.5)
    xmin = np.maximum(np.trunc(centers - support + 0.5).astype(np.intp), 0)
    xsize = np.clip(np.minimum(np.trunc(centers + support + 0.5).astype(np.intp), input_size) - xmin, 0, taps)
    offsets = np.arange(taps)
    weights = np.maximum(1.0 - np.abs((offsets[None, :] + xmin[:, None] - centers[:, None] + 0.5) * invscale), 0.0)
    weights[offsets[None, :] >= xsize[:, None]] = 0.0
    total = np.zeros(output_size)
    for k in range(taps):  # in ATen's order, so the float64 sums are its own
        total += weights[:, k]
    weights = np.divide(weights, total[:, None], out=weights, where=total[:, None] != 0)
    precision = 0
    while precision < 22 and int(0.5 + float(weights.max()) * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = np.trunc(weights * (1 << precision) + 0.5).astype(np.int32)  # weights are never negative
    used = max(int(xsize.max()), 1)  # ATen's bound on the taps leaves some always zero: skip those
    indices, scaled = np.minimum(xmin[:, None] + offsets[None, :used], input_size - 1), scaled[:, :used]
    indices.flags.writeable = scaled.flags.writeable = False  # cached: shared by every caller
    return indices, scaled, precision


def _resample_rows(
    pixels: npt.NDArray[np.uint8], indices: npt.NDArray[np.intp], weights: npt.NDArray[np.int32], precision: int
) -> npt.NDArray[np.uint8]:
    """One pass of the resize down the rows of uint8 (H, W, 3) pixels with ``_bilinear_weights``' taps (a row
    of ``indices`` and ``weights`` an output row), rounded and clamped to uint8 as PyTorch's kernel does.
    Whole rows are gathered at a time: several times faster in numpy than gathering columns."""
    summed = np.full((len(weights), *pixels.shape[1:]), 1 << (precision - 1), dtype=np.int32)
    for k in range(weights.shape[1]):
        summed += pixels[indices[:, k]] * weights[:, k, None, None]
    resampled: npt.NDArray[np.uint8] = np.clip(summed >> precision, 0, 255).astype(np.uint8)
    return resampled


class ResizeCropArray:
    """``TensorEvalPixels`` (torchvision's Resize and CenterCrop on a uint8 tensor) in numpy: the same
    pixels from a decoded image's uint8 (H, W, 3) array, without torch.

    The antialiased bilinear resize is PyTorch's uint8 CPU kernel in integer arithmetic (``_resample``),
    columns then rows as it runs them; only the rows and columns the crop keeps are computed.
    """

    def __init__(self, resize_size: int, crop_size: int) -> None:
        self._resize_size = resize_size
        self._crop_size = crop_size

    def __call__(self, image: Image.Image) -> Pixels:
        image = image if image.mode == "RGB" else image.convert("RGB")
        width, height = image.size
        short, long = min(width, height), max(width, height)
        long = int(self._resize_size * long / short)
        new_w, new_h = (self._resize_size, long) if width <= height else (long, self._resize_size)
        crop = self._crop_size
        if crop > new_w or crop > new_h:  # smaller than the crop: resize whole, then pad with black
            return _pad_crop(self._resized(image, new_h, new_w, (0, new_h), (0, new_w)), crop)
        top, left = int(round((new_h - crop) / 2.0)), int(round((new_w - crop) / 2.0))
        return self._resized(image, new_h, new_w, (top, crop), (left, crop))

    @staticmethod
    def _resized(image: Image.Image, new_h: int, new_w: int, rows: tuple[int, int], columns: tuple[int, int]) -> Pixels:
        """Rows ``rows[0]`` to ``sum(rows)`` and columns ``columns[0]`` to ``sum(columns)`` of the RGB ``image``
        resized to (new_h, new_w)."""
        width, height = image.size
        kept_rows, kept_columns = slice(rows[0], rows[0] + rows[1]), slice(columns[0], columns[0] + columns[1])
        vertical = None
        if new_h != height:
            indices, weights, precision = _bilinear_weights(height, new_h)
            low, high = int(indices[kept_rows].min()), int(indices[kept_rows].max()) + 1
            image = image.crop((0, low, width, high))  # only the input rows the kept output rows read
            vertical = (indices[kept_rows] - low, weights[kept_rows], precision)
        else:
            image = image.crop((0, rows[0], width, rows[0] + rows[1]))
        if new_w != width:  # columns first, then rows, as PyTorch's kernel runs them (each pass rounds to uint8)
            indices, weights, precision = _bilinear_weights(width, new_w)
            # Pillow transposes fastest; the columns are then resampled as rows.
            columns_first = np.asarray(image.transpose(Image.Transpose.TRANSPOSE))
            pixels = _transposed(_resample_rows(columns_first, indices[kept_columns], weights[kept_columns], precision))
        else:
            pixels = np.asarray(image)[:, kept_columns]
        if vertical is not None:
            pixels = _resample_rows(np.ascontiguousarray(pixels), *vertical)
        return np.ascontiguousarray(pixels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._resize_size}, {self._crop_size})"


class TorchResizeCrop:
    """``TensorEvalPixels`` (torchvision's kernel) on a decoded image, as numpy uint8 (H, W, 3): the pixels of
    ``ResizeCropArray`` in about a third of its time (bench/results/slim.csv).

    The first ``numpy_first`` images are resized by ``ResizeCropArray`` (the same pixels) and torch is imported
    only for the next: importing torch and torchvision costs seconds of CPU, more than the faster kernel saves
    on a few hundred images, so `mobilabel predict` of a few photos, or a small folder, never loads it.
    """

    # Images before torch is imported: its import (about 5 s of CPU, bench/results/slim.csv: the full install's
    # predict less the slim one's) over the time the kernel saves per image (about 10 ms there).
    NUMPY_FIRST = 500

    def __init__(self, resize_size: int, crop_size: int, numpy_first: int = NUMPY_FIRST) -> None:
        self._sizes = (resize_size, crop_size)
        self._crop: TensorTransform | None = None
        self._numpy = ResizeCropArray(resize_size, crop_size)
        self._numpy_first = numpy_first
        self._seen = itertools.count()  # next() on it is atomic: the decode threads share one

    def __call__(self, image: Image.Image) -> Pixels:
        if self._crop is None and next(self._seen) < self._numpy_first:
            return self._numpy(image)
        import torch

        if self._crop is None:
            from .transforms import TensorEvalPixels

            self._crop = TensorEvalPixels(*self._sizes)
        pixels = torch.from_numpy(np.array(image if image.mode == "RGB" else image.convert("RGB"))).permute(2, 0, 1)
        cropped: Pixels = self._crop(pixels).numpy()
        return cropped

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self._sizes}"


def _transposed(pixels: Pixels) -> Pixels:
    """Contiguous uint8 (H, W, 3) pixels as (W, H, 3), each pixel's three bytes moved as one."""
    height, width = pixels.shape[:2]
    moved = np.ascontiguousarray(pixels.view(np.dtype((np.void, 3))).reshape(height, width).T)
    return moved.view(np.uint8).reshape(width, height, 3)


def _pad_crop(pixels: Pixels, crop: int) -> Pixels:
    """CenterCrop of pixels (H, W, 3) to ``crop`` square, padding black where they are smaller, as torchvision does."""
    pad_h, pad_w = max(crop - pixels.shape[0], 0), max(crop - pixels.shape[1], 0)
    if pad_h or pad_w:
        pixels = np.pad(pixels, ((pad_h // 2, (pad_h + 1) // 2), (pad_w // 2, (pad_w + 1) // 2), (0, 0)))
    top = int(round((pixels.shape[0] - crop) / 2.0))
    left = int(round((pixels.shape[1] - crop) / 2.0))
    return np.ascontiguousarray(pixels[top : top + crop, left : left + crop])


@dataclass(frozen=True)
class Preprocessing:
    """Sizes and normalisation a model was trained with.

    The defaults are the validation transforms of the tutorial: Resize(256),
    CenterCrop(224), ToTensor, Normalize(ImageNet mean/std). A resolution
    multiplier rho scales both sizes. The methods that build torch transforms import torch.
    """

    resize_size: int = 256
    crop_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def for_resolution(cls, rho: float) -> Preprocessing:
        """The default sizes times ``rho`` (the paper's resolution multiplier; 1: the defaults), rounded
        to whole pixels. Raises ValueError outside (0, 1]."""
        if not 0 < rho <= 1:
            raise ValueError(f"resolution multiplier rho must be in (0, 1], got {rho}")
        return cls(resize_size=round(256 * rho), crop_size=round(224 * rho))

    def eval_pixels(self) -> PixelTransform:
        """The validation transforms up to the crop, as uint8 (H, W, 3): the input of a ``pixel_network``."""
        return CenterCropPixels(self.resize_size, self.crop_size)

    def eval_array_pixels(self) -> PixelTransform:
        """``eval_tensor_pixels``' very pixels (torchvision's kernels on a tensor) in numpy, without torch."""
        return ResizeCropArray(self.resize_size, self.crop_size)

    def eval_thread_pixels(self) -> PixelTransform:
        """The resize and crop of the decode threads (``eval_tensor_pixels``' pixels from a decoded image):
        torchvision's kernel where torch is installed (after the first images, ``TorchResizeCrop``), its numpy
        replica where not (a slim install)."""
        if torch_installed():
            return TorchResizeCrop(self.resize_size, self.crop_size)
        return self.eval_array_pixels()

    def eval_transform(self) -> ImageTransform:
        """The validation transforms: a normalised float tensor (3, H, W)."""
        from .transforms import eval_transform

        return eval_transform(self)

    def eval_tensor_pixels(self) -> TensorTransform:
        """``eval_pixels`` for images already decoded to uint8 (3, H, W) tensors, on any device."""
        from .transforms import TensorEvalPixels

        return TensorEvalPixels(self.resize_size, self.crop_size)

    def pixel_network(self, network: nn.Module) -> NormalizedInput:
        """``network`` taking ``eval_pixels`` batches, normalising them itself."""
        from .transforms import NormalizedInput

        return NormalizedInput(network, self.mean, self.std)

    def pixel_example(self) -> torch.Tensor:
        """A batch of one, shaped and typed as ``pixel_network`` takes it."""
        import torch

        return torch.zeros(1, self.crop_size, self.crop_size, 3, dtype=torch.uint8)

    def train_transform(self, augment: str = "basic", min_crop_area: float = INCEPTION_MIN_CROP_AREA) -> ImageTransform:
        """The tutorial's RandomResizedCrop and flip, then ``augment`` (``transforms.train_transform``)."""
        from .transforms import train_transform

        return train_transform(self, augment, min_crop_area)

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
