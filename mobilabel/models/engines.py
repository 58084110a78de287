"""Inference engines: what runs a network's forward pass on a batch.

Measured on a 2-core AVX-512 CPU with MobileNetV2 (bench/), ONNX Runtime fp32 runs
the forward pass several times faster than PyTorch eager with identical labels,
so it is the CPU default; PyTorch stays for CUDA (and for training).
"""

from __future__ import annotations

import io
import warnings
from typing import Protocol

import torch
from torch import nn

from ..config import available_cores
from .checkpoint import Checkpoint
from .devices import resolve_engine
from .onnx_file import OnnxCard, OnnxRuntime


class Engine(Protocol):
    name: str
    device: str

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits, on the CPU, for a batch shaped like the engine's example input."""
        ...


class TorchEngine:
    name = "torch"

    def __init__(self, model: nn.Module, device: str) -> None:
        self.device = device
        if device.startswith("cuda"):
            # fp32 means fp32: TF32 convolutions change labels, and at about 0.6 GFLOP an image
            # this network keeps a GPU's fp32 units far from busy, so TF32 would buy nothing.
            torch.backends.cudnn.allow_tf32 = False
        self._model = model.eval().to(device).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device, non_blocking=True)
        if batch.is_floating_point():  # NCHW images; pixel batches (NHWC) are permuted by the model into this layout
            batch = batch.contiguous(memory_format=torch.channels_last)
        logits: torch.Tensor = self._model(batch)
        return logits.float().cpu()


def export_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    """``model`` as an ONNX graph taking batches shaped like ``example``, any batch size."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter is deprecated but exact and fast for these
        # convolutional nets, and needs no extra packages.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (example,),
            buffer,  # type: ignore[arg-type]  # torch's annotation omits file objects, which export writes to
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
    return buffer.getvalue()


def version_onnx(checkpoint: Checkpoint) -> bytes:
    """The checkpoint's network taking uint8 pixels (``Preprocessing.pixel_network``) as ONNX, any batch size,
    its version, classes and preprocessing in the graph's metadata: a version's stored ONNX file (``onnx_file``)."""
    import onnx

    preprocessing = checkpoint.preprocessing
    graph = onnx.load_from_string(export_onnx(preprocessing.pixel_network(checkpoint.build()), preprocessing.pixel_example()))
    onnx.helper.set_model_props(graph, OnnxCard(checkpoint.version_id, checkpoint.classes, preprocessing).metadata())
    return bytes(graph.SerializeToString())


class OnnxEngine:
    """ONNX Runtime on the CPU, from the same network exported at load time."""

    name = "onnx"
    device = "cpu"

    def __init__(self, model: nn.Module, example: torch.Tensor, threads: int) -> None:
        self._runtime = OnnxRuntime(export_onnx(model, example), threads)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._runtime.forward(batch.numpy()))


def create_engine(model: nn.Module, kind: str, device: str, example: torch.Tensor, threads: int | None = None) -> Engine:
    """An engine running ``model`` on batches shaped like ``example`` (whose first dimension is the batch)."""
    kind, device = resolve_engine(kind, device)
    if kind == "onnx":
        return OnnxEngine(model, example, threads or available_cores())
    return TorchEngine(model, device)
