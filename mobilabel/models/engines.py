"""Inference engines: what runs a network's forward pass on a batch.

Measured on a 2-core AVX-512 CPU with MobileNetV2 (bench/), ONNX Runtime fp32 runs
the forward pass several times faster than PyTorch eager with identical labels,
so it is the CPU default; PyTorch stays for CUDA (and for training).
"""

from __future__ import annotations

import io
import typing
import warnings
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ..config import EngineName, available_cores
from ..errors import MobilabelError

ENGINES: tuple[EngineName, ...] = typing.get_args(EngineName)

# Batch sizes when MOBILABEL_BATCH_SIZE is 0. On the CPU, 32 is where ONNX Runtime's
# forward pass stops gaining (bench/, (c)); a GPU needs far larger batches to be kept busy.
CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 256


class Engine(Protocol):
    name: str
    device: str

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits (the network's first output), on the CPU, for a batch shaped like the engine's example input."""
        ...

    def outputs(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """Every output of the network (one, or a ``WithEmbedding``'s logits and features), float32 on the CPU."""
        ...


class DeviceError(MobilabelError, ValueError):
    """A device or engine this machine cannot run; the message says what to use instead."""


def resolve_device(device: str) -> str:
    """``auto`` as cuda or cpu; raises DeviceError for a GPU this machine does not have, or an unknown name."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"--device {device} was asked for, but PyTorch sees no CUDA GPU on this machine: use --device cpu or auto"
        )
    if device.startswith("cuda:") and int(device.partition(":")[2] or 0) >= torch.cuda.device_count():
        raise DeviceError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0")
    if device != "cpu" and not device.startswith("cuda"):
        raise DeviceError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto")
    return device


def default_batch_size(device: str) -> int:
    return GPU_BATCH_SIZE if resolve_device(device).startswith("cuda") else CPU_BATCH_SIZE


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


class OnnxEngine:
    """ONNX Runtime on the CPU, from the same network exported at load time."""

    name = "onnx"
    device = "cpu"

    def __init__(self, model: nn.Module, example: torch.Tensor, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning, leaving the cores to the image decoders beside
        # the engine: measurably faster training and labelling (docs/benchmarks/recorded.md, Training speed).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(export_onnx(model, example), options, providers=["CPUExecutionProvider"])
        # On one thread, MobileNetV2 runs fastest an image at a time: its activations stay in
        # cache (measured: docs/design/cpu-engine.md). Several threads need a batch to share.
        self._images_per_run = 1 if threads == 1 else None

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.outputs(batch)[0]

    def outputs(self, batch: torch.Tensor) -> list[torch.Tensor]:
        inputs = batch.contiguous().numpy()
        step = self._images_per_run or len(inputs)
        runs = [self._session.run(None, {"images": inputs[i : i + step]}) for i in range(0, len(inputs), step)]
        return [torch.from_numpy(np.concatenate([run[k] for run in runs])) for k in range(len(runs[0]))]


def create_engine(model: nn.Module, kind: str, device: str, example: torch.Tensor, threads: int | None = None) -> Engine:
    """An engine running ``model`` on batches shaped like ``example`` (whose first dimension is the batch)."""
    device = resolve_device(device)
    if kind not in ENGINES:
        raise DeviceError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
    if kind == "auto":
        kind = "torch" if device.startswith("cuda") else "onnx"
    if kind == "onnx":
        if device != "cpu":
            raise DeviceError("the onnx engine runs on the CPU; use --engine torch for a GPU")
        return OnnxEngine(model, example, threads or available_cores())
    return TorchEngine(model, device)
