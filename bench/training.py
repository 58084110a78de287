"""Training speed: one epoch of the tutorial's loop against one epoch of `mobilabel train`'s, same images.

    python -m bench.training [--data DIR] [--weights FILE] [--repeat N]

Importable (no work at import time): ``tutorial_epoch``, ``mobilabel_epoch`` and
``compare`` return images per second for the inference benchmark to reuse.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import transforms as T
from torchvision.datasets import ImageFolder
from torchvision.models import mobilenet_v2

from mobilabel.config import load_settings
from mobilabel.models import Checkpoint, Preprocessing
from mobilabel.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from mobilabel.training.data import class_images
from mobilabel.training.loop import Learner, build_network, train_epoch
from mobilabel.training.options import TrainingOptions
from mobilabel.training.run import training_loader

SHARED = Path(os.environ.get("MOBILABEL_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


@dataclass(frozen=True)
class EpochSpeed:
    images: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


@dataclass(frozen=True)
class TrainingComparison:
    tutorial: EpochSpeed
    mobilabel: EpochSpeed

    @property
    def ratio(self) -> float:
        return self.mobilabel.images_per_s / self.tutorial.images_per_s


def _evenly(count: int, limit: int | None) -> list[int]:
    """Indices of ``limit`` images spread over all classes (ImageFolder lists them class by class)."""
    if limit is None or limit >= count:
        return list(range(count))
    return [round(i * count / limit) for i in range(limit)]


def tutorial_epoch(train_dir: Path, weights: Path, limit: int | None = None) -> EpochSpeed:
    """One epoch of the tutorial's training loop as it is written.

    ImageFolder, its transforms, batch 16, ``num_workers=0``, ImageNet weights without
    the classifier, features frozen, Adam(lr=1e-4) over all parameters, ``net.train()``.
    """
    transform = T.Compose(
        [
            T.RandomResizedCrop(224),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    folder = ImageFolder(str(train_dir), transform=transform)
    dataset = Subset(folder, _evenly(len(folder), limit))
    loader = DataLoader(dataset, batch_size=16, shuffle=True, num_workers=0)
    net = mobilenet_v2(num_classes=len(folder.classes))
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v for k, v in state.items() if "classifier" not in k}, strict=False)
    for parameter in net.features.parameters():
        parameter.requires_grad = False
    loss_function = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    net.train()
    running_loss = 0.0
    started = time.perf_counter()
    for images, labels in loader:
        optimizer.zero_grad()
        logits = net(images)
        loss = loss_function(logits, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    return EpochSpeed(len(dataset), time.perf_counter() - started)


def mobilabel_epoch(
    train_dir: Path,
    weights: Path,
    limit: int | None = None,
    workers: int | None = None,
    engine: str | None = None,
    options: TrainingOptions | None = None,
) -> EpochSpeed:
    """One epoch of `mobilabel train`'s loop (``options``: its defaults), on the images ``tutorial_epoch`` uses.

    ``workers`` and ``engine`` default to the settings `mobilabel train` would use.
    """
    settings = load_settings()
    classes, images = class_images(train_dir)
    images = [images[i] for i in _evenly(len(images), limit)]
    options = options or TrainingOptions()
    preprocessing = Preprocessing()
    learner = Learner(
        build_network(options, len(classes), Checkpoint.load(weights)),
        options,
        preprocessing.crop_size,
        engine or settings.engine,
    )
    loader = training_loader(images, options, settings, workers)
    _, _, count, seconds, _ = train_epoch(learner, loader)
    return EpochSpeed(count, seconds)


def compare(
    train_dir: Path, weights: Path, limit: int | None = None, options: TrainingOptions | None = None
) -> TrainingComparison:
    return TrainingComparison(
        tutorial_epoch(train_dir, weights, limit), mobilabel_epoch(train_dir, weights, limit, options=options)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "flowers" / "train", help="a folder of class folders")
    parser.add_argument("--weights", type=Path, default=SHARED / "weights" / "mobilenet_v2_imagenet.pth")
    parser.add_argument("--limit", type=int, help="use this many images (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="alternate the two loops this many times; report medians")
    parser.add_argument(
        "--unfreeze-last", type=int, help="blocks of the backbone that train (default: train's; 0: the head alone)"
    )
    args = parser.parse_args()
    options = TrainingOptions() if args.unfreeze_last is None else TrainingOptions(unfreeze_last=args.unfreeze_last)
    runs = [compare(args.data, args.weights, args.limit, options) for _ in range(args.repeat)]
    tutorial = statistics.median(r.tutorial.images_per_s for r in runs)
    ours = statistics.median(r.mobilabel.images_per_s for r in runs)
    print(f"images per epoch: {runs[0].tutorial.images}; torch threads: {torch.get_num_threads()}; "
          f"blocks trained: {options.unfreeze_last}")  # fmt: skip
    print(f"tutorial loop:        {tutorial:7.1f} img/s   ({', '.join(f'{r.tutorial.images_per_s:.1f}' for r in runs)})")
    print(f"mobilabel train loop: {ours:7.1f} img/s   ({', '.join(f'{r.mobilabel.images_per_s:.1f}' for r in runs)})")
    print(f"ratio:                {ours / tutorial:7.2f}x")


if __name__ == "__main__":
    main()
