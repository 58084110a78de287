"""Out-of-fold predictions on the answers a version was trained on (issue 26 item 5).

A version trained on answers cannot be measured on them: it has seen them. Its held-out answers
are the audit answers and the answers its split held out; the rest get an *out-of-fold* label:
the answers trained on are cut into ``K_FOLDS`` folds by content, and each fold is labelled by a
model trained on the other folds only.

Cheaply: the k models are linear heads (ridge classifiers, one N x N solve each) on the ImageNet
backbone's frozen features, not k fine-tunings of the network. Features are computed once per
answer (one forward pass, the cost of one validation epoch) and each head is a single linear solve
(milliseconds for hundreds of answers), where k full trainings would multiply the run's time by k.
An iterative logistic-regression fit (L-BFGS, 100 iterations) was tried first: on this shared
machine it took longer than the features (108 s against 53 s for 45 answers); the closed form does not. The ImageNet backbone never
saw the answers, so no fold leaks into another through the features (the trained version's own
features would: they learnt every fold). What it measures is therefore the frozen-feature head on
answers it did not see: a stand-in for the fine-tuned version on them, named as such wherever it is
counted (``metrics["out_of_fold"]``, the confusion matrix's ``out_of_fold``).

Each prediction is stored with a confidence (``storage.trained_answers.record_held_out_predictions``, the one
home of out-of-fold predictions): the softmax of the ridge scores divided by a temperature fitted on
these out-of-fold scores themselves (``calibration``), so it means what a calibrated confidence means.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..calibration import fit_temperature, softmax
from ..config import Settings
from ..files import Confine
from ..imaging import label_min_side
from ..models import Checkpoint, Preprocessing
from ..storage.corrections import VerifiedLabel
from .data import LabelledImage
from .loader import make_loader
from .loop import build_network
from .options import TrainingOptions

K_FOLDS = 5  # as the 5 answers MIN_ANSWERS asks per class: one answer of each class per fold
# The ridge penalty per feature: standardised features each carry unit variance, so this weighs the
# penalty against the data whatever D; separable folds (common with 1,280 features) keep finite weights.
_RIDGE = 1.0


def fold_of(key: str, k: int = K_FOLDS) -> int:
    """The fold (0..k-1) of an answer, by its content key: stable across runs and machines."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % k


def frozen_features(
    images: Sequence[LabelledImage],
    source: Checkpoint,
    options: TrainingOptions,
    settings: Settings,
    confine: Confine | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """The ImageNet backbone's pooled features of ``images`` (N x D float32, D = 1280 for MobileNetV2 at
    alpha 1), centre-cropped as validation is, and the indices into ``images`` they belong to (an image
    that cannot be read, or that ``confine`` refuses, has none)."""
    network = build_network(options, 1, source)
    network.classifier = nn.Identity()  # both architectures end in classifier(flatten(avgpool(features(x))))
    network.eval()
    preprocessing = Preprocessing.for_resolution(options.resolution)
    loader = make_loader(
        images, preprocessing.eval_transform(), options.batch_size, shuffle=False, workers=settings.decode_threads,
        max_pixels=settings.max_image_pixels, seed=options.seed, min_side=label_min_side(preprocessing.resize_size),
        confine=confine,
    )  # fmt: skip
    chunks: list[torch.Tensor] = []
    kept: list[int] = []
    start = 0
    with torch.inference_mode():
        for batch in loader:
            failed = {path for path, _ in batch.failures}
            span = range(start, start + len(batch) + len(batch.failures))
            kept.extend(i for i in span if str(images[i].path) not in failed)  # in order: the loader does not shuffle
            start = span.stop
            if len(batch):
                chunks.append(network(batch.images).float())
    del loader
    return (torch.cat(chunks) if chunks else torch.empty(0, 0)), kept


def out_of_fold(
    features: torch.Tensor, targets: Sequence[int], folds: Sequence[int], num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, predicted): each row's ridge scores (N x C float64) from a ridge classifier fitted on the rows of the
    other folds (features standardised on those rows), and which rows have them (N bools): none where the other
    folds hold fewer than two classes. A row's out-of-fold class is its scores' argmax."""
    labels = torch.tensor(list(targets))
    fold_ids = torch.tensor(list(folds))
    scores = torch.zeros(len(labels), num_classes, dtype=torch.float64)
    predicted = torch.zeros(len(labels), dtype=torch.bool)
    for fold in sorted(set(folds)):
        held, fit = fold_ids == fold, fold_ids != fold
        if len(set(labels[fit].tolist())) < 2:
            continue
        x = features[fit].double()
        mean, std = x.mean(0), x.std(0, unbiased=False) + 1e-6
        weights = _ridge((x - mean) / std, labels[fit], num_classes)
        scores[held] = ((features[held].double() - mean) / std) @ weights
        predicted |= held
    return scores, predicted


def _ridge(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """D x C weights of ridge regression onto the one-hot classes (centred at 0: targets +1 and -1, as
    scikit-learn's RidgeClassifier), solved in its dual form: with N answers and D features, N << D,
    the solve is N x N (Hastie, Tibshirani and Friedman, The Elements of Statistical Learning, 18.3.5)."""
    targets = 2 * nn.functional.one_hot(y, num_classes).double() - 1
    gram = x @ x.T + _RIDGE * x.shape[1] * torch.eye(len(x), dtype=x.dtype)
    weights: torch.Tensor = x.T @ torch.linalg.solve(gram, targets)
    return weights


@dataclass(frozen=True)
class OutOfFold:
    predictions: dict[str, tuple[str, float]]  # content hash -> its out-of-fold label and calibrated confidence
    right: int  # of them, the label answered
    temperature: float  # the ridge scores' temperature, fitted on these predictions
    answered: dict[str, tuple[str, float]] = field(default_factory=dict)  # content hash -> (answer, its calibrated probability)

    def metrics(self) -> dict[str, Any]:
        """As a version records it (``metrics["out_of_fold"]``)."""
        return {
            "k": K_FOLDS, "answers": len(self.predictions), "right": self.right, "method": METHOD,
            "temperature": self.temperature,
        }  # fmt: skip

    def rows(self) -> list[tuple[str, str, float]]:
        """(content hash, label, confidence), as ``record_held_out_predictions`` stores them."""
        return [(h, label, p) for h, (label, p) in sorted(self.predictions.items())]


METHOD = "ridge classifier on the frozen ImageNet features, each fold fitted on the others"


def trained_out_of_fold(
    answers: Sequence[VerifiedLabel],
    trained_hashes: Collection[str],
    classes: Sequence[str],
    source: Checkpoint,
    options: TrainingOptions,
    settings: Settings,
    confine: Confine | None = None,
) -> OutOfFold:
    """The out-of-fold predictions of the ``answers`` a version was trained on (those in ``trained_hashes``),
    over its ``classes``; ``source``: the ImageNet weights it started from; ``confine``: as ``make_loader``'s."""
    trained = sorted(
        (a for a in answers if a.content_hash in trained_hashes and a.label in classes), key=lambda a: str(a.content_hash)
    )
    if not trained:
        return OutOfFold({}, 0, 1.0)
    images = [LabelledImage(Path(os.path.abspath(a.image_path)), classes.index(a.label)) for a in trained]
    features, kept = frozen_features(images, source, options, settings, confine)
    targets = [images[i].label for i in kept]
    scores, has = out_of_fold(features, targets, [fold_of(str(trained[i].content_hash)) for i in kept], len(classes))
    rows = has.nonzero().flatten().tolist()
    if not rows:
        return OutOfFold({}, 0, 1.0)
    logits = scores[rows].numpy()
    temperature = fit_temperature(logits, np.array([targets[r] for r in rows]))
    probabilities = softmax(logits, temperature)
    predictions = {
        str(trained[kept[r]].content_hash): (classes[int(p.argmax())], float(p.max()))
        for r, p in zip(rows, probabilities, strict=True)
    }
    answered = {
        str(trained[kept[r]].content_hash): (classes[targets[r]], float(p[targets[r]]))
        for r, p in zip(rows, probabilities, strict=True)
    }
    right = sum(predictions[str(trained[kept[r]].content_hash)][0] == classes[targets[r]] for r in rows)
    return OutOfFold(predictions, right, temperature, answered)
