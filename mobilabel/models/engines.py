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
from .embedding import WithEmbedding
from .onnx_file import OnnxCard, OnnxRuntime


class Engine(Protocol):
    name: str
    device: str

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits (the network's first output), on the CPU, for a batch shaped like the engine's example input."""
        ...

    def outputs(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """Every output of the network (one, or a ``WithEmbedding``'s logits and features), float32 on the CPU."""
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

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.outputs(batch)[0]

    @torch.inference_mode()
    def outputs(self, batch: torch.Tensor) -> list[torch.Tensor]:
        batch = batch.to(self.device, non_blocking=True)
        if batch.is_floating_point():  # NCHW images; pixel batches (NHWC) are permuted by the model into this layout
            batch = batch.contiguous(memory_format=torch.channels_last)
        result = self._model(batch)
        return [t.float().cpu() for t in (result if isinstance(result, tuple) else (result,))]


def output_names(model: nn.Module, example: torch.Tensor) -> list[str]:
    """The ONNX output names of ``model``: ``logits``, then ``features`` for a ``WithEmbedding`` network."""
    with torch.inference_mode():
        result = model.eval()(example)
    return ["logits", "features"][: len(result)] if isinstance(result, tuple) else ["logits"]


def export_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    """``model`` as an ONNX graph taking batches shaped like ``example``, any batch size; its outputs
    are named as ``output_names`` says (``logits``, and ``features`` (N, D) when the model gives them)."""
    names = output_names(model, example)
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
            output_names=names,
            dynamic_axes={"images": {0: "batch"}, **{name: {0: "batch"} for name in names}},
            dynamo=False,
        )
    return buffer.getvalue()


def version_onnx(checkpoint: Checkpoint) -> bytes:
    """The checkpoint's network taking uint8 pixels (``Preprocessing.pixel_network``) as ONNX, any batch size,
    giving logits and the pooled features (``embedding.WithEmbedding``), its version, classes, preprocessing and
    backbone fingerprint in the graph's metadata: a version's stored ONNX file (``onnx_file``)."""
    import onnx

    preprocessing = checkpoint.preprocessing
    network = preprocessing.pixel_network(WithEmbedding(checkpoint.build()))
    graph = onnx.load_from_string(export_onnx(network, preprocessing.pixel_example()))
    card = OnnxCard(
        checkpoint.version_id,
        checkpoint.classes,
        preprocessing,
        checkpoint.backbone,
        checkpoint.temperature,
    )
    onnx.helper.set_model_props(graph, card.metadata())
    return bytes(graph.SerializeToString())


class OnnxEngine:
    """ONNX Runtime on the CPU, from the same network exported at load time."""

    name = "onnx"
    device = "cpu"

    def __init__(self, model: nn.Module, example: torch.Tensor, threads: int) -> None:
        self._runtime = OnnxRuntime(export_onnx(model, example), threads)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.outputs(batch)[0]

    def outputs(self, batch: torch.Tensor) -> list[torch.Tensor]:
        return [torch.from_numpy(output) for output in self._runtime.outputs(batch.numpy())]


def create_engine(model: nn.Module, kind: str, device: str, example: torch.Tensor, threads: int | None = None) -> Engine:
    """An engine running ``model`` on batches shaped like ``example`` (whose first dimension is the batch)."""
    kind, device = resolve_engine(kind, device)
    if kind == "onnx":
        return OnnxEngine(model, example, threads or available_cores())
    return TorchEngine(model, device)
