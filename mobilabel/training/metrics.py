"""Validation metrics, as plain lists and dicts so they go into JSON and checkpoints as they are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def confusion_matrix(targets: Sequence[int], predictions: Sequence[int], num_classes: int) -> list[list[int]]:
    """Counts: row = true class, column = predicted class."""
    matrix = [[0] * num_classes for _ in range(num_classes)]
    for target, predicted in zip(targets, predictions, strict=True):
        matrix[target][predicted] += 1
    return matrix


def accuracy(confusion: Sequence[Sequence[int]]) -> float:
    total = sum(sum(row) for row in confusion)
    return sum(confusion[i][i] for i in range(len(confusion))) / total if total else 0.0


def per_class(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Precision, recall and support of each class (0.0 where a class was never predicted or never seen)."""
    metrics = {}
    for i, name in enumerate(classes):
        predicted = sum(row[i] for row in confusion)
        actual = sum(confusion[i])
        metrics[name] = {
            "precision": confusion[i][i] / predicted if predicted else 0.0,
            "recall": confusion[i][i] / actual if actual else 0.0,
            "support": actual,
        }
    return metrics
