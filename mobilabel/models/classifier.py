"""A checkpoint made ready to label with: transform, engine, softmax and top-k."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..calibration import temperature_of
from .checkpoint import Checkpoint
from .engines import Engine, create_engine
from .transforms import ImageTransform, TensorTransform

# Test-time augmentation at labelling time (MOBILABEL_TTA): "off", or "flip" (the image and its mirror).
TTA_MODES = ("off", "flip")


def mean_flip_softmax(forward: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, width_dim: int) -> torch.Tensor:
    """Horizontal-flip test-time augmentation: the mean of the softmax of each image and of its mirror.

    ``forward`` maps a batch to logits (N, classes); ``batch`` is mirrored along ``width_dim``
    (2 for uint8 pixels (N, H, W, 3), 3 for NCHW tensors). Both go through ``forward`` as one
    batch of 2N, so an engine batches them together. Returns probabilities (N, classes).
    """
    count = len(batch)
    probabilities = torch.softmax(forward(torch.cat([batch, batch.flip(width_dim)])).float(), dim=1)
    return (probabilities[:count] + probabilities[count:]) / 2


@dataclass(frozen=True)
class Prediction:
    """The top-k (label, probability) pairs, most probable first; ``margin`` is the top-1 probability minus
    the top-2 (whatever k is; 1.0 for a one-class model): how near a tie the label is."""

    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    margin: float


class Classifier:
    def __init__(self, checkpoint: Checkpoint, engine: Engine, top_k: int = 5, tta: str = "off") -> None:
        if tta not in TTA_MODES:
            raise ValueError(f"unknown test-time augmentation {tta!r}; choose one of {', '.join(TTA_MODES)} (MOBILABEL_TTA)")
        self.checkpoint = checkpoint
        self.engine = engine
        self.tta = tta
        self.top_k = max(1, min(top_k, len(checkpoint.classes)))
        # The version's calibration (mobilabel.calibration): logits / T before the softmax; 1.0 if never fitted.
        self.temperature = temperature_of(checkpoint.metrics)
        self.pixels: ImageTransform = checkpoint.preprocessing.eval_pixels()
        self.tensor_pixels: TensorTransform = checkpoint.preprocessing.eval_tensor_pixels()

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
        preprocessing = checkpoint.preprocessing
        network = preprocessing.pixel_network(checkpoint.build()).eval()
        return cls(checkpoint, create_engine(network, engine, device, preprocessing.pixel_example(), threads), top_k, tta)

    @property
    def version_id(self) -> str:
        return self.checkpoint.version_id

    @property
    def classes(self) -> list[str]:
        return self.checkpoint.classes

    def calibrated_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """The engine's logits (N, classes) for ``pixels``, divided by the version's temperature (float32)."""
        logits = self.engine.forward(pixels).float()
        return logits if self.temperature == 1.0 else logits / self.temperature

    def predict(self, pixels: torch.Tensor) -> list[Prediction]:
        """Predictions for a batch of uint8 pixels (N, H, W, 3), as ``self.pixels`` makes them, with the version's
        calibrated confidences; with ``tta == "flip"``, from the mean softmax of each image and its mirror
        (``mean_flip_softmax``)."""
        if self.tta == "flip":
            probabilities = mean_flip_softmax(self.calibrated_logits, pixels, width_dim=2)
        else:
            probabilities = torch.softmax(self.calibrated_logits(pixels), dim=1)
        # At least the top two, for the margin, even when only the top one is reported.
        values, indices = probabilities.topk(max(self.top_k, min(2, len(self.classes))), dim=1)
        predictions = []
        for row_values, row_indices in zip(values.tolist(), indices.tolist(), strict=True):
            top = [(self.classes[i], p) for i, p in zip(row_indices, row_values, strict=True)]
            margin = top[0][1] - top[1][1] if len(top) > 1 else 1.0
            predictions.append(Prediction(label=top[0][0], confidence=top[0][1], top_k=top[: self.top_k], margin=margin))
        return predictions
