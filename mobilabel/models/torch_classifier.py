"""A checkpoint's network in torch, labelling as ``Classifier`` does: on a GPU, or on the CPU from its checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from .checkpoint import Checkpoint
from .classifier import Batch, Classifier
from .embedding import WithEmbedding
from .engines import create_engine
from .transforms import TensorTransform


class TorchClassifier(Classifier):
    """Decode threads crop with torchvision's kernels; batches are tensors on the engine's device."""

    def __init__(self, checkpoint: Checkpoint, engine: object, top_k: int = 5, tta: str = "off") -> None:
        super().__init__(checkpoint, engine, top_k, tta)  # type: ignore[arg-type]  # engines take tensors, not arrays
        self.checkpoint = checkpoint
        self._tensor_pixels = checkpoint.preprocessing.eval_tensor_pixels()

    @classmethod
    def build(
        cls, checkpoint: Checkpoint, engine: str, device: str, top_k: int, threads: int | None, tta: str
    ) -> TorchClassifier:
        preprocessing = checkpoint.preprocessing
        network = preprocessing.pixel_network(WithEmbedding(checkpoint.build())).eval()
        return cls(checkpoint, create_engine(network, engine, device, preprocessing.pixel_example(), threads), top_k, tta)

    @property
    def device_pixels(self) -> TensorTransform:
        return self._tensor_pixels

    def thread_pixels(self, image: Image.Image) -> Batch:
        # torchvision's resize: measured several times faster than Pillow's on the flowers (pipeline.decoders).
        return self._tensor_pixels(torch.from_numpy(np.array(image)).permute(2, 0, 1))

    def stack(self, pixels: Sequence[Batch]) -> Batch:
        # Pillow's crops are numpy on the CPU; the device's are tensors there already.
        device = self.engine.device
        return torch.stack([torch.as_tensor(p).to(device) for p in pixels])
