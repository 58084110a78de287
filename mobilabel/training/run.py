"""One training run, end to end: data, loop, metrics, version, report, promotion."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..calibration import CALIBRATION_METRIC, calibrate
from ..config import Settings
from ..confinement import Confinement
from ..files import Confine
from ..hashing import hash_file
from ..imaging import label_min_side, train_min_side
from ..models import Checkpoint, Preprocessing, resolve_device
from ..object_paths import source_path
from ..storage import Database
from ..storage.class_queries import class_names, trainable_labels
from ..storage.classes import SKIP
from ..storage.pathcodec import to_stored
from ..storage.trained_answers import record_held_out_predictions, record_trained
from ..versions.checkpoints import find_imagenet, register_checkpoint, save_onnx_file
from ..versions.files import checkpoint_file, report_file
from . import metrics as measures
from .data import DEFAULT_VAL_FRACTION, DataSplit, LabelledImage, VerifiedSplit, add_corrections, answers_split, find_split
from .errors import TrainingError
from .inputs import CORRECTION_KEY, FINGERPRINT_METRIC, inputs_fingerprint, verified_labels
from .loader import make_loader
from .loop import FitResult, Learner, build_network, fit
from .options import ProgressCallback, TrainingOptions
from .out_of_fold import trained_out_of_fold
from .promotion import PromotionDecision, promote_if_better, unseen_by_active
from .report import write_report_png

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingReport:
    version_id: str
    classes: list[str]
    val_accuracy: float
    best_epoch: int
    metrics: dict[str, Any]  # as stored with the version
    checkpoint_path: Path
    report_path: Path  # the PNG
    promotion: PromotionDecision
    seconds: float
    skipped: dict[str, str]  # unreadable images, path -> reason
    left_out: dict[str, str]  # verified labels not used, image path -> reason


def train(
    db: Database,
    settings: Settings,
    data_dir: Path | None,
    options: TrainingOptions = TrainingOptions(),
    force: bool = False,
    output_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    run_roots: Sequence[Path] = (),
) -> TrainingReport:
    """Train on ``data_dir`` (plus the answers, unless ``options.include_corrections`` is off; an answer
    overrides the folder's label of the same content), or with ``data_dir`` None on the answers alone
    (``data.answers_split``: your active classes and ``other``); register the result as a version, and
    promote it if it is better (``promote_if_better``).

    The checkpoint and the PNG report go to the model cache (and to ``output_dir`` too, if given).
    Every file is read under ``settings.allowed_roots`` and ``run_roots`` too (those of the server that
    created the run, ``TrainingRun.allowed_roots``): a folder or an image outside either is a
    ``TrainingError`` naming it and the roots, before any image is read, and a link swapped in later is
    refused when opened (a skipped image, with that reason).
    """
    started = time.perf_counter()
    options.check()
    confinement = Confinement(tuple(settings.allowed_roots), tuple(run_roots), "training run")
    if data_dir is not None and (roots := confinement.whose(data_dir)) is not None:
        raise TrainingError(f"the training folder {data_dir} is outside {roots}; not read")
    try:
        resolve_device(options.device)  # before any work: --device cuda on a machine without one
    except (RuntimeError, ValueError) as exc:
        raise TrainingError(str(exc)) from exc
    checked: set[Path] = set()  # the images already held to the roots
    corrections = verified_labels(db, options)
    fingerprint = inputs_fingerprint(data_dir, corrections, options)
    with db.transaction() as session:
        trainable = trainable_labels(session)
        retired = class_names(session, retired=True)
    if data_dir is None:
        if not options.include_corrections:
            raise TrainingError("with no DATA_DIR, training learns from the answers: --no-corrections leaves nothing to train on")
        verified = answers_split(corrections, trainable, options.val_fraction or DEFAULT_VAL_FRACTION, CORRECTION_KEY)
    else:
        folder = find_split(data_dir, options.val_fraction, options.seed)
        in_folder = (*folder.train, *folder.val)
        _refuse_outside(in_folder, confinement)  # before they are hashed
        checked = {image.path for image in in_folder}
        hashes = _content_hashes(folder, confinement.refusal) if corrections else {}
        verified = add_corrections(folder, corrections, CORRECTION_KEY, hashes, untrained=(SKIP, *retired))
    split = verified.split
    _refuse_outside([image for image in (*split.train, *split.val) if image.path not in checked], confinement)  # the answers'
    if verified.left_out:
        log.warning("%d verified labels left out of training: %s", len(verified.left_out), verified.left_out)
    if not split.val:
        raise TrainingError(f"{data_dir or 'the answers'}: no validation images; add some to val/, or raise --val-fraction")
    source = None if options.from_scratch else find_imagenet(db, settings)
    confine = confinement.refusal if confinement.confines else None
    learner, result = fit_images(options, len(split.classes), split.train, split.val, source, settings, on_progress, confine)

    # The answers trained on get labels from models that never saw them (k-fold), so they can be measured too.
    oof = (
        trained_out_of_fold(corrections, verified.trained_hashes, split.classes, source, options, settings, confine)
        if source is not None and verified.trained_hashes
        else None
    )
    metrics = run_metrics(verified, result, options, data_dir, time.perf_counter() - started)
    metrics[FINGERPRINT_METRIC] = fingerprint
    if oof is not None:
        metrics["out_of_fold"] = oof.metrics()
    if result.best.targets:
        # On the validation split: for a version trained on answers alone, its held-out answers. Stored in the
        # checkpoint's metrics, so every process that loads the version labels with calibrated confidences.
        metrics[CALIBRATION_METRIC] = calibrate(result.best.logits, result.best.targets).to_dict()
    checkpoint = Checkpoint.from_model(
        learner.model,
        options.arch,
        options.alpha,
        split.classes,
        Preprocessing.for_resolution(options.resolution),
        metrics,
        source=f"trained on {to_stored(source_path(data_dir).absolute())}" if data_dir is not None else "trained on the answers",
    )
    register_checkpoint(db, checkpoint)
    with db.transaction() as session:
        record_trained(session, checkpoint.version_id, verified.trained_hashes)
        if oof is not None:
            record_held_out_predictions(session, checkpoint.version_id, oof.rows(), oof.answered)
    checkpoint_path = checkpoint_file(settings, checkpoint.version_id)
    checkpoint.save(checkpoint_path)
    save_onnx_file(settings, checkpoint)  # once, now: CPU workers label from it without torch
    report_path = write_report_png(
        report_file(settings, checkpoint.version_id), metrics, title=f"model version {checkpoint.version_id}"
    )
    if output_dir is not None:
        checkpoint_path, report_path = _copy_out(output_dir, checkpoint_path, report_path, metrics)
    evaluation = unseen_by_active(db, split.val, corrections)
    decision = promote_if_better(db, settings, checkpoint, evaluation, force=force, device=options.device, confine=confine)
    return TrainingReport(
        version_id=checkpoint.version_id,
        classes=split.classes,
        val_accuracy=result.best.accuracy,
        best_epoch=result.best_epoch,
        metrics=metrics,
        checkpoint_path=checkpoint_path,
        report_path=report_path,
        promotion=decision,
        seconds=time.perf_counter() - started,
        skipped=result.failures,
        left_out=verified.left_out,
    )


def fit_images(
    options: TrainingOptions,
    num_classes: int,
    train_images: Sequence[LabelledImage],
    val_images: Sequence[LabelledImage],
    source: Checkpoint | None,
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    confine: Confine | None = None,
) -> tuple[Learner, FitResult]:
    """Train a network on ``train_images`` as ``options`` say, keeping the epoch best on ``val_images``.

    ``source``: the ImageNet weights (``registry.find_imagenet``), None with ``from_scratch``;
    ``confine``: as ``make_loader``'s.
    The loop alone: nothing is registered (``train`` does that; ``bench/recipes.py`` calls this).
    Raises ``TrainingError`` for options out of range or weights that do not fit.
    """
    options.check()
    torch.manual_seed(options.seed)  # the new head's initial weights
    network = build_network(options, num_classes, source)
    preprocessing = Preprocessing.for_resolution(options.resolution)
    learner = Learner(network, options, preprocessing.crop_size, settings.engine)
    train_loader = training_loader(train_images, options, settings, confine=confine)
    val_loader = make_loader(
        val_images, preprocessing.eval_transform(), options.batch_size, shuffle=False, workers=settings.decode_threads,
        max_pixels=settings.max_image_pixels, seed=options.seed, min_side=label_min_side(preprocessing.resize_size),
        confine=confine,
    )  # fmt: skip
    result = fit(learner, train_loader, val_loader, options.epochs, on_progress, options.patience)
    del train_loader, val_loader  # stop their worker processes now
    return learner, result


def training_loader(
    images: Sequence[LabelledImage],
    options: TrainingOptions,
    settings: Settings,
    workers: int | None = None,
    confine: Confine | None = None,
) -> DataLoader[Any]:
    """Shuffled batches of ``options.batch_size`` training images (N x 3 x S x S, S = 224 x ``options.resolution``), each a random
    crop of at least ``options.min_crop_area`` of the photo, flipped, with ``options.augment``, drawn
    from ``options.seed``; decoded by ``workers`` processes (default ``settings.decode_threads``); ``confine``: as ``make_loader``'s."""
    preprocessing = Preprocessing.for_resolution(options.resolution)
    return make_loader(
        images, preprocessing.train_transform(options.augment, options.min_crop_area), options.batch_size, shuffle=True,
        workers=settings.decode_threads if workers is None else workers, max_pixels=settings.max_image_pixels,
        seed=options.seed, min_side=train_min_side(preprocessing.crop_size), confine=confine,
    )  # fmt: skip


def run_metrics(
    verified: VerifiedSplit, result: FitResult, options: TrainingOptions, data_dir: Path | None, seconds: float
) -> dict[str, Any]:
    """What a version records about its training run (plain JSON values)."""
    split = verified.split
    confusion = measures.confusion_matrix(result.best.targets, result.best.predictions, len(split.classes))
    return {
        "val_accuracy": measures.accuracy(confusion),
        "best_epoch": result.best_epoch,
        "per_class": measures.per_class(confusion, split.classes),
        "confusion_matrix": confusion,
        "epochs": [{**dataclasses.asdict(e), "train_images_per_s": e.train_images_per_s} for e in result.history],
        "train_images": len(split.train),
        "val_images": len(split.val),
        "skipped_images": len(result.failures),
        "verified_train_images": verified.trained,
        "verified_eval_images": verified.evaluated,
        "verified_left_out": len(verified.left_out),
        "options": dataclasses.asdict(options),
        "data_dir": to_stored(source_path(data_dir).absolute()) if data_dir is not None else None,
        "train_seconds": seconds,
    }


def _refuse_outside(images: Sequence[LabelledImage], confinement: Confinement) -> None:
    """Refuse the run (``TrainingError``: how many, one of them, whose roots) if any of ``images`` lies
    outside the roots, before any of them is opened."""
    outside = [(image.path, roots) for image in images if (roots := confinement.whose(image.path)) is not None]
    if outside:
        path, roots = outside[0]
        lie = "s lie" if len(outside) > 1 else " lies"
        raise TrainingError(f"{len(outside)} training image{lie} outside {roots}, e.g. {path}; not trained on")


def _content_hashes(split: DataSplit, confine: Confine) -> dict[str, str]:
    """Path -> content hash of every folder image, so that an answer overrides the folder's label of its
    content wherever the file lies; one unreadable here (or refused by ``confine`` once open) is left for
    the loader to report."""
    hashes: dict[str, str] = {}
    for image in (*split.train, *split.val):
        try:
            hashes[str(image.path)] = hash_file(image.path, confine)
        except OSError:
            continue
    return hashes


def _copy_out(output_dir: Path, checkpoint: Path, report: Path, metrics: dict[str, Any]) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    copied_checkpoint = Path(shutil.copyfile(checkpoint, output_dir / checkpoint.name))
    copied_report = Path(shutil.copyfile(report, output_dir / report.name))
    (output_dir / f"{checkpoint.stem}.json").write_text(json.dumps(metrics, indent=2))
    return copied_checkpoint, copied_report
