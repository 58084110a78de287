"""bench/recipes.py's protocol: fixed stratified folds, paired differences, and the defaults among the candidates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.recipes import (
    BASELINE,
    CANDIDATES,
    FOLDS,
    Outcome,
    markdown_table,
    paired_difference,
    role_of,
    stratified_folds,
    summarise,
)
from mobilabel.training.data import LabelledImage


def test_folds_are_disjoint_cover_every_photo_and_keep_each_class_share() -> None:
    photos = [LabelledImage(Path(f"c{label}/{i}.jpg"), label) for label, count in enumerate([40, 23, 7]) for i in range(count)]
    parts = stratified_folds(photos, FOLDS, seed=1)
    assert sorted((p for part in parts for p in part), key=lambda p: str(p.path)) == sorted(photos, key=lambda p: str(p.path))
    for label in range(3):
        shares = [Counter(p.label for p in part)[label] for part in parts]
        assert max(shares) - min(shares) <= 1, (label, shares)  # dealt round: no fold short of a class
    assert stratified_folds(photos, FOLDS, seed=1) == parts  # fixed: every candidate sees the same folds
    assert stratified_folds(photos, FOLDS, seed=2) != parts


def test_the_paired_difference_counts_only_runs_both_candidates_have() -> None:
    base = Outcome(accuracies=[0.80, 0.90, 0.70], runs=[(0, 0), (1, 0), (2, 0)])
    other = Outcome(accuracies=[0.82, 0.94, 0.99], runs=[(0, 0), (1, 0), (3, 0)])  # fold 3 has no baseline run
    paired = paired_difference(other, base)
    assert paired is not None
    mean, se, runs = paired
    assert runs == 2
    assert mean == pytest.approx(0.03)
    assert se == pytest.approx(0.01)  # std of (0.02, 0.04) / sqrt(2)
    assert paired_difference(Outcome(accuracies=[0.5], runs=[(0, 0)]), base) is None


def test_the_defaults_and_the_preset_are_measured_candidates() -> None:
    roles = {name: role_of(name) for name in CANDIDATES}
    assert list(roles.values()).count("default") == 1, roles
    assert list(roles.values()).count("preset finetune") == 1, roles


def test_the_table_marks_roles_and_pairs_with_the_baseline() -> None:
    default = next(name for name in CANDIDATES if role_of(name) == "default")
    assert default != BASELINE, "the comparison moved the default off the old head-only recipe"
    outcomes = {
        BASELINE: Outcome(accuracies=[0.9, 0.8], seconds=[20.0, 22.0], epochs=[8, 7], runs=[(0, 0), (1, 0)]),
        default: Outcome(accuracies=[0.92, 0.83], seconds=[30.0, 34.0], epochs=[6, 8], runs=[(0, 0), (1, 0)]),
    }
    table = markdown_table(summarise(outcomes)).splitlines()
    assert table[0].startswith("| candidate |")
    row = next(line for line in table if line.startswith(f"| **{default}** |"))
    assert "default" in row and "32" in row  # role, median seconds
    assert "| +0.025 ± 0.005 | - |" in row  # paired with frozen: (0.02, 0.03); with itself: nothing
    baseline_row = next(line for line in table if line.startswith(f"| {BASELINE} |"))
    assert "| - | -0.025 ± 0.005 |" in baseline_row  # no pair with itself; with the default: (-0.02, -0.03)
