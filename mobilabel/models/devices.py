"""Devices, engine names and batch sizes, decided without importing torch where the answer does not need it.

A machine without a GPU driver cannot have a CUDA (or ROCm) device, so ``auto`` means the CPU there
without the seconds that importing torch takes; a slim install (no torch) labels on the CPU only.
"""

from __future__ import annotations

import importlib.util
import sys
import typing
from pathlib import Path

from ..config import EngineName
from ..errors import MobilabelError

ENGINES: tuple[EngineName, ...] = typing.get_args(EngineName)

# Batch sizes when MOBILABEL_BATCH_SIZE is 0. On the CPU, 32 is where ONNX Runtime's
# forward pass stops gaining (bench/, (c)); a GPU needs far larger batches to be kept busy.
CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 256

# Present whenever an NVIDIA (CUDA) or AMD (ROCm) kernel driver is loaded: torch sees a GPU only through them.
_GPU_DRIVER_FILES = (Path("/proc/driver/nvidia"), Path("/dev/kfd"))


class DeviceError(MobilabelError, ValueError):
    """A device or engine this machine cannot run; the message says what to use instead."""


def torch_installed() -> bool:
    """Whether PyTorch can be imported here (a slim install has none); does not import it."""
    return importlib.util.find_spec("torch") is not None


def gpu_possible() -> bool:
    """False where no GPU can be in use without importing torch to ask: macOS (no CUDA), a Linux machine with
    no GPU driver loaded, or an install without torch; True where only torch can tell."""
    if not torch_installed() or sys.platform == "darwin":
        return False
    if sys.platform == "linux":
        return any(path.exists() for path in _GPU_DRIVER_FILES)
    return True


def resolve_device(device: str) -> str:
    """``auto`` as cuda or cpu; raises DeviceError for a GPU this machine does not have, or an unknown name.

    Imports torch only to ask about a GPU that may be there (``gpu_possible``).
    """
    if device != "cpu" and device != "auto" and not device.startswith("cuda"):
        raise DeviceError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto")
    if device == "cpu" or (device == "auto" and not gpu_possible()):
        return "cpu"
    if not torch_installed():
        raise DeviceError(
            f"--device {device} was asked for, but this install has no PyTorch (a slim install labels on the CPU): use --device cpu"
        )
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise DeviceError(
            f"--device {device} was asked for, but PyTorch sees no CUDA GPU on this machine: use --device cpu or auto"
        )
    if device.startswith("cuda:") and int(device.partition(":")[2] or 0) >= torch.cuda.device_count():
        raise DeviceError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0")
    return device


def resolve_engine(kind: str, device: str) -> tuple[str, str]:
    """(engine, device) for an engine name and a device (each may be ``auto``): ONNX Runtime on the CPU,
    PyTorch on a GPU. Raises DeviceError for an unknown engine, or ONNX asked for on a GPU."""
    device = resolve_device(device)
    if kind not in ENGINES:
        raise DeviceError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
    if kind == "auto":
        kind = "torch" if device.startswith("cuda") else "onnx"
    if kind == "onnx" and device != "cpu":
        raise DeviceError("the onnx engine runs on the CPU; use --engine torch for a GPU")
    return kind, device


def default_batch_size(device: str) -> int:
    return GPU_BATCH_SIZE if resolve_device(device).startswith("cuda") else CPU_BATCH_SIZE
