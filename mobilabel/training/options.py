"""What a training run is asked to do, and how it reports progress: plain values, no torch, so the CLI,
a queued task and the scheduler can build and carry them cheaply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Chosen by measurement on the shared flowers, 3 seeds each (README, "Training"): the
# tutorial's lr 1e-4 underfits in 5 epochs (0.84 validation accuracy); 1e-3 reaches
# 0.89-0.91 in 5 and 0.908-0.917 in 8; more epochs, 3e-4, 3e-3 or batch 32 did no better.
DEFAULT_LR = 1e-3
DEFAULT_BATCH_SIZE = 16
DEFAULT_EPOCHS = 8
ARCH_NAMES = {"v1": "mobilenet_v1", "v2": "mobilenet_v2"}


@dataclass(frozen=True)
class TrainingOptions:
    """Everything that decides what a run learns; plain values, so a queued task can carry them."""

    arch: str = "mobilenet_v2"
    alpha: float = 1.0
    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    batch_size: int = DEFAULT_BATCH_SIZE
    unfreeze: bool = False  # fine-tune every layer, from the ImageNet weights
    from_scratch: bool = False  # no ImageNet weights; every layer trained
    device: str = "auto"
    seed: int = 0
    val_fraction: float | None = None  # None: the data folder's own split, else 0.2
    include_corrections: bool = True  # the verified labels of `mobilabel correct` join training and evaluation

    @property
    def frozen(self) -> bool:
        return not (self.unfreeze or self.from_scratch)


@dataclass(frozen=True)
class Progress:
    """Where a run is: reported after every batch, for a progress bar or a task's status row."""

    epoch: int
    epochs: int
    phase: str  # "train" or "val"
    done: int  # images of this phase so far
    total: int  # images in this phase
    loss: float  # mean over the images so far
    accuracy: float


ProgressCallback = Callable[[Progress], None]
