"""Likely label mistakes by confident learning (Northcutt, Jiang and Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 2021), reimplemented here: cleanlab, its reference
implementation, is AGPL-3.0.

1. Held-out predictions: each label judged by a model that did not train on it. For answers, the active
   version's own held-out predictions where it has them (``library_curation``); else out-of-fold
   probabilities from a linear softmax head on the embeddings, fitted k times, each time without the fold
   it then predicts, and calibrated (a temperature fitted on those out-of-fold logits: uncalibrated, 48
   answers in 1,280 dimensions are separable and the head said 1.0000 against a right answer).
2. Per-class thresholds: t_j is the mean probability of class j over the examples labelled j (the
   model's own confidence on that class).
3. The confident joint, on the model's top class only (a stored held-out prediction keeps no other): an
   example labelled y whose top class j is another and reaches t_j is flagged, and counts for j.
4. Ranking: by self-confidence p[y], lowest first. Measured on the shared flowers with 5% of labels
   flipped (bench/mistakes.py), it put more flipped labels in the first 10% than putting the flagged
   examples first, ordered by normalised margin p[y] - max_{j != y} p[j] (the confident joint misses
   some flips that self-confidence still ranks low); ``flagged`` stays the "why".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..calibration import fit_temperature, softmax

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def stratified_folds(labels: Ints, folds: int, seed: int = 0) -> Ints:
    """A fold number in [0, folds) per example, each class spread evenly over the folds (N,) int64."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold[members] = (np.arange(len(members)) + rng.integers(folds)) % folds
    return fold


def fit_softmax(
    features: Floats, labels: Ints, classes: int, steps: int = 300, rate: float = 0.05, l2: float = 1e-3
) -> tuple[Floats, Floats, Floats, Floats]:
    """A multinomial logistic regression fitted by full-batch Adam on standardised features.

    ``features`` (N, D), ``labels`` (N,) in [0, classes). Returns (mean (D,), scale (D,), weights (D, C),
    bias (C,)): logits = ((features - mean) / scale) @ weights + bias. 300 steps at rate 0.05 and L2 1e-3 converge on the shared flowers'
    1,280-float embeddings (bench/mistakes.py); the fit is deterministic.
    """
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    onehot = np.eye(classes, dtype=np.float32)[labels]
    params = [np.zeros((x.shape[1], classes), np.float32), np.zeros(classes, np.float32)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    for step in range(1, steps + 1):
        error = (_softmax(x @ params[0] + params[1]) - onehot) / len(x)
        grads = [x.T @ error + l2 * params[0], error.sum(axis=0)]
        for param, grad, moment in zip(params, grads, moments, strict=True):
            moment[0] = 0.9 * moment[0] + 0.1 * grad
            moment[1] = 0.999 * moment[1] + 0.001 * grad * grad
            param -= rate * (moment[0] / (1 - 0.9**step)) / (np.sqrt(moment[1] / (1 - 0.999**step)) + 1e-8)
    return mean, scale, params[0], params[1]


def out_of_fold_probabilities(embeddings: Floats, labels: Ints, classes: int, folds: int = 5, seed: int = 0) -> Floats:
    """Each example's calibrated class probabilities (N, C) from a softmax head fitted on the other folds,
    divided by a temperature fitted on all those out-of-fold logits (``calibration.fit_temperature``).

    Raises ValueError with fewer than two examples per fold on average.
    """
    if len(labels) < 2 * folds:
        raise ValueError(f"{len(labels)} labelled examples are too few for {folds}-fold predictions (at least {2 * folds})")
    features = np.asarray(embeddings, np.float32)
    fold = stratified_folds(labels, folds, seed)
    logits = np.zeros((len(labels), classes), np.float32)
    for k in range(folds):
        held = fold == k
        mean, scale, weights, bias = fit_softmax(features[~held], labels[~held], classes)
        logits[held] = ((features[held] - mean) / scale) @ weights + bias
    return softmax(logits, fit_temperature(logits, labels)).astype(np.float32)


@dataclass(frozen=True)
class MistakeRanking:
    """Confident learning's verdict on N labelled examples.

    ``order`` (N,): example indices, likeliest mistake (lowest self-confidence) first; ``flagged`` (N,) bool:
    counted off the diagonal of the confident joint; ``suggested`` (N,): the class the example counts for (its
    own label when its top class is its own or does not reach its threshold); ``thresholds`` (C,): the
    per-class thresholds t_j.
    """

    order: Ints
    flagged: npt.NDArray[np.bool_]
    suggested: Ints
    thresholds: Floats


def rank_predictions(given_p: Floats, top: Ints, top_p: Floats, labels: Ints, classes: int) -> MistakeRanking:
    """Rank labelled examples by how likely their label is wrong, from held-out predictions: the probability
    of each given label ``given_p`` (N,), the model's top class ``top`` (N,) in [0, C) and its probability
    ``top_p`` (N,), and the given ``labels`` (N,) in [0, C). A class no example is labelled with gets threshold 1."""
    counts = np.bincount(labels, minlength=classes)
    sums = np.zeros(classes, np.float64)
    np.add.at(sums, labels, given_p)
    thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0).astype(np.float32)
    flagged = (top != labels) & (top_p >= thresholds[top])
    suggested = np.where(flagged, top, labels).astype(np.int64)
    order = np.argsort(given_p, kind="stable").astype(np.int64)
    return MistakeRanking(order=order, flagged=flagged, suggested=suggested, thresholds=thresholds)


def rank_mistakes(probabilities: Floats, labels: Ints) -> MistakeRanking:
    """``rank_predictions`` from out-of-fold ``probabilities`` (N, C) and given ``labels`` (N,) in [0, C)."""
    rows = np.arange(len(labels))
    top = probabilities.argmax(axis=1).astype(np.int64)
    return rank_predictions(probabilities[rows, labels], top, probabilities[rows, top], labels, probabilities.shape[1])


def _softmax(logits: npt.NDArray[np.floating]) -> Floats:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    out: Floats = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return out
