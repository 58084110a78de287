"""Out-of-fold predictions (training.out_of_fold): each fold labelled by a head fitted on the others only."""

from __future__ import annotations

from collections import Counter

import torch

from mobilabel.training.out_of_fold import K_FOLDS, fold_of, out_of_fold


def labels(features: torch.Tensor, targets: list[int], folds: list[int], classes: int) -> list[int | None]:
    """Each row's out-of-fold class (its scores' argmax), None where no fold could be fitted without it."""
    scores, predicted = out_of_fold(features, targets, folds, classes)
    return [int(row.argmax()) if has else None for row, has in zip(scores, predicted.tolist(), strict=True)]


def test_folds_are_stable_and_spread_over_k() -> None:
    keys = [f"{n:032x}" for n in range(500)]
    assert [fold_of(k) for k in keys] == [fold_of(k) for k in keys]
    counts = Counter(fold_of(k) for k in keys)
    assert set(counts) == set(range(K_FOLDS)) and min(counts.values()) > 500 / K_FOLDS / 2


def test_each_row_is_labelled_by_a_head_that_never_saw_it() -> None:
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 16, generator=generator) * 4
    targets = [n % 3 for n in range(60)]
    features = centres[targets] + torch.randn(60, 16, generator=generator)
    folds = [n % K_FOLDS for n in range(60)]
    predicted = labels(features, targets, folds, 3)
    assert predicted == targets, "well-separated classes: every held-out row right"

    # A row whose label its own fold alone carries cannot be learnt from the others: it is never guessed.
    lone = [*targets[:59], 3]
    features[59] = torch.full((16,), 50.0)
    guessed = labels(features, lone, folds, 4)
    assert guessed[59] != 3 and guessed[:59] == targets[:59]


def test_a_fold_whose_complement_holds_one_class_gets_no_label() -> None:
    features = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))
    assert labels(features, [0, 0, 1, 1], [0, 0, 1, 1], 2) == [None] * 4
