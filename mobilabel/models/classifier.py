"""A checkpoint made ready to label with: transform, engine, softmax and top-k."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .checkpoint import Checkpoint
from .embedding import EMBEDDING_DTYPE, WithEmbedding, backbone_fingerprint
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
    the top-2 (whatever k is; 1.0 for a one-class model): how near a tie the label is. ``embedding``: the
    image's pooled features (D,) as ``embedding.EMBEDDING_DTYPE``, from the same pass (of the image itself,
    not its mirror, under test-time augmentation); None from an engine whose network gives logits only."""

    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    margin: float
    embedding: np.ndarray | None = None


class Classifier:
    def __init__(self, checkpoint: Checkpoint, engine: Engine, top_k: int = 5, tta: str = "off") -> None:
        if tta not in TTA_MODES:
            raise ValueError(f"unknown test-time augmentation {tta!r}; choose one of {', '.join(TTA_MODES)} (MOBILABEL_TTA)")
        self.checkpoint = checkpoint
        self.engine = engine
        # Which stored embeddings this backbone's are (storage.embedding_writes keys them by it).
        self.backbone = backbone_fingerprint(checkpoint.state_dict)
        self.tta = tta
        self.top_k = max(1, min(top_k, len(checkpoint.classes)))
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
        network = preprocessing.pixel_network(WithEmbedding(checkpoint.build())).eval()
        return cls(checkpoint, create_engine(network, engine, device, preprocessing.pixel_example(), threads), top_k, tta)

    @property
    def version_id(self) -> str:
        return self.checkpoint.version_id

    @property
    def classes(self) -> list[str]:
        return self.checkpoint.classes

    def predict(self, pixels: torch.Tensor) -> list[Prediction]:
        """Predictions for a batch of uint8 pixels (N, H, W, 3), as ``self.pixels`` makes them;
        with ``tta == "flip"``, from the mean softmax of each image and its mirror (``mean_flip_softmax``)."""
        count = len(pixels)
        outputs = self.engine.outputs(torch.cat([pixels, pixels.flip(2)]) if self.tta == "flip" else pixels)
        probabilities = torch.softmax(outputs[0].float(), dim=1)
        if self.tta == "flip":  # as mean_flip_softmax, from the one pass that also gave the features
            probabilities = (probabilities[:count] + probabilities[count:]) / 2
        embeddings: list[np.ndarray | None] = (
            list(outputs[1][:count].numpy().astype(EMBEDDING_DTYPE)) if len(outputs) > 1 else [None] * count
        )
        # At least the top two, for the margin, even when only the top one is reported.
        values, indices = probabilities.topk(max(self.top_k, min(2, len(self.classes))), dim=1)
        predictions = []
        for row_values, row_indices, embedding in zip(values.tolist(), indices.tolist(), embeddings, strict=True):
            top = [(self.classes[i], p) for i, p in zip(row_indices, row_values, strict=True)]
            margin = top[0][1] - top[1][1] if len(top) > 1 else 1.0
            predictions.append(Prediction(top[0][0], top[0][1], top[: self.top_k], margin, embedding))
        return predictions
