"""Which suggested labels to accept so that the accepted set's precision is at least P with 95% confidence.

The evidence is the active version's held-out answers: answered images it was not trained on
(``storage.accuracy_queries.held_out``), each with the label and calibrated confidence the version
gave it and whether the answer agrees. The rule accepts a label when its calibrated confidence is at
least a threshold λ; calibration (``mobilabel.calibration``) is what makes one λ mean the same for
every class.

**The bound: Clopper-Pearson, tested in a fixed sequence.** For a threshold λ the held-out answers at
or above it are n draws of which k are right; the one-sided Clopper-Pearson bound (Clopper and
Pearson, 1934) is the exact binomial one, never below its stated confidence however small n is,
which matters because a library's classes start with tens of answers, not thousands. Trying many
thresholds and keeping the lowest that passes would spend the 5% error many times over, so the
thresholds are tested from the highest down and the scan stops at the first that fails: fixed-
sequence testing, as in Learn-then-Test (Angelopoulos et al., 2021), whose error stays at 5% over
the whole scan. A conformal method (conformal risk control) was not chosen: it bounds the expected
precision over draws of the answers, not precision at 95% confidence, which is what is promised.
The guarantee is for the pooled accepted set (a mixture of classes); each class is shown with its
own estimate and bound, and a class whose own held-out precision at λ is below P accepts nothing.

The held-out answers stand for the unreviewed images: audit answers are a uniform draw of them; the
other held-out answers were picked by the review queue for being uncertain, which makes them harder
than the rest, so their figure errs low (the safe side).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import mpmath

CONFIDENCE = 0.95  # the bound holds with this probability over the draw of the held-out answers
# The thresholds tried, highest first: calibrated confidences 0.999, 0.998, ... fixed before any answer is seen.
GRID = tuple(round(1 - j / 1000, 3) for j in range(1, 1000))
_BISECTIONS = 40  # 2**-40: far finer than any bound is printed


@dataclass(frozen=True)
class HeldOut:
    """One held-out answer as the version saw it: its label, its calibrated confidence, whether the answer agreed."""

    label: str
    confidence: float
    right: bool


@dataclass(frozen=True)
class ClassRule:
    """What the rule does for one class: its threshold (None: accepts nothing) and the evidence for it."""

    label: str
    threshold: float | None
    answers: int  # held-out answers with this label at or above the threshold (at the pooled λ if it accepts nothing)
    right: int
    bound: float | None  # the class's own one-sided lower bound on its precision, from those answers
    more_needed: int  # 0 when it accepts; else how many more held-out answers, all right, it needs at least

    @property
    def estimate(self) -> float | None:
        return self.right / self.answers if self.answers else None


@dataclass(frozen=True)
class AcceptanceRule:
    """The threshold λ (None: none passed), the pooled evidence at it, and each class's part."""

    precision: float
    threshold: float | None
    answers: int
    right: int
    bound: float | None
    classes: dict[str, ClassRule]
    more_needed: int  # 0 when λ passed; else at least how many more held-out answers, all right, the pooled test needs

    def threshold_of(self, label: str) -> float | None:
        rule = self.classes.get(label)
        return rule.threshold if rule is not None else None


def lower_bound(right: int, answers: int, confidence: float = CONFIDENCE) -> float:
    """The one-sided Clopper-Pearson lower bound on a proportion: ``right`` of ``answers``, at ``confidence``:
    the ``1 - confidence`` quantile of Beta(right, answers - right + 1) (0 when ``right`` is 0).
    Raises ``ValueError`` unless 0 <= right <= answers and answers > 0."""
    if not 0 <= right <= answers or answers == 0:
        raise ValueError(f"need 0 <= right ({right}) <= answers ({answers}) and answers > 0")
    if right == 0:
        return 0.0
    alpha = 1 - confidence
    a, b = right, answers - right + 1
    low, high = 0.0, 1.0
    for _ in range(_BISECTIONS):  # the regularised incomplete beta I_x(a, b) rises with x: bisect for alpha
        middle = (low + high) / 2
        if mpmath.betainc(a, b, 0, middle, regularized=True) < alpha:
            low = middle
        else:
            high = middle
    return low


def passes(right: int, answers: int, precision: float, confidence: float = CONFIDENCE) -> bool:
    """Whether the lower bound of ``right`` of ``answers`` is at least ``precision``: P(Bin(answers, precision) >= right)
    <= 1 - confidence, the binomial tail as I_precision(right, answers - right + 1)."""
    if right == 0 or right < precision * answers:
        return False  # the bound lies below the share right: no need to compute it
    tail = mpmath.betainc(right, answers - right + 1, 0, precision, regularized=True)
    return bool(tail <= 1 - confidence)


def fewest_answers(precision: float, confidence: float = CONFIDENCE) -> int:
    """The fewest answers, all right, whose lower bound reaches ``precision``: precision**n <= 1 - confidence."""
    return math.ceil(math.log(1 - confidence) / math.log(precision))


def more_needed(right: int, answers: int, precision: float, confidence: float = CONFIDENCE) -> int:
    """How many more answers, all right, ``right`` of ``answers`` needs before its lower bound reaches ``precision``."""
    if passes(right, answers, precision, confidence):
        return 0
    # One more right answer always raises the bound: double until it passes, then bisect.
    low, high = 0, max(1, fewest_answers(precision, confidence) - answers)
    while not passes(right + high, answers + high, precision, confidence):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if passes(right + middle, answers + middle, precision, confidence):
            high = middle
        else:
            low = middle
    return high


def choose(
    held_out: Sequence[HeldOut], classes: Iterable[str], precision: float, confidence: float = CONFIDENCE
) -> AcceptanceRule:
    """The acceptance rule for ``precision`` (0 < P < 1) from ``held_out`` answers, for the labels in ``classes``.

    λ is the lowest threshold of ``GRID`` reached by testing, from the highest down, whether the
    held-out answers at or above it have a lower bound at least ``precision``; the scan starts at the
    first threshold with ``fewest_answers`` answers (fewer could never pass), tests only thresholds
    that take in more answers (below the lowest answer there is no evidence), and stops at the first
    failure. Raises ``ValueError`` for a precision outside (0, 1).
    """
    if not 0 < precision < 1:
        raise ValueError(f"precision must be between 0 and 1, got {precision}")
    ranked = sorted(held_out, key=lambda h: -h.confidence)
    fewest = fewest_answers(precision, confidence)
    chosen: float | None = None
    position = 0
    right = 0
    tested_any = False
    best = (0, 0)  # (right, answers) at the last threshold that passed, else at the first one tested
    for threshold in GRID:
        before = position
        while position < len(ranked) and ranked[position].confidence >= threshold:
            right += ranked[position].right
            position += 1
        if position < fewest:
            best = (right, position)
            continue
        if position == before and tested_any:
            continue  # no answer between this threshold and the last: no evidence for going lower
        if not passes(right, position, precision, confidence):
            if not tested_any:
                best = (right, position)
            break
        tested_any = True
        chosen, best = threshold, (right, position)
    pooled_right, pooled_answers = best
    rules = {label: _class_rule(label, ranked, chosen, precision, confidence) for label in sorted(set(classes))}
    return AcceptanceRule(
        precision=precision,
        threshold=chosen,
        answers=pooled_answers,
        right=pooled_right,
        bound=lower_bound(pooled_right, pooled_answers, confidence) if pooled_answers else None,
        classes=rules,
        more_needed=0 if chosen is not None else more_needed(pooled_right, pooled_answers, precision, confidence),
    )


def _class_rule(label: str, ranked: Sequence[HeldOut], threshold: float | None, precision: float, confidence: float) -> ClassRule:
    at = [h for h in ranked if h.label == label and (threshold is None or h.confidence >= threshold)]
    right = sum(h.right for h in at)
    bound = lower_bound(right, len(at), confidence) if at else None
    if threshold is not None and at and right / len(at) >= precision:
        return ClassRule(label, threshold, len(at), right, bound, 0)
    # No pooled threshold, no evidence for the class, or evidence against it: nothing accepted.
    return ClassRule(label, None, len(at), right, bound, more_needed(right, len(at), precision, confidence))
