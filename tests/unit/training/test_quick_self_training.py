"""The quick head's self-training (training.quick.fit_with_unlabelled): fitted on the answers, then again with the
unanswered images it is sure of as answers of their top class; the answers alone when it is sure of none."""

from __future__ import annotations

import numpy as np

from mobilabel.training.quick import PSEUDO_CONFIDENCE, fit_head, fit_with_unlabelled

CLASSES = ["a", "b", "c"]


def clusters(rng: np.random.Generator, count: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """``count`` vectors (count, 16) float32 around three centres ``spread`` wide, and their classes."""
    centres = np.eye(3, 16, dtype=np.float32) * 4
    y = rng.integers(0, 3, count)
    return (centres[y] + rng.normal(0, spread, size=(count, 16))).astype(np.float32), y.astype(np.int64)


def test_the_unanswered_images_it_is_sure_of_are_fitted_as_answers_of_their_top_class() -> None:
    rng = np.random.default_rng(0)
    x, y = clusters(rng, 12, 1.0)
    unlabelled, _ = clusters(rng, 200, 1.0)
    first = fit_head(x, y, CLASSES)
    probabilities = first.probabilities(unlabelled)
    sure = probabilities.max(axis=1) >= PSEUDO_CONFIDENCE
    assert 0 < sure.sum() < len(unlabelled), "some sure, some not: both kinds are in the test"
    expected = fit_head(np.concatenate([x, unlabelled[sure]]), np.concatenate([y, probabilities[sure].argmax(axis=1)]), CLASSES)
    head = fit_with_unlabelled(x, y, CLASSES, unlabelled)
    np.testing.assert_allclose(head.weight, expected.weight, atol=1e-2)
    assert head.predict(unlabelled) == expected.predict(unlabelled)


def test_with_nothing_unanswered_or_nothing_sure_it_is_the_head_of_the_answers_alone() -> None:
    rng = np.random.default_rng(1)
    x, y = clusters(rng, 12, 1.0)
    alone = fit_head(x, y, CLASSES)
    for unlabelled in (np.zeros((0, 16), np.float32), np.full((5, 16), 4 / 3, np.float32)):  # none; all between the three
        assert (alone.probabilities(unlabelled).max(axis=1, initial=0) < PSEUDO_CONFIDENCE).all()
        head = fit_with_unlabelled(x, y, CLASSES, unlabelled)
        np.testing.assert_array_equal(head.weight, alone.weight)
        np.testing.assert_array_equal(head.bias, alone.bias)
