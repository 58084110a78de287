"""Inference engines to compare: the product's two, and the candidates measured against them.

A candidate enters the product only if it is faster and its labels match fp32
eager PyTorch on at least 99.5% of images, with ImageNet's 1000 classes and with a
trained 5-class flowers model.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilabel.config import available_cores
from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Engine
from mobilabel.models.engines import OnnxEngine, TorchEngine, export_onnx

from .paths import FLOWERS, WEIGHTS


class TorchScriptEngine:
    name = "torchscript"

    def __init__(self, model: nn.Module, device: str, input_size: int = 224) -> None:
        self.device = device
        example = torch.zeros(1, 3, input_size, input_size, device=device).contiguous(memory_format=torch.channels_last)
        model = model.eval().to(device, memory_format=torch.channels_last)
        with torch.inference_mode():
            self._model = torch.jit.freeze(torch.jit.trace(model, example))

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self._model(batch.to(self.device).contiguous(memory_format=torch.channels_last)).float().cpu()


class Bf16Engine(TorchEngine):
    name = "torch-bf16"

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16):
            return super().forward(batch)


class HalfEngine(TorchEngine):
    """The whole network in fp16 (GPU only: the CPU has no fast fp16 convolutions)."""

    name = "torch-fp16"

    def __init__(self, model: nn.Module, device: str) -> None:
        super().__init__(model.half(), device)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return super().forward(batch.to(self.device, non_blocking=True).half())


class OnnxInt8Engine:
    """ONNX Runtime with weights and activations quantized to int8 (static, per channel, QDQ),
    calibrated on training photos: the AMX path of this CPU."""

    name = "onnx-int8"
    device = "cpu"

    def __init__(self, model: nn.Module, calibration: torch.Tensor, input_size: int = 224) -> None:
        import onnxruntime as ort
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._batches = iter([{"images": calibration[i : i + 8].numpy()} for i in range(0, len(calibration), 8)])

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self._batches, None)

        ort.set_default_logger_severity(3)  # the quantizer's notes on unused initializers are noise here
        with tempfile.TemporaryDirectory() as folder:
            fp32, int8 = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
            fp32.write_bytes(export_onnx(model, torch.zeros(1, 3, input_size, input_size)))
            quantize_static(
                str(fp32),
                str(int8),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
            options = ort.SessionOptions()
            options.intra_op_num_threads = available_cores()
            options.log_severity_level = 3
            self._session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        (logits,) = self._session.run(None, {"images": batch.contiguous().numpy()})
        return torch.from_numpy(logits)


@dataclass(frozen=True)
class Candidate:
    name: str
    build: Callable[[nn.Module, str], Engine]
    devices: tuple[str, ...] = ("cpu", "cuda")

    def runs_on(self, device: str) -> bool:
        return device.split(":")[0] in self.devices


def _calibration_images() -> torch.Tensor:
    paths = sorted((FLOWERS / "train").glob("*/*.jpg"))[::8]
    transform = Checkpoint.load(WEIGHTS).preprocessing.eval_transform()
    return torch.stack([transform(read_rgb(p, 10**9)) for p in paths])


ENGINE_CANDIDATES = (
    Candidate("torch eager fp32 (channels_last)", lambda m, d: TorchEngine(m, d)),
    Candidate("torchscript trace+freeze fp32", lambda m, d: TorchScriptEngine(m, d)),
    Candidate("onnxruntime fp32", lambda m, d: OnnxEngine(m, torch.zeros(1, 3, 224, 224), available_cores()), ("cpu",)),
    Candidate("torch eager bf16 autocast", lambda m, d: Bf16Engine(m, d)),
    Candidate("torch eager fp16", lambda m, d: HalfEngine(m, d), ("cuda",)),
    Candidate("onnxruntime int8 (static, per channel)", lambda m, d: OnnxInt8Engine(m, _calibration_images()), ("cpu",)),
)


def forward_rate(engine: Engine, batch: torch.Tensor, seconds: float = 3.0) -> float:
    """Images per second of the forward pass alone (inputs already on its device), after a warm-up."""
    batch = batch.to(engine.device)
    engine.forward(batch)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        engine.forward(batch)
        done += len(batch)
    return done / (time.perf_counter() - started)


def lanes_rate(engine: Engine, batch: torch.Tensor, lanes: int, seconds: float = 3.0) -> float:
    """Images per second of ``lanes`` threads running ``engine`` on ``batch`` at once, as labelling does."""
    from concurrent.futures import ThreadPoolExecutor

    engine.forward(batch)
    deadline = time.perf_counter() + seconds

    def lane() -> int:
        done = 0
        while time.perf_counter() < deadline:
            engine.forward(batch)
            done += len(batch)
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(lanes) as pool:
        done = sum(pool.map(lambda _: lane(), range(lanes)))
    return done / (time.perf_counter() - started)


@cache
def _inputs(paths: tuple[Path, ...], preprocessing_key: tuple[int, int]) -> torch.Tensor:
    from mobilabel.models import Preprocessing

    transform = Preprocessing(resize_size=preprocessing_key[0], crop_size=preprocessing_key[1]).eval_transform()
    return torch.stack([transform(read_rgb(p, 10**9)) for p in paths])


def labels(engine: Engine, inputs: torch.Tensor) -> torch.Tensor:
    return torch.cat([engine.forward(inputs[i : i + 32]).argmax(1) for i in range(0, len(inputs), 32)])


_reference_labels: dict[str, torch.Tensor] = {}


def agreement(candidate: Candidate, checkpoint: Checkpoint, photos: list[Path], device: str) -> float:
    """Share of ``photos`` on which the candidate's top-1 label equals fp32 eager PyTorch's on the CPU."""
    key = (checkpoint.preprocessing.resize_size, checkpoint.preprocessing.crop_size)
    inputs = _inputs(tuple(photos), key)
    if checkpoint.version_id not in _reference_labels:
        _reference_labels[checkpoint.version_id] = labels(TorchEngine(checkpoint.build(), "cpu"), inputs)
    reference = _reference_labels[checkpoint.version_id]
    mine = labels(candidate.build(checkpoint.build(), device), inputs)
    return float((reference == mine).float().mean())
