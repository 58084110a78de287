"""Training data: an ImageFolder-style folder as labelled images, split into train and val.

``DATA_DIR/train/<class>/`` and ``DATA_DIR/val/<class>/``, or ``DATA_DIR/<class>/``
split here (stratified, seeded). Verified labels from the database can join the
training split.
"""

from __future__ import annotations

import os
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..pipeline.paths import check_folder, iter_images
from ..storage.corrections import CorrectionRecord, VerifiedLabel
from .errors import TrainingError

DEFAULT_VAL_FRACTION = 0.2


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int  # index into the split's classes


@dataclass(frozen=True)
class DataSplit:
    classes: list[str]
    train: list[LabelledImage]
    val: list[LabelledImage]


def find_split(data_dir: Path, val_fraction: float | None = None, seed: int = 0) -> DataSplit:
    """The classes and the train/val images under ``data_dir``.

    ``val_fraction`` applies only to a folder of class folders; a folder with its own
    ``train/`` and ``val/`` keeps that split.
    """
    root = check_folder(data_dir)
    train_dir, val_dir = root / "train", root / "val"
    if train_dir.is_dir() and val_dir.is_dir():
        if val_fraction is not None:
            raise TrainingError(
                f"{root} has its own train/ and val/ folders; --val-fraction splits only a folder of class folders"
            )
        classes, train = class_images(train_dir)
        _, val = class_images(val_dir, classes)
        return DataSplit(classes, train, val)
    if train_dir.is_dir() or val_dir.is_dir():
        present, absent = ("train", "val") if train_dir.is_dir() else ("val", "train")
        raise TrainingError(f"{root} has {present}/ but no {absent}/: add {absent}/<class>/ folders, or pass a folder of class folders")
    classes, images = class_images(root)
    train, val = stratified_split(images, DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction, seed)
    return DataSplit(classes, train, val)


def class_images(folder: Path, classes: Sequence[str] | None = None) -> tuple[list[str], list[LabelledImage]]:
    """The class folders of ``folder`` (sorted, as ImageFolder does) and their images.

    With ``classes`` given (a val folder), its class folders must be among them and
    keep their indices.
    """
    names = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith("."))
    if not names:
        raise TrainingError(
            f"{folder} has no class folders: expected {folder}/<class>/*.jpg, or train/<class>/ and val/<class>/"
        )
    if classes is None:
        classes = names
    elif unknown := [n for n in names if n not in classes]:
        raise TrainingError(f"{folder} has class folders the training folder lacks: {', '.join(unknown)}")
    images = []
    for name in names:
        found = [LabelledImage(path, classes.index(name)) for path in iter_images(folder / name)]
        if not found:
            raise TrainingError(f"class folder {folder / name} has no images")
        images.extend(found)
    return list(classes), images


def stratified_split(
    images: Sequence[LabelledImage], val_fraction: float, seed: int
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """(train, val): the same fraction of each class goes to val, chosen by ``seed``.

    Every class with two images or more keeps at least one on each side.
    """
    if not 0 < val_fraction < 1:
        raise TrainingError(f"--val-fraction must be between 0 and 1, got {val_fraction}")
    by_class: defaultdict[int, list[LabelledImage]] = defaultdict(list)
    for image in images:
        by_class[image.label].append(image)
    rng = random.Random(seed)
    train: list[LabelledImage] = []
    val: list[LabelledImage] = []
    for label in sorted(by_class):
        members = sorted(by_class[label], key=lambda i: str(i.path))
        rng.shuffle(members)
        count = round(len(members) * val_fraction)
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        val.extend(members[:count])
        train.extend(members[count:])
    return train, val


def add_corrections(split: DataSplit, corrections: Sequence[CorrectionRecord | VerifiedLabel]) -> DataSplit:
    """The split with verified images added to its training side.

    A corrected image that is also in the data folder is taken out of wherever it
    was (its folder's label is the one the correction overrides), so it is never
    both validated on and trained on.
    """
    unknown = Counter(c.label for c in corrections if c.label not in split.classes)
    if unknown:
        listed = ", ".join(f"{label!r} ({n})" for label, n in unknown.most_common())
        raise TrainingError(
            f"{sum(unknown.values())} corrections have labels that are not classes of the data folder "
            f"({', '.join(split.classes)}): {listed}; correct them again with one of those classes, "
            "or add a class folder for each"
        )
    corrected = {os.path.abspath(c.image_path): c.label for c in corrections}
    keep = [i for i in split.train if str(i.path) not in corrected]
    val = [i for i in split.val if str(i.path) not in corrected]
    added = [LabelledImage(Path(path), split.classes.index(label)) for path, label in corrected.items()]
    return DataSplit(split.classes, keep + added, val)
