"""Training: transfer learning on an image folder, registered as a model version. Knows models, storage, imaging, versions.

Importing this package loads no torch: options, progress and errors are plain values, and
the rest (``train``, ``promote_if_better``, the data splits) is imported on first use, so
light callers such as ``training.corrections`` and the CLI's `correct` stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import TrainingError
from .options import Progress, ProgressCallback, TrainingOptions

if TYPE_CHECKING:
    from .data import DataSplit, LabelledImage, find_split, stratified_split
    from .promotion import PromotionDecision, promote_if_better
    from .run import TrainingReport, train

_LAZY = {
    "DataSplit": ".data",
    "LabelledImage": ".data",
    "find_split": ".data",
    "stratified_split": ".data",
    "PromotionDecision": ".promotion",
    "promote_if_better": ".promotion",
    "TrainingReport": ".run",
    "train": ".run",
}

__all__ = [
    "DataSplit",
    "LabelledImage",
    "Progress",
    "ProgressCallback",
    "PromotionDecision",
    "TrainingError",
    "TrainingOptions",
    "TrainingReport",
    "find_split",
    "promote_if_better",
    "stratified_split",
    "train",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
