"""Calibrated confidence: temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", 2017).

One scalar T divides a version's logits before the softmax. T is fitted on images the version was
not trained on (its validation split: for a version trained on answers, its held-out answers) by
minimising the negative log-likelihood, as Guo et al. do. Dividing by T keeps every label and every
ranking of one image's classes; only the confidences move, so an over-confident network (T > 1) says
0.9 where it is right about 90% of the time. Guo et al. found this single parameter as good as or
better than histogram binning, isotonic regression and matrix/vector scaling on image classifiers,
and it cannot over-fit the few hundred images a library's validation split holds.

The expected calibration error (ECE) is theirs too: the confidences put in ``BINS`` equal-width bins,
the gap between each bin's mean confidence and its accuracy, weighted by the bin's share of images.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

CALIBRATION_METRIC = "calibration"  # the key of a version's metrics that holds its ``Calibration``
BINS = 15  # Guo et al.'s M = 15 equal-width confidence bins
# The temperatures searched: the NLL is convex in 1/T, so a golden-section search over log T finds its minimum.
_LOG_T_RANGE = (math.log(0.05), math.log(20.0))
_SEARCH_STEPS = 80  # the bracket shrinks by 0.618 per step: far below any difference a confidence shows


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram: confidences in [low, high), their mean and the share right."""

    low: float
    high: float
    count: int
    confidence: float | None  # None: an empty bin
    accuracy: float | None


@dataclass(frozen=True)
class Calibration:
    """A version's temperature and what it did on the images it was fitted on."""

    temperature: float
    images: int  # the images fitted on
    ece_before: float  # with T = 1 (the raw softmax)
    ece_after: float
    reliability_before: list[ReliabilityBin]
    reliability_after: list[ReliabilityBin]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, as stored in a version's metrics under ``"calibration"``."""
        return asdict(self)


def temperature_of(metrics: dict[str, Any]) -> float:
    """The temperature stored in a version's ``metrics`` (1.0 for a version never calibrated)."""
    calibration = metrics.get(CALIBRATION_METRIC)
    return float(calibration["temperature"]) if isinstance(calibration, dict) else 1.0


def softmax(logits: npt.ArrayLike, temperature: float = 1.0) -> npt.NDArray[np.float64]:
    """Row-wise softmax of ``logits`` (N, C) / ``temperature``; (N, C) probabilities."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def reliability(confidences: npt.ArrayLike, correct: npt.ArrayLike, bins: int = BINS) -> tuple[float, list[ReliabilityBin]]:
    """(ECE, bins): ``confidences`` (N,) in [0, 1] of the predicted labels, ``correct`` (N,) booleans.
    Raises ``ValueError`` for no images or arrays of different lengths."""
    conf = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if conf.shape != right.shape or conf.size == 0:
        raise ValueError("reliability needs as many correctness flags as confidences, and at least one image")
    index = np.minimum((conf * bins).astype(int), bins - 1)  # confidence 1.0 joins the top bin
    out: list[ReliabilityBin] = []
    ece = 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        if count:
            mean_conf, accuracy = float(conf[members].mean()), float(right[members].mean())
            ece += count / conf.size * abs(mean_conf - accuracy)
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, count, mean_conf, accuracy))
        else:
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, 0, None, None))
    return ece, out


def _nll(logits: npt.NDArray[np.float64], targets: npt.NDArray[np.int64], temperature: float) -> float:
    scaled = logits / temperature
    top = scaled.max(axis=1)
    log_norm = top + np.log(np.exp(scaled - top[:, None]).sum(axis=1))
    return float((log_norm - scaled[np.arange(len(targets)), targets]).mean())


def fit_temperature(logits: npt.ArrayLike, targets: npt.ArrayLike) -> float:
    """The T minimising the mean negative log-likelihood of ``targets`` (N,) class indices under
    softmax(``logits`` (N, C) / T), searched in [0.05, 20]. Raises ``ValueError`` for no images."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64)
    if z.ndim != 2 or len(z) == 0 or len(z) != len(y):
        raise ValueError("fitting a temperature needs logits (N, C) and N targets, N > 0")
    low, high = _LOG_T_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = _nll(z, y, math.exp(a)), _nll(z, y, math.exp(b))
    for _ in range(_SEARCH_STEPS):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = _nll(z, y, math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = _nll(z, y, math.exp(b))
    return math.exp((low + high) / 2)


def calibrate(logits: npt.ArrayLike, targets: npt.ArrayLike) -> Calibration:
    """Fit a temperature on ``logits`` (N, C) and ``targets`` (N,), and measure the ECE before and after it."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64)
    temperature = fit_temperature(z, y)
    right = z.argmax(axis=1) == y
    ece_before, bins_before = reliability(softmax(z).max(axis=1), right)
    ece_after, bins_after = reliability(softmax(z, temperature).max(axis=1), right)
    return Calibration(temperature, len(y), ece_before, ece_after, bins_before, bins_after)
