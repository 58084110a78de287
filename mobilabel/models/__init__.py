"""Networks, preprocessing, checkpoints and inference engines. Knows nothing of databases or queues."""

from .architectures import ARCHITECTURES, build_model
from .checkpoint import IMAGENET_CATEGORIES, Checkpoint, CheckpointError
from .classifier import Classifier, Prediction
from .engines import ENGINES, DeviceError, Engine, create_engine, default_batch_size, resolve_device
from .mobilenet_v1 import MobileNetV1
from .transforms import Preprocessing

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
