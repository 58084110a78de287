"""The quick head's held-out evidence (training.quick.calibrated_held_out): out-of-fold predictions of the answers
it fitted, calibrated on them, lower an over-confident head's calibration error on answers it never saw, and the
rule `accept` chooses from them keeps its precision there; so too for the self-trained head the product fits
(``fit_with_unlabelled``), whose out-of-fold heads are self-trained as well."""

from __future__ import annotations

import numpy as np
import pytest

from mobilabel.acceptance import HeldOut, choose
from mobilabel.calibration import reliability
from mobilabel.training.quick import calibrated_held_out, fit_head, fit_with_unlabelled

CLASSES = ["a", "b", "c", "d"]


def draw(rng: np.random.Generator, count: int, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``count`` vectors (count, D) float32 around the classes' ``centres``, overlapping, and their classes."""
    y = rng.integers(0, len(CLASSES), count)
    x = centres[y] + rng.normal(0, 1.0, size=(count, centres.shape[1]))
    return x.astype(np.float32), y.astype(np.int64)


@pytest.mark.parametrize("self_trained", [False, True], ids=["answers only", "self-trained"])
def test_out_of_fold_calibration_tames_an_over_confident_head_and_accept_holds_its_precision_on_unseen_answers(
    self_trained: bool,
) -> None:
    misses = accepting = 0
    before: list[float] = []  # the head's expected calibration error on the unseen answers, per seed
    after: list[float] = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        centres = rng.normal(0, 0.35, size=(len(CLASSES), 32))  # 32 dimensions, 200 answers: the head is too sure
        x, y = draw(rng, 200, centres)
        audit_x, audit_y = draw(rng, 20, centres)
        unlabelled = draw(rng, 500, centres)[0] if self_trained else None
        head = fit_with_unlabelled(x, y, CLASSES, unlabelled) if unlabelled is not None else fit_head(x, y, CLASSES)
        hashes = [str(n) for n in range(len(y))]
        audit = ([f"audit-{n}" for n in range(20)], audit_x, audit_y)
        held = calibrated_held_out(head, (hashes, x, y), audit, unlabelled)
        assert held.calibration is not None and held.calibration.images == 220
        assert held.calibration.temperature > 1, "a head this sure of answers it fitted is too sure"
        assert len(held.out_of_fold) == 200 and set(held.labels) == {*hashes, *(f"audit-{n}" for n in range(20))}

        test_x, test_y = draw(rng, 3000, centres)  # nothing was fitted on these
        raw, calibrated = head.probabilities(test_x), held.calibrated(head).probabilities(test_x)
        assert (raw.argmax(1) == calibrated.argmax(1)).all(), "calibration moves confidences, never labels"
        right = raw.argmax(1) == test_y
        before.append(reliability(raw.max(1), right)[0])
        after.append(reliability(calibrated.max(1), right)[0])
        assert after[-1] < before[-1]

        truth = dict(zip(hashes, y.tolist(), strict=True))
        evidence = [HeldOut(label, p, CLASSES.index(label) == truth[h]) for h, label, p in held.out_of_fold]
        rule = choose(evidence, CLASSES, 0.7)
        taken = [
            (int(p.argmax()), int(t))
            for p, t in zip(calibrated, test_y, strict=True)
            if (threshold := rule.threshold_of(CLASSES[int(p.argmax())])) is not None and p.max() >= threshold
        ]
        if taken:
            accepting += 1
            misses += sum(p == t for p, t in taken) / len(taken) < 0.7
    assert sum(after) < sum(before) / 2
    assert accepting >= 4, "200 held-out answers are enough to accept something at 0.7"
    assert misses <= 1, "a 95% bound: one miss in 6 seeds is possible, two are not expected"
