"""What a training run is asked to do, and how it reports progress: plain values, no torch, so the CLI,
a queued task and the scheduler can build and carry them cheaply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import TrainingError

# Chosen by measurement on the shared flowers, 3 seeds each (docs/design/training-defaults.md; the
# grid in docs/benchmarks/recorded.md): the tutorial's lr 1e-4 underfits in 5 epochs; 1e-3 in 8
# epochs did best; more epochs, 3e-4, 3e-3 or batch 32 did no better.
DEFAULT_LR = 1e-3
DEFAULT_BATCH_SIZE = 16
DEFAULT_EPOCHS = 8
# Chosen by bench/recipes.py (5 folds x 3 seeds over the 609 shared flowers; docs/design/training-defaults.md):
# training MobileNetV2's last 4 inverted-residual blocks too, at a tenth of the head's lr, beat the
# head alone by more than a standard error of the paired difference, in somewhat more time.
DEFAULT_UNFREEZE_LAST = 4
# Chosen by the same comparison's later rounds: validating and keeping a moving average of the
# weights, and colour jitter after the crop and flip, together beat the tail alone by more than a
# standard error of the paired difference, for no more training time (each alone did not).
DEFAULT_EMA_DECAY = 0.97
DEFAULT_AUGMENT = "colorjitter"
DEFAULT_MIN_CROP_AREA = 0.08  # the tutorial's: RandomResizedCrop's default (models.transforms.INCEPTION_MIN_CROP_AREA)
ARCH_NAMES = {"v1": "mobilenet_v1", "v2": "mobilenet_v2"}
SCHEDULES = ("constant", "cosine")
# With --unfreeze-last and no --backbone-lr, the unfrozen blocks learn at this fraction of --lr:
# pretrained features want smaller steps than a new head (the tutorial fine-tunes at 1e-4).
BACKBONE_LR_FACTOR = 0.1
# The smallest resolution multiplier: a 32-pixel input, which the networks' five stride-2 steps bring to 1x1.
MIN_RESOLUTION = 32 / 224


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
    # the last K blocks of the backbone (and the layers after them) train too; moot with unfreeze or
    # from_scratch, which train every block (see tail_blocks)
    unfreeze_last: int = DEFAULT_UNFREEZE_LAST
    backbone_lr: float | None = None  # their learning rate; None: lr * BACKBONE_LR_FACTOR (with unfreeze: lr)
    label_smoothing: float = 0.0  # of the training loss (validation loss is plain cross-entropy)
    schedule: str = "constant"  # or "cosine": the learning rates fall to 0 over `epochs`, stepped per epoch
    augment: str = DEFAULT_AUGMENT  # training augmentation, one of models.transforms.AUGMENTATIONS
    min_crop_area: float = DEFAULT_MIN_CROP_AREA  # the smallest random training crop, a share of the image's area
    patience: int = 0  # stop after this many epochs without a better validation accuracy; 0: never
    # validate and keep an exponential moving average of the trained weights, this much of it kept per
    # step (0.97: about the last 33 steps); 0: the weights as they are
    ema_decay: float = DEFAULT_EMA_DECAY
    # the paper's resolution multiplier rho: input side 224 x rho, the transforms scaled to match and
    # recorded in the checkpoint, which labels at that size (models.transforms.Preprocessing.for_resolution)
    resolution: float = 1.0

    @property
    def frozen(self) -> bool:
        """Only the head trains: the whole backbone runs in the inference engine."""
        return not (self.unfreeze or self.from_scratch or self.unfreeze_last)

    @property
    def backbone_rate(self) -> float | None:
        """The learning rate of the backbone layers that train (None when only the head trains):
        ``backbone_lr``, else ``lr`` * BACKBONE_LR_FACTOR for a trained tail, ``lr`` for a whole backbone."""
        if self.frozen:
            return None
        if self.backbone_lr is not None:
            return self.backbone_lr
        return self.lr * BACKBONE_LR_FACTOR if self.tail_blocks else self.lr

    @property
    def tail_blocks(self) -> int:
        """How many of the backbone's last blocks train while the blocks before them stay frozen:
        ``unfreeze_last``, or 0 when nothing or everything is frozen."""
        return 0 if self.unfreeze or self.from_scratch else self.unfreeze_last

    def check(self) -> None:
        """Raises ``TrainingError`` naming the first option out of range (before any work is done)."""
        from ..models.transforms import AUGMENTATIONS  # torch: only a run that is about to train checks

        problems = [
            (self.epochs < 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.batch_size < 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (not self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (self.unfreeze_last < 0, f"--unfreeze-last must be 0 or more, got {self.unfreeze_last}"),
            (
                self.backbone_lr is not None and not self.backbone_lr > 0,
                f"--backbone-lr must be positive, got {self.backbone_lr}",
            ),
            (
                self.backbone_lr is not None and self.frozen,
                "--backbone-lr applies only to a backbone that trains (--unfreeze-last K or --unfreeze)",
            ),
            (not 0 <= self.label_smoothing < 1, f"--label-smoothing must be at least 0 and below 1, got {self.label_smoothing}"),
            (self.schedule not in SCHEDULES, f"unknown --schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"),
            (not 0 < self.min_crop_area <= 1, f"--min-crop-area must be above 0 and at most 1, got {self.min_crop_area}"),
            (self.augment not in AUGMENTATIONS, f"unknown --augment {self.augment!r}; choose one of {', '.join(AUGMENTATIONS)}"),
            (not 0 <= self.ema_decay < 1, f"--ema-decay must be at least 0 and below 1, got {self.ema_decay}"),
            (self.patience < 0, f"--patience must be 0 (never stop early) or more, got {self.patience}"),
            (
                not MIN_RESOLUTION <= self.resolution <= 1,
                f"--resolution must be at least {MIN_RESOLUTION:.3f} (a 32-pixel input) and at most 1, got {self.resolution}",
            ),
        ]
        for failed, message in problems:
            if failed:
                raise TrainingError(message)


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
