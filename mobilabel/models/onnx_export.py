"""A version as a standalone ONNX file: the network (the engine's export), its classes and
preprocessing in the file's ``metadata_props``, and a check that it computes what PyTorch does.

The graph takes ``images``: float32 (N, 3, H, W), RGB, already preprocessed as the
``mobilabel.preprocessing`` property says (resize the shorter side to ``resize_size``, centre crop
``crop_size``, scale to [0, 1], subtract ``mean`` and divide by ``std`` per channel), and gives
``logits`` (N, classes) in the order of ``mobilabel.classes`` (softmax gives the confidences) and
``features`` (N, D): the pooled features the classifier head reads (mobilabel.models.embedding).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch

from ..imaging import read_rgb
from .checkpoint import Checkpoint
from .embedding import WithEmbedding
from .engines import export_onnx

METADATA_PREFIX = "mobilabel."
TOLERANCE = 1e-4  # largest difference of a logit between ONNX Runtime and PyTorch that the check accepts
CHECK_IMAGES = 32


def onnx_bytes(checkpoint: Checkpoint) -> bytes:
    """The ONNX file of ``checkpoint``, any batch size, with its metadata."""
    size = checkpoint.preprocessing.crop_size
    model = onnx.load_from_string(export_onnx(WithEmbedding(checkpoint.build()), torch.zeros(1, 3, size, size)))
    onnx.helper.set_model_props(model, metadata(checkpoint))
    return bytes(model.SerializeToString())


def metadata(checkpoint: Checkpoint) -> dict[str, str]:
    """What a runtime needs beside the graph, as ONNX metadata properties (string values, JSON where structured)."""
    return {
        f"{METADATA_PREFIX}version_id": checkpoint.version_id,
        f"{METADATA_PREFIX}classes": json.dumps(checkpoint.classes),
        f"{METADATA_PREFIX}preprocessing": json.dumps(checkpoint.preprocessing.to_dict()),
        f"{METADATA_PREFIX}input": "images: float32 (N, 3, H, W), RGB, resized, centre-cropped, scaled to [0, 1], normalised by mean/std",
        f"{METADATA_PREFIX}output": "logits: float32 (N, classes); softmax gives the confidences. "
        "features: float32 (N, D), the pooled features the classifier head reads",
        f"{METADATA_PREFIX}arch": checkpoint.arch,
        f"{METADATA_PREFIX}alpha": str(checkpoint.alpha),
        f"{METADATA_PREFIX}created_at": checkpoint.created_at,
    }


def read_metadata(data: bytes) -> dict[str, str]:
    """The ``mobilabel.*`` properties of an ONNX file, without the prefix."""
    model = onnx.load_from_string(data)
    return {p.key.removeprefix(METADATA_PREFIX): p.value for p in model.metadata_props if p.key.startswith(METADATA_PREFIX)}


def check_batch(checkpoint: Checkpoint, images: Sequence[Path], max_pixels: int) -> torch.Tensor:
    """``images`` preprocessed as the version's evaluation transform, one (N, 3, H, W) batch;
    raises ``imaging.ImageReadError`` for an image it cannot read or larger than ``max_pixels``."""
    transform = checkpoint.preprocessing.eval_transform()
    return torch.stack([transform(read_rgb(path, max_pixels)) for path in images])


def largest_difference(data: bytes, checkpoint: Checkpoint, batch: torch.Tensor) -> tuple[float, int]:
    """(the largest absolute difference of a logit, how many top labels differ) between ONNX
    Runtime running ``data`` and PyTorch running ``checkpoint`` on ``batch``."""
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    ours = session.run(None, {"images": batch.numpy()})[0]
    with torch.inference_mode():
        reference = checkpoint.build()(batch).numpy()
    return float(np.abs(ours - reference).max()), int((ours.argmax(1) != reference.argmax(1)).sum())
