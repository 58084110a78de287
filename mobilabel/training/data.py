"""Training data: an ImageFolder-style folder as labelled images, split into train and val.

``DATA_DIR/train/<class>/`` and ``DATA_DIR/val/<class>/``, or ``DATA_DIR/<class>/``
split here (stratified, seeded). Verified labels from the database join either
side, by a stable hash of their key.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..pipeline.paths import check_folder, iter_images
from ..storage.corrections import CURRENT, VerifiedLabel
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


def content_key(verified: VerifiedLabel) -> str:
    """What a verified label is keyed by: the content hash of the image (its path, for an old row without one)."""
    return verified.content_hash or os.path.abspath(verified.made_on)


def split_of(key: str, eval_share: float = DEFAULT_VAL_FRACTION) -> str:
    """``"train"`` or ``"eval"``: the side a verified image takes, from a stable hash of its key.

    The first 8 bytes of the key's SHA-256, as a fraction of 2**64, below ``eval_share``
    mean evaluation. The same key always takes the same side, whatever else was
    verified, so an image never moves from one side to the other between runs.
    """
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return "eval" if int.from_bytes(digest[:8], "big") < eval_share * 2**64 else "train"


@dataclass(frozen=True)
class VerifiedSplit:
    """A data split with the verified labels in it, and what they did there."""

    split: DataSplit
    trained: int  # verified images added to the training side
    evaluated: int  # verified images added to the evaluation side
    left_out: dict[str, str]  # image path -> why its verified label was not used


def add_corrections(
    split: DataSplit, corrections: Sequence[VerifiedLabel], key: Callable[[VerifiedLabel], str] = content_key
) -> VerifiedSplit:
    """The split with verified images added: each to the side ``split_of(key(correction))`` gives.

    A verified image that is also in the data folder is taken out of wherever it was
    (its folder's label is the one the correction overrides), so it is never both
    trained and evaluated on. A label that is not a class of the data folder, or a stale
    correction (no file holds its content now), is left out with its reason; the rest are used.
    """
    left_out: dict[str, str] = {}
    chosen: dict[str, tuple[int, str]] = {}  # absolute path -> (class index, side)
    for correction in corrections:
        path = os.path.abspath(correction.image_path)
        if correction.state != CURRENT:
            left_out[path] = "stale: no file holds the content it was verified on (edited, deleted or renamed unseen)"
        elif correction.label not in split.classes:
            left_out[path] = f"label {correction.label!r} is not a class of the data folder ({', '.join(split.classes)})"
        else:
            chosen[path] = (split.classes.index(correction.label), split_of(key(correction)))
    train = [i for i in split.train if str(i.path) not in chosen]
    val = [i for i in split.val if str(i.path) not in chosen]
    for path, (label, side) in chosen.items():
        (val if side == "eval" else train).append(LabelledImage(Path(path), label))
    evaluated = sum(side == "eval" for _, side in chosen.values())
    return VerifiedSplit(DataSplit(split.classes, train, val), len(chosen) - evaluated, evaluated, left_out)
