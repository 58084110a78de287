"""Networks, preprocessing, checkpoints and inference engines. Knows nothing of databases or queues.

Names are imported from their modules on first use (PEP 562), so that labelling from a version's
stored ONNX file (``classifier``, ``onnx_file``, ``preprocessing``, ``devices``) never loads torch,
which the checkpoints, networks and torch engines need.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .architectures import ARCHITECTURES, build_model
    from .checkpoint import IMAGENET_CATEGORIES, Checkpoint, CheckpointError
    from .classifier import Classifier, Prediction
    from .devices import ENGINES, DeviceError, default_batch_size, resolve_device
    from .engines import Engine, create_engine
    from .mobilenet_v1 import MobileNetV1
    from .preprocessing import Preprocessing

_HOMES = {
    "ARCHITECTURES": "architectures",
    "build_model": "architectures",
    "IMAGENET_CATEGORIES": "checkpoint",
    "Checkpoint": "checkpoint",
    "CheckpointError": "checkpoint",
    "Classifier": "classifier",
    "Prediction": "classifier",
    "ENGINES": "devices",
    "DeviceError": "devices",
    "default_batch_size": "devices",
    "resolve_device": "devices",
    "Engine": "engines",
    "create_engine": "engines",
    "MobileNetV1": "mobilenet_v1",
    "Preprocessing": "preprocessing",
}

__all__ = [
    "ARCHITECTURES",
    "ENGINES",
    "IMAGENET_CATEGORIES",
    "Checkpoint",
    "CheckpointError",
    "Classifier",
    "DeviceError",
    "Engine",
    "MobileNetV1",
    "Prediction",
    "Preprocessing",
    "build_model",
    "create_engine",
    "default_batch_size",
    "resolve_device",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
