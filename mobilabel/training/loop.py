"""The training loop: the tutorial's transfer learning, without its flaws, and faster.

Transfer learning: ImageNet weights with the classifier dropped, a new head trained
with Adam, the epoch with the best validation accuracy kept. By default the backbone's
last 4 blocks (and the layers after them) train too, at their own lower learning rate,
and the layers before them stay frozen (``unfreeze_last``; 0: the tutorial's frozen
feature extractor), and what is validated and kept is a moving average of the trained
weights (``ema_decay``, ``averaging``). Unlike the tutorial, the frozen BatchNorm layers stay
in eval mode (``net.train()`` lets their running statistics drift), and the mean loss is taken
over images, not over the last step index.

Other options (``TrainingOptions``): full fine-tuning, label smoothing, a cosine schedule,
other augmentations, early stopping.

BatchNorm, deliberately: the frozen layers' BatchNorm is always in eval mode (ImageNet's
statistics). With ``unfreeze_last`` the unfrozen blocks' BatchNorm stays in eval mode too:
their scale and shift learn, their running statistics stay ImageNet's, since batches of 16
from a few hundred photos give noisy statistics that would drag them (Keras's fine-tuning
guide does the same), and the network then computes the same function in training and
validation. ``unfreeze`` (every layer) keeps PyTorch's usual train mode, as before.

Speed, with the method unchanged: the frozen layers in eval mode are a fixed
function, so they run without autograd in the inference engine labelling uses
(ONNX Runtime on the CPU, exact to float32 rounding; PyTorch channels_last on a
GPU), while only the trained tail and the head run in autograd; images are decoded by worker
processes ahead of the model. Features are not cached across epochs, since
RandomResizedCrop draws a new crop of every image each epoch.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from ..models import Checkpoint, build_model, create_engine, resolve_device
from ..models.architectures import backbone, backbone_blocks, head, head_parameters
from .averaging import WeightAverage
from .errors import TrainingError
from .loader import Batch
from .options import Progress, ProgressCallback, TrainingOptions


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    train_images: int
    train_seconds: float

    @property
    def train_images_per_s(self) -> float:
        return self.train_images / self.train_seconds if self.train_seconds else 0.0


@dataclass
class Evaluation:
    targets: list[int] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)
    logits: list[list[float]] = field(default_factory=list)  # (N, classes): what calibration is fitted on
    loss_sum: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def loss(self) -> float:
        return self.loss_sum / len(self.targets) if self.targets else 0.0

    @property
    def accuracy(self) -> float:
        correct = sum(t == p for t, p in zip(self.targets, self.predictions, strict=True))
        return correct / len(self.targets) if self.targets else 0.0


class FrozenFeatures(nn.Module):
    """Everything before the head: backbone, global average pool, flatten."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.features = backbone(model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)


class FrozenPrefix(nn.Module):
    """The frozen first layers of the backbone, up to the first block that trains."""

    def __init__(self, model: nn.Module, end: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*list(backbone(model).children())[:end])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output: torch.Tensor = self.layers(x)
        return output


def build_network(options: TrainingOptions, num_classes: int, source: Checkpoint | None) -> nn.Module:
    """The network to train: ImageNet features (``source``, from ``registry.find_imagenet``) and a fresh
    head, as the tutorial loads them. Raises ``TrainingError`` if the weights are missing or do not fit."""
    model = build_model(options.arch, num_classes, options.alpha)
    if options.from_scratch:
        return model
    if source is None:
        raise TrainingError(
            "no ImageNet weights found: set MOBILABEL_PRETRAINED to a torchvision mobilenet_v2 ImageNet file, "
            "or train with --from-scratch"
        )
    pretrained = source.source or source.version_id  # where they came from, for the messages
    if (source.arch, source.alpha) != (options.arch, options.alpha):
        raise TrainingError(
            f"the ImageNet weights {pretrained} are {source.arch} at alpha {source.alpha}, not {options.arch} at alpha "
            f"{options.alpha}; train that network with --from-scratch"
        )
    prefix = next(name for name, module in model.named_modules() if module is head(model))
    head_keys = {f"{prefix}.{name}" for name in head(model).state_dict()}
    missing, unexpected = model.load_state_dict({k: v for k, v in source.state_dict.items() if k not in head_keys}, strict=False)
    if set(missing) != head_keys or unexpected:
        raise TrainingError(f"the weights {pretrained} do not fit {options.arch}: missing {missing}, unexpected {unexpected}")
    return model


class Learner:
    """The network being trained, its optimizer and schedule, and how its forward passes run.

    Frozen (``unfreeze_last`` 0): the backbone runs in the inference engine, only the head in
    autograd. ``unfreeze_last`` K (4 by default): the backbone up to its last K blocks still runs
    in the engine (fixed, eval mode), the rest in autograd. ``unfreeze``/``from_scratch``: all in autograd.
    """

    def __init__(self, model: nn.Module, options: TrainingOptions, input_size: int, engine: str = "auto") -> None:
        self.model = model
        self.frozen = options.frozen
        self.device = resolve_device(options.device)
        self.label_smoothing = options.label_smoothing
        self.trained_tail: nn.Module | None = None  # with unfreeze_last: the backbone's layers that train
        example = torch.zeros(1, 3, input_size, input_size)
        backbone_trainable: list[nn.Parameter] = []
        if self.frozen or options.tail_blocks:
            start = self._first_trained_layer(options.tail_blocks)
            layers = list(backbone(model).children())
            for index, layer in enumerate(layers):
                for parameter in layer.parameters():
                    parameter.requires_grad_(index >= start)
            if self.frozen:
                self._features = create_engine(FrozenFeatures(model).eval(), engine, self.device, example)
            else:
                self._features = create_engine(FrozenPrefix(model, start).eval(), engine, self.device, example)
                self.trained_tail = nn.Sequential(*layers[start:]).to(self.device).to(memory_format=torch.channels_last)
                backbone_trainable = list(self.trained_tail.parameters())
            head(model).to(self.device)
        else:
            model.to(self.device).to(memory_format=torch.channels_last)
            backbone_trainable = list(backbone(model).parameters())
        head_trainable = head_parameters(model)
        groups = [{"params": head_trainable, "lr": options.lr}]
        if backbone_trainable:
            groups.append({"params": backbone_trainable, "lr": options.backbone_rate})
        self.optimizer = torch.optim.Adam(groups)
        self.average = WeightAverage(head_trainable + backbone_trainable, options.ema_decay) if options.ema_decay else None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        if options.schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=options.epochs)

    def _first_trained_layer(self, unfreeze_last: int) -> int:
        """Index in the backbone of the first layer that trains: its length when frozen."""
        if not unfreeze_last:
            return len(list(backbone(self.model).children()))
        blocks = backbone_blocks(self.model)
        if unfreeze_last > len(blocks):
            raise TrainingError(
                f"--unfreeze-last {unfreeze_last}: this network has {len(blocks)} blocks; use --unfreeze to train them all"
            )
        return blocks[-unfreeze_last]

    def train_mode(self) -> None:
        if self.frozen or self.trained_tail is not None:
            # Only the head switches to train mode (its dropout on): every BatchNorm layer keeps
            # ImageNet's statistics, frozen or not (see the module's docstring).
            self.model.eval()
            head(self.model).train()
        else:
            self.model.train()

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        if self.frozen or self.trained_tail is not None:
            features = self._features.forward(images).to(self.device)
            if features.is_inference():  # the torch engine's output; autograd may not save it for backward
                features = features.clone()
            if self.trained_tail is not None:
                features = features.contiguous(memory_format=torch.channels_last)  # as the full fine-tuning path runs
                features = torch.flatten(F.adaptive_avg_pool2d(self.trained_tail(features), 1), 1)
            logits: torch.Tensor = head(self.model)(features)
            return logits
        whole: torch.Tensor = self.model(images.to(self.device).contiguous(memory_format=torch.channels_last))
        return whole

    def step(self, batch: Batch) -> tuple[float, int]:
        """One optimisation step; returns (summed loss, correct predictions)."""
        logits = self.logits(batch.images)
        targets = batch.targets.to(self.device)
        loss = F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        self.optimizer.step()
        if self.average is not None:
            self.average.update()
        return loss.item() * len(batch), int((logits.argmax(1) == targets).sum())

    def end_epoch(self) -> None:
        """Steps the learning-rate schedule, if there is one."""
        if self.scheduler is not None:
            self.scheduler.step()

    def kept_weights(self) -> AbstractContextManager[None]:
        """Within it the model holds the weights to validate and keep: the moving average with
        ``ema_decay``, else the trained weights themselves."""
        return self.average.swapped_in() if self.average is not None else nullcontext()

    def predict_logits(self, images: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        with torch.inference_mode():
            return self.logits(images)


def train_epoch(
    learner: Learner, loader: DataLoader[Any], epoch: int = 1, epochs: int = 1, on_progress: ProgressCallback | None = None
) -> tuple[float, float, int, float, list[tuple[str, str]]]:
    """One pass over ``loader``: (mean loss, accuracy, images, seconds, unreadable images)."""
    learner.train_mode()
    total = len(loader.dataset)  # type: ignore[arg-type]
    loss_sum, correct, seen, done = 0.0, 0, 0, 0
    failures: list[tuple[str, str]] = []
    started = time.perf_counter()
    for batch in loader:
        failures.extend(batch.failures)
        done += len(batch) + len(batch.failures)
        if len(batch):
            batch_loss, batch_correct = learner.step(batch)
            loss_sum, correct, seen = loss_sum + batch_loss, correct + batch_correct, seen + len(batch)
        if on_progress is not None:
            on_progress(Progress(epoch, epochs, "train", done, total, loss_sum / max(seen, 1), correct / max(seen, 1)))
    seconds = time.perf_counter() - started
    return loss_sum / max(seen, 1), correct / max(seen, 1), seen, seconds, failures


def evaluate(
    forward: Callable[[torch.Tensor], torch.Tensor],
    loader: DataLoader[Any],
    epoch: int = 1,
    epochs: int = 1,
    on_progress: ProgressCallback | None = None,
) -> Evaluation:
    """Predictions of ``forward`` (images -> logits) on every readable image of ``loader``."""
    result = Evaluation()
    total = len(loader.dataset)  # type: ignore[arg-type]
    for batch in loader:
        result.failures.extend(batch.failures)
        if len(batch):
            logits = forward(batch.images).float().cpu()
            result.loss_sum += F.cross_entropy(logits, batch.targets, reduction="sum").item()
            result.targets.extend(batch.targets.tolist())
            result.predictions.extend(logits.argmax(1).tolist())
            result.logits.extend(logits.tolist())
        if on_progress is not None:
            done = len(result.targets) + len(result.failures)
            on_progress(Progress(epoch, epochs, "val", done, total, result.loss, result.accuracy))
    return result


@dataclass
class FitResult:
    history: list[EpochStats]
    best_epoch: int
    best: Evaluation  # the validation of the kept epoch
    failures: dict[str, str]  # unreadable images, path -> reason


def fit(
    learner: Learner,
    train_loader: DataLoader[Any],
    val_loader: DataLoader[Any],
    epochs: int,
    on_progress: ProgressCallback | None = None,
    patience: int = 0,
) -> FitResult:
    """Train for ``epochs`` (fewer if ``patience`` > 0 and that many epochs in a row bring no better
    validation accuracy), then restore the weights of the epoch with the best validation accuracy (with
    ``ema_decay``, the moving average is what is validated and kept; training goes on from the trained weights)."""
    history: list[EpochStats] = []
    best: Evaluation | None = None
    best_epoch = 0
    best_state: dict[str, torch.Tensor] = {}
    failures: dict[str, str] = {}
    for epoch in range(1, epochs + 1):
        loss, acc, images, seconds, train_failures = train_epoch(learner, train_loader, epoch, epochs, on_progress)
        with learner.kept_weights():
            validation = evaluate(learner.predict_logits, val_loader, epoch, epochs, on_progress)
            improved = best is None or validation.accuracy > best.accuracy
            if improved:
                best_state = copy.deepcopy(learner.model.state_dict())
        failures.update(train_failures + validation.failures)
        history.append(EpochStats(epoch, loss, acc, validation.loss, validation.accuracy, images, seconds))
        learner.end_epoch()
        if improved:
            best, best_epoch = validation, epoch
        elif patience and epoch - best_epoch >= patience:
            break
    if best is None:
        raise TrainingError("--epochs must be at least 1")
    learner.model.load_state_dict(best_state)
    return FitResult(history, best_epoch, best, failures)
