"""Decoding labelled images into batches, in parallel, skipping what cannot be read.

Images are read with ``read_rgb`` (EXIF orientation, safe limits), as labelling
reads them, at reduced size where the format allows (``min_side``). An unreadable
image is reported with its reason, not fatal: the batch goes on without it.

Reproducible: the order and each image's random crop and flip are drawn in the main
process from the run's seed, so the same seed gives the same batches whether images
are decoded by several processes (a local run) or by none (a Celery worker).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..files import Confine
from ..imaging import ImageReadError, load_source, read_rgb
from ..models.transforms import ImageTransform
from .data import LabelledImage


@dataclass
class Batch:
    images: torch.Tensor  # (N, 3, H, W); N may be 0 when every image failed
    targets: torch.Tensor  # (N,)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def __len__(self) -> int:
        return len(self.targets)


# (tensor, label, path, error): a tensor or an error, never both.
_Item = tuple[torch.Tensor | None, int, str, str | None]


class SeededSampler(Sampler[tuple[int, int]]):
    """Each epoch, every image once as (index, seed of its random transforms), in shuffled order or not.

    Drawn from one generator seeded once, so each epoch differs and every run with the
    same seed draws the same; it runs in the main process, so neither the number of
    decode processes nor which of them decodes an image changes what the image gets.
    """

    def __init__(self, count: int, shuffle: bool, seed: int) -> None:
        self.count = count
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = torch.randperm(self.count, generator=self.generator) if self.shuffle else torch.arange(self.count)
        seeds = torch.randint(0, 2**62, (self.count,), generator=self.generator)
        return zip(order.tolist(), seeds.tolist(), strict=True)


class ImageDataset(Dataset[_Item]):
    def __init__(
        self,
        images: Sequence[LabelledImage],
        transform: ImageTransform,
        max_pixels: int,
        min_side: int = 0,
        confine: Confine | None = None,
    ) -> None:
        self.images = list(images)
        self.transform = transform
        self.max_pixels = max_pixels
        self.min_side = min_side
        self.confine = confine

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int]) -> _Item:
        index, seed = key
        image = self.images[index]
        try:
            pixels = read_rgb(load_source(image.path, self.confine), self.max_pixels, self.min_side)
            # torchvision's random transforms draw from the global generator: seed it for this image
            # alone, and give it back as it was (the head's dropout draws from it in the main process).
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(seed)
                return self.transform(pixels), image.label, str(image.path), None
        except ImageReadError as exc:
            return None, image.label, str(image.path), str(exc)


def collate(items: list[_Item]) -> Batch:
    readable = [(tensor, label) for tensor, label, _, _ in items if tensor is not None]
    failures = [(path, error or "") for tensor, _, path, error in items if tensor is None]
    if not readable:
        return Batch(torch.empty(0), torch.empty(0, dtype=torch.long), failures)
    return Batch(torch.stack([tensor for tensor, _ in readable]), torch.tensor([label for _, label in readable]), failures)


def make_loader(
    images: Sequence[LabelledImage],
    transform: ImageTransform,
    batch_size: int,
    shuffle: bool,
    workers: int,
    max_pixels: int,
    seed: int = 0,
    min_side: int = 0,
    confine: Confine | None = None,
) -> DataLoader[_Item]:
    """Batches of decoded images; ``workers`` processes decode ahead of the model.

    ``min_side`` > 0 decodes each image at the smallest reduced size whose shorter side is
    still at least that (``imaging.train_min_side`` for training transforms,
    ``imaging.label_min_side`` for validation ones); 0 decodes at full size.
    ``confine`` (a training run's ``Confinement.refusal``) is asked about the real path of each file
    opened, before it is read: an image it refuses is a failure with its reason, as an unreadable one is.

    Workers persist across epochs, so an epoch does not pay to start them again.
    The shuffle order and the random crops follow ``seed`` alone (``SeededSampler``).
    A daemon process (a Celery prefork child) may not start processes, so there it
    decodes itself.
    """
    if multiprocessing.current_process().daemon:
        workers = 0
    return DataLoader(
        ImageDataset(images, transform, max_pixels, min_side, confine),
        batch_size=batch_size,
        sampler=SeededSampler(len(images), shuffle, seed),
        num_workers=workers,
        collate_fn=collate,
        persistent_workers=workers > 0,
        # The loader draws its workers' base seed from this, not from the global generator.
        generator=torch.Generator().manual_seed(seed),
    )
