"""A model made ready to label with: its crop, engine, softmax and top-k.

Torch-free: a version's stored ONNX file labels with it as it is (``Classifier.from_onnx_file``), with
Pillow crops and numpy batches. A checkpoint loaded in torch (``Classifier.load``) is a ``TorchClassifier``,
which adds torchvision's kernels in the decode threads and batches on the model's device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from .onnx_file import open_onnx_file
from .preprocessing import PixelTransform, Preprocessing

if TYPE_CHECKING:
    from .checkpoint import Checkpoint
    from .transforms import TensorTransform

# Test-time augmentation at labelling time (MOBILABEL_TTA): "off", or "flip" (the image and its mirror).
TTA_MODES = ("off", "flip")

# How embeddings are kept: float16 (1280 values are 2,560 bytes an image for MobileNetV2). The top label
# they give through a linear head matches float32's but for near ties (tests of training.quick).
EMBEDDING_DTYPE = np.float16

# A batch of uint8 pixels (N, H, W, 3): numpy on the CPU, a tensor on a GPU (``Classifier.stack``).
Batch = Any
Logits = Callable[[Batch], Any]


class ModelCard(Protocol):
    """What a classifier needs to know of its model besides the network: a checkpoint, or an ONNX file's card."""

    @property
    def version_id(self) -> str: ...

    @property
    def classes(self) -> list[str]: ...

    @property
    def preprocessing(self) -> Preprocessing: ...

    @property
    def temperature(self) -> float: ...

    @property
    def backbone(self) -> str | None:
        """The backbone's fingerprint (``embedding.backbone_fingerprint``); None where the card does not know it."""
        ...


class Forward(Protocol):
    name: str
    device: str

    def forward(self, batch: Batch) -> Any:
        """Logits (N, classes), on the CPU, as an array or a tensor numpy can read."""
        ...

    def outputs(self, batch: Batch) -> list[Any]:
        """Logits (N, classes), then the pooled features (N, D) where the network gives them, on the CPU."""
        ...


def softmax(logits: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Softmax over the last axis of logits (N, classes), in float32 as torch.softmax computes it."""
    values = np.asarray(logits, dtype=np.float32)
    exp = np.exp(values - values.max(axis=1, keepdims=True))
    probabilities: npt.NDArray[np.float32] = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32, copy=False)
    return probabilities


def mirrored(batch: Batch) -> Batch:
    """A batch of pixels (N, H, W, 3) followed by its horizontal mirror images: (2N, H, W, 3), of the same kind."""
    if isinstance(batch, np.ndarray):
        return np.concatenate([batch, batch[:, :, ::-1]])
    import torch

    return torch.cat([batch, batch.flip(2)])


@dataclass(frozen=True)
class Prediction:
    """The top-k (label, probability) pairs, most probable first; ``margin`` is the top-1 probability minus
    the top-2 (whatever k is; 1.0 for a one-class model): how near a tie the label is. ``embedding``: the
    image's pooled features (D,) as ``EMBEDDING_DTYPE``, from the same pass (of the image itself, not its
    mirror, under test-time augmentation); None from a network that gives logits only."""

    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    margin: float
    embedding: npt.NDArray[np.float16] | None = None


class Classifier:
    """Labels batches of uint8 pixels with ``engine``; ``pixels`` (Pillow) makes them from a decoded image."""

    def __init__(self, card: ModelCard, engine: Forward, top_k: int = 5, tta: str = "off") -> None:
        if tta not in TTA_MODES:
            raise ValueError(f"unknown test-time augmentation {tta!r}; choose one of {', '.join(TTA_MODES)} (MOBILABEL_TTA)")
        self.card = card
        self.engine = engine
        # Which stored embeddings this backbone's are (storage.embedding_writes keys them by it); None: none kept.
        self.backbone = card.backbone
        self.tta = tta
        self.top_k = max(1, min(top_k, len(card.classes)))
        # The version's calibration (mobilabel.calibration): logits / T before the softmax; 1.0 if never fitted.
        self.temperature = card.temperature
        self.pixels: PixelTransform = card.preprocessing.eval_pixels()
        self._thread_pixels: PixelTransform = card.preprocessing.eval_thread_pixels()

    @classmethod
    def load(
        cls,
        checkpoint: Checkpoint,
        engine: str = "auto",
        device: str = "auto",
        top_k: int = 5,
        threads: int | None = None,
        tta: str = "off",
    ) -> Classifier:
        """A checkpoint's network in torch, on ``engine`` and ``device`` (imports torch)."""
        from .torch_classifier import TorchClassifier

        return TorchClassifier.build(checkpoint, engine, device, top_k, threads, tta)

    @classmethod
    def from_onnx_file(cls, path: Path, version_id: str, top_k: int = 5, threads: int = 1, tta: str = "off") -> Classifier:
        """The version's stored ONNX file (``onnx_file``) on ONNX Runtime, without torch.
        Raises ``OnnxFileError`` for a file it cannot use."""
        card, runtime = open_onnx_file(path, version_id, threads)
        return cls(card, runtime, top_k, tta)

    @property
    def version_id(self) -> str:
        return self.card.version_id

    @property
    def classes(self) -> list[str]:
        return self.card.classes

    @property
    def preprocessing(self) -> Preprocessing:
        return self.card.preprocessing

    @property
    def device_pixels(self) -> TensorTransform | None:
        """The crop of a uint8 (3, H, W) tensor decoded on the model's device; None: no device decoding."""
        return None

    def thread_pixels(self, image: Image.Image) -> Batch:
        """The crop of an image the decode threads decoded (libjpeg-turbo or Pillow) for the default decoder
        policy: torchvision's resize on a tensor where torch is installed, else its numpy replica, pixel for pixel
        (``Preprocessing.eval_thread_pixels``)."""
        return self._thread_pixels(image)

    def stack(self, pixels: Sequence[Batch]) -> Batch:
        """Images' pixels (each H, W, 3) as one batch for the engine."""
        return np.stack(pixels)

    def predict(self, pixels: Batch) -> list[Prediction]:
        """Predictions for a batch of uint8 pixels (N, H, W, 3), as ``stack`` makes them, with the version's calibrated
        confidences; with ``tta == "flip"``, from the mean of the softmax of each image and of its mirror (both in one
        forward pass)."""
        images = len(pixels)
        outputs = self.engine.outputs(mirrored(pixels) if self.tta == "flip" else pixels)
        logits = np.asarray(outputs[0], dtype=np.float32)
        probabilities: npt.NDArray[np.float32] = softmax(
            logits if self.temperature == 1.0 else logits / np.float32(self.temperature)
        )
        if self.tta == "flip":
            probabilities = (probabilities[:images] + probabilities[images:]) / np.float32(2)
        embeddings: list[npt.NDArray[np.float16] | None] = (
            list(np.asarray(outputs[1][:images]).astype(EMBEDDING_DTYPE))
            if len(outputs) > 1 and self.backbone
            else [None] * images
        )
        # At least the top two, for the margin, even when only the top one is reported.
        count = max(self.top_k, min(2, len(self.classes)))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :count]
        predictions = []
        for row, indices, embedding in zip(probabilities.tolist(), order.tolist(), embeddings, strict=True):
            top = [(self.classes[i], row[i]) for i in indices]
            margin = top[0][1] - top[1][1] if len(top) > 1 else 1.0
            predictions.append(Prediction(top[0][0], top[0][1], top[: self.top_k], margin, embedding))
        return predictions
