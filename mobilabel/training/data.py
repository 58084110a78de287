"""Training data: an ImageFolder-style folder as labelled images, split into train and val.

``DATA_DIR/train/<class>/`` and ``DATA_DIR/val/<class>/``, or ``DATA_DIR/<class>/``
split here (stratified, seeded). Verified labels (answers) from the database join either
side, by a stable hash of their key; or, with no folder, the answers alone make the split.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..object_paths import ObjectPath
from ..pipeline.paths import check_folder, iter_images
from ..plurals import counted
from ..storage.classes import OTHER, SKIP
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
    if isinstance(root, ObjectPath):
        return _object_split(root, val_fraction, seed)
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
        raise TrainingError(
            f"{root} has {present}/ but no {absent}/: add {absent}/<class>/ folders, or pass a folder of class folders"
        )
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
        raise TrainingError(f"{folder} has no class folders: expected {folder}/<class>/*.jpg, or train/<class>/ and val/<class>/")
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


def _object_split(root: ObjectPath, val_fraction: float | None, seed: int) -> DataSplit:
    """``find_split`` under a prefix: the same layouts (``train/<class>/``, ``val/<class>/``, or ``<class>/``), from
    one listing; an image directly under the prefix, or under ``train``/``val`` outside a class, is left out."""
    by_part: dict[str, dict[str, list[Path]]] = {}
    for path in iter_images(root):
        relative = path.parts[len(root.parts) :]
        if len(relative) >= 2:
            by_part.setdefault(relative[0], {}).setdefault(relative[1], []).append(path)
    if "train" in by_part and "val" in by_part:
        if val_fraction is not None:
            raise TrainingError(f"{root} has its own train/ and val/; --val-fraction splits only a prefix of class folders")
        train_classes = {
            name: [p for p in paths if len(p.parts) > len(root.parts) + 2] for name, paths in by_part["train"].items()
        }
        classes = sorted(train_classes)
        if unknown := sorted(set(by_part["val"]) - set(classes)):
            raise TrainingError(f"{root}/val has class folders the training folder lacks: {', '.join(unknown)}")
        train = [LabelledImage(p, classes.index(name)) for name in classes for p in train_classes[name]]
        val = [
            LabelledImage(p, classes.index(name))
            for name, paths in sorted(by_part["val"].items())
            for p in paths
            if len(p.parts) > len(root.parts) + 2
        ]
        return DataSplit(classes, train, val)
    classes = sorted(by_part)
    if not classes:
        raise TrainingError(f"{root} has no class folders: expected {root}/<class>/*.jpg, or train/<class>/ and val/<class>/")
    images = [LabelledImage(p, classes.index(name)) for name in classes for paths in by_part[name].values() for p in paths]
    train, val = stratified_split(images, DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction, seed)
    return DataSplit(classes, train, val)


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
    trained_hashes: frozenset[str] = frozenset()  # the content of the answers on the training side: never a measure of it


def add_corrections(
    split: DataSplit,
    corrections: Sequence[VerifiedLabel],
    key: Callable[[VerifiedLabel], str] = content_key,
    folder_hashes: Mapping[str, str] | None = None,
    untrained: Collection[str] = (SKIP,),
) -> VerifiedSplit:
    """The split with verified images added: each to the side ``split_of(key(correction))`` gives.

    An answer overrides the folder: a data-folder image that was answered (the same path, or the
    same content by ``folder_hashes``, path -> content hash) is taken out of wherever it was, so
    it is never both trained and evaluated on, nor learnt with the folder's label. An answer whose
    label is in ``untrained`` (``skip``, retired classes) is not used; a label that is not a class
    of the data folder, a retired class, or a stale correction (no file holds its content now) is
    left out with its reason; the rest are used.
    """
    left_out: dict[str, str] = {}
    chosen: dict[str, tuple[int, str]] = {}  # absolute path -> (class index, side)
    trained_hashes: set[str] = set()
    answered_paths: set[str] = set()
    answered_hashes: set[str] = set()
    for correction in corrections:
        path = os.path.abspath(correction.image_path)
        if correction.state != CURRENT:
            left_out[path] = "stale: no file holds the content it was verified on (edited, deleted or renamed unseen)"
            continue
        answered_paths.add(path)
        if correction.content_hash is not None:
            answered_hashes.add(correction.content_hash)
        if correction.label in untrained:
            if correction.label != SKIP:
                left_out[path] = f"class {correction.label!r} is retired: not trained on"
        elif correction.label not in split.classes:
            left_out[path] = f"label {correction.label!r} is not a class of the data folder ({', '.join(split.classes)})"
        else:
            # An audit answer (a uniform draw) is always held out, so it keeps measuring the unreviewed rest.
            chosen[path] = (split.classes.index(correction.label), "eval" if correction.audit else split_of(key(correction)))
            if chosen[path][1] == "train" and correction.content_hash is not None:
                trained_hashes.add(correction.content_hash)
    hashes = folder_hashes or {}

    def kept(image: LabelledImage) -> bool:
        name = str(image.path)
        return name not in answered_paths and hashes.get(name) not in answered_hashes

    train = [i for i in split.train if kept(i)]
    val = [i for i in split.val if kept(i)]
    for path, (label, side) in chosen.items():
        (val if side == "eval" else train).append(LabelledImage(Path(path), label))
    evaluated = sum(side == "eval" for _, side in chosen.values())
    return VerifiedSplit(
        DataSplit(split.classes, train, val), len(chosen) - evaluated, evaluated, left_out, frozenset(trained_hashes)
    )


# The fewest answers a class needs to be trained on from answers alone. A fifth of the answers is held
# out (``split_of``), so 5 is the smallest count whose expected held-out share is one image, and the
# smallest with one answer in each of the 5 folds the held-out scheme of issue 26 uses; below it a class
# would be trained on but never measured.
MIN_ANSWERS = 5


def answers_split(
    corrections: Sequence[VerifiedLabel],
    trainable: Collection[str],
    eval_share: float = DEFAULT_VAL_FRACTION,
    key: Callable[[VerifiedLabel], str] = content_key,
) -> VerifiedSplit:
    """A split made of the answers alone: the classes are the ``trainable`` labels answered (your active
    classes and ``other``), each answer on the side ``split_of`` gives, except audit answers (drawn
    uniformly by the review queue), which are always held out so they measure the unreviewed rest.
    Every class keeps at least one answer on each side.

    Raises ``TrainingError`` naming each class with fewer than ``MIN_ANSWERS`` answers (and its count),
    or when fewer than two classes have answers.
    """
    left_out: dict[str, str] = {}
    usable: list[VerifiedLabel] = []
    for correction in corrections:
        path = os.path.abspath(correction.image_path)
        if correction.state != CURRENT:
            left_out[path] = "stale: no file holds the content it was verified on (edited, deleted or renamed unseen)"
        elif correction.label in trainable:
            usable.append(correction)
        elif correction.label != SKIP:
            left_out[path] = f"class {correction.label!r} is retired: not trained on"
    counts = Counter(c.label for c in usable)
    if len(counts) < 2:
        have = ", ".join(f"{label!r} {n}" for label, n in sorted(counts.items())) or "none"
        raise TrainingError(
            f"training on answers alone needs two classes with {MIN_ANSWERS} answers each (answers so far: {have}); "
            "answer more with `mobilabel review next` and `mobilabel correct`, or give a DATA_DIR of class folders"
        )
    if few := sorted((n, label) for label, n in counts.items() if n < MIN_ANSWERS):
        named = ", ".join(f"{label!r} has {counted(n, 'answer')}" for n, label in few)
        # `other` is a reserved answer, not a class: it can be neither merged nor retired.
        other = (
            f" (for {OTHER}: answer more images {OTHER}, or answer its images again with a class or {SKIP})"
            if any(label == OTHER for _, label in few)
            else ""
        )
        raise TrainingError(
            f"too few answers to train: {named}; each class needs at least {MIN_ANSWERS} (a fifth is held out to measure it): "
            f"answer more, or merge or retire the class{other}"
        )
    classes = sorted(counts)
    sides: dict[str, list[VerifiedLabel]] = {"train": [], "eval": []}
    for label in classes:
        members = sorted((c for c in usable if c.label == label), key=key)
        side_of = {id(c): "eval" if c.audit else split_of(key(c), eval_share) for c in members}
        if not any(side == "eval" for side in side_of.values()):
            side_of[id(members[0])] = "eval"
        if not any(side == "train" for side in side_of.values()):
            movable = [c for c in members if not c.audit]
            if not movable:
                raise TrainingError(
                    f"every answer of class {label!r} is an audit answer, held out: answer more of it to train on"
                )
            side_of[id(movable[0])] = "train"
        for c in members:
            sides[side_of[id(c)]].append(c)
    train, val = (
        [LabelledImage(Path(os.path.abspath(c.image_path)), classes.index(c.label)) for c in sides[s]] for s in ("train", "eval")
    )
    trained_hashes = frozenset(c.content_hash for c in sides["train"] if c.content_hash is not None)
    return VerifiedSplit(DataSplit(classes, train, val), len(train), len(val), left_out, trained_hashes)
