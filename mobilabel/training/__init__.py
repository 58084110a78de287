"""Training: transfer learning on an image folder, registered as a model version. Knows models, storage, imaging, registry."""

from .data import DataSplit, LabelledImage, find_split, stratified_split
from .errors import TrainingError
from .loop import Progress, ProgressCallback, TrainingOptions
from .promotion import PromotionDecision, promote_if_better
from .run import TrainingReport, train

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
