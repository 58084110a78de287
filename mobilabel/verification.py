"""The check sample: certify the precision of exactly the set `accept` would take, from a uniform draw of that set.

When the held-out answers cannot certify a precision P (``acceptance.choose``), the answers of the
labelling loop are the wrong evidence: the queue picked them for being uncertain, so they say little
about the sure suggestions `accept` takes. Instead `accept` fixes a **candidate threshold** λ from the
version's own calibrated confidences (``candidate``; no answer is looked at), and the review queue asks
for **check** answers: the images of the candidate set in *check order*, a fixed random order (the
content hash, a cryptographic hash of the bytes: independent of what the model says of the image). The
first n of the set in that order are a uniform draw of n of it without replacement, whatever n is.

**The bound: the exact finite-population one on the set taken.** The candidate set has N images, E of
them labelled wrong; n checked show e wrong. The number wrong in a uniform draw is hypergeometric, so
the largest E for which seeing e or fewer still has a chance above α is a one-sided upper bound on E at
confidence 1 - α (the finite-population counterpart of Clopper-Pearson, exact like it). The checked
images are answered, so `accept` takes the N - n others, of which at most E_up - e are wrong: the bound
on their precision is 1 - (E_up - e) / (N - n). A Clopper-Pearson bound on the n checks speaks of all N,
the checked ones included; for a library of thousands the two agree, for a few hundred the checked share
is large and only this one is true of the set accepted.

**Looking again after more answers.** `accept` runs again as check answers come in, and a reviewer may
answer more than it asked for. There is one level per number of wrong answers j = 0, 1, 2, ..., tested at
α_j (4/5 of α on level 0, a set worth certifying mostly shows no error; the rest halving from level to
level): level j bounds E on the longest answered prefix of the check order holding at most j wrong,
however long it is. That spends no more than α_j over every look: the number wrong among the first n only
grows with n, so for the true E the prefixes whose bound would be false are all those from some n* on, and
"at most j wrong among the first n" for any n >= n* implies it for n* itself, an event of probability at
most α_j. So more agreeing answers only tighten a bound; every level's holds at once with probability at
least 1 - Σα_j = 95%, and the smallest is used. n_j (``level_size``), the fewest answers that could certify P
with j wrong, is what the review queue is asked for next.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .acceptance import CONFIDENCE, GRID

FIRST_LEVEL_SHARE = 0.8  # of α, spent on level 0 (no wrong check answer); level j >= 1 gets (1 - share) * α / 2**j
LEVELS = 12  # levels 0..11: the α left beyond them (under 0.001% of it) is never spent
YIELD_SIZES = 24  # candidate set sizes weighed at most: each costs a level_size per level
SURE_TO_PASS = 0.999  # a set this likely to be certified by some level: the later levels are not weighed


def level_alpha(level: int, confidence: float = CONFIDENCE) -> float:
    """The error probability spent on ``level`` (j wrong check answers allowed); over all levels they sum to below 1 - confidence."""
    alpha = 1 - confidence
    return alpha * FIRST_LEVEL_SHARE if level == 0 else alpha * (1 - FIRST_LEVEL_SHARE) / 2**level


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def hypergeometric_cdf(seen: int, size: int, wrong: int, drawn: int) -> float:
    """P(at most ``seen`` wrong among ``drawn`` drawn without replacement from ``size`` of which ``wrong`` are wrong)."""
    low, high = max(0, drawn - (size - wrong)), min(seen, wrong, drawn)
    total = _log_comb(size, drawn)
    return min(1.0, sum(math.exp(_log_comb(wrong, x) + _log_comb(size - wrong, drawn - x) - total) for x in range(low, high + 1)))


def errors_bound(size: int, drawn: int, seen: int, alpha: float) -> int:
    """The one-sided upper bound, at confidence 1 - ``alpha``, on how many of ``size`` are wrong when ``seen`` of a
    uniform draw of ``drawn`` of them are: the largest E whose chance of showing ``seen`` or fewer exceeds ``alpha``.
    Raises ``ValueError`` unless 0 <= seen <= drawn <= size."""
    if not 0 <= seen <= drawn <= size:
        raise ValueError(f"need 0 <= seen ({seen}) <= drawn ({drawn}) <= size ({size})")
    low, high = seen, size - drawn + seen  # the tail at E = seen is 1; E cannot exceed the undrawn plus those seen
    if hypergeometric_cdf(seen, size, high, drawn) > alpha:
        return high
    while high - low > 1:  # the tail falls as E grows: bisect for the last E above alpha
        middle = (low + high) // 2
        if hypergeometric_cdf(seen, size, middle, drawn) > alpha:
            low = middle
        else:
            high = middle
    return low


@functools.cache  # a pure function of its arguments, asked for the same sets by `candidate` and every `certify`
def level_size(size: int, precision: float, level: int, confidence: float = CONFIDENCE) -> int | None:
    """n_j: the fewest check answers of a set of ``size`` that certify ``precision`` for the rest with ``level`` of them
    wrong; None when no number short of the whole set does."""
    alpha = level_alpha(level, confidence)
    for drawn in range(level + 1, size):
        if _bound_reaches(size, drawn, level, alpha, precision, size - drawn, level):
            return drawn
    return None


def _bound_reaches(size: int, drawn: int, seen: int, alpha: float, precision: float, rest: int, known: int) -> bool:
    """Whether errors_bound(size, drawn, seen, alpha), less the ``known`` wrong answers, leaves the ``rest`` images
    not answered a precision of at least ``precision``: exactly when the most wrong labels P allows, plus one, is
    ruled out at ``alpha`` (the tail falls as the number wrong grows)."""
    if rest <= 0:
        return False
    allowed = known + math.floor((1 - precision) * rest)  # the largest errors_bound that still gives P ...
    while 1 - (allowed + 1 - known) / rest >= precision:  # ... as certify's own arithmetic has it, ulp for ulp
        allowed += 1
    while allowed >= known and 1 - (allowed - known) / rest < precision:
        allowed -= 1
    if allowed < max(known, seen):
        return False
    if allowed + 1 > size - drawn + seen:  # errors_bound never exceeds the undrawn plus those seen
        return True
    return hypergeometric_cdf(seen, size, allowed + 1, drawn) <= alpha


LARGE_SET = 10_000  # a set this large needs, near enough, the fewest check answers any set does


def least_checks(precision: float, confidence: float = CONFIDENCE) -> int:
    """About the fewest check answers, all agreeing, that certify ``precision`` for any set: n_0 of a set of ``LARGE_SET``
    (smaller sets need more: 0.95 about 63, 0.98 about 161, 0.99 about 325). A set needs well over this many images
    for some to be left to accept. Raises ``ValueError`` for a precision no draw short of the whole set certifies."""
    drawn = level_size(LARGE_SET, precision, 0, confidence)
    if drawn is None:
        raise ValueError(f"no check sample of a set of {LARGE_SET} certifies precision {precision}")
    return drawn


@dataclass(frozen=True)
class Check:
    """What the check answers of one candidate set certify (``certify``)."""

    precision: float
    threshold: float  # the candidate threshold λ: calibrated confidence at or above it
    size: int  # N: the set's images, the checked ones included
    checked: int  # of them answered as checks
    wrong: int  # of those, answered otherwise than the version labels them
    bound: float | None  # the lower bound on the precision of the rest (None: no level reached yet)
    wanted: int  # how many of the set, in check order, the next level needs answered (0: none can certify it)
    more_needed: int | None  # 0 when certified; else more check answers (all right) needed; None: none would do

    @property
    def certified(self) -> bool:
        return self.bound is not None and self.bound >= self.precision and self.size > self.checked

    @property
    def taken(self) -> int:
        """The images accepted when certified: the set less its checked images."""
        return self.size - self.checked


def certify(outcomes: Sequence[bool | None], precision: float, threshold: float, confidence: float = CONFIDENCE) -> Check:
    """The certificate for the candidate set above ``threshold`` from ``outcomes``: one per image of the set in check
    order, True for a check answer agreeing with the version's label, False for one that does not, None unanswered.

    Level j's bound is taken on the longest answered prefix of the check order with at most j wrong, however long:
    more agreeing answers only tighten it (see the module docstring for why that spends no more than α_j)."""
    size = len(outcomes)
    checked = sum(o is not None for o in outcomes)
    wrong = sum(o is False for o in outcomes)
    prefix = next((i for i, o in enumerate(outcomes) if o is None), size)  # the first `prefix` all answered
    misses = [i for i, o in enumerate(outcomes[:prefix]) if o is False]  # where the prefix's wrong answers are
    lowest: int | None = None  # the smallest upper bound on the set's wrong labels over the levels
    for level in range(min(len(misses) + 1, LEVELS)):
        drawn = misses[level] if level < len(misses) else prefix  # the first `drawn` hold at most `level` wrong
        if drawn > level:
            upper = errors_bound(size, drawn, level, level_alpha(level, confidence))
            lowest = upper if lowest is None else min(lowest, upper)
    bound = 1 - max(0, lowest - wrong) / (size - checked) if lowest is not None and size > checked else None
    found = Check(precision, threshold, size, checked, wrong, bound, 0, None)
    if found.certified:
        return Check(precision, threshold, size, checked, wrong, bound, 0, 0)
    wanted = _next_look(outcomes, precision, prefix, len(misses), checked, wrong, confidence)
    more = sum(o is None for o in outcomes[:wanted]) if wanted else None
    return Check(precision, threshold, size, checked, wrong, bound, wanted or 0, more)


def _next_look(
    outcomes: Sequence[bool | None],
    precision: float,
    prefix: int,
    missed: int,
    checked: int,
    wrong: int,
    confidence: float,
) -> int | None:
    """The shortest prefix of the check order that would certify ``precision`` if every answer still missing in it
    agreed: only the level of the prefix's ``missed`` wrong answers grows with it (the other levels' prefixes end at
    a wrong answer, and a smaller rest only loosens them). None when no prefix short of the whole set would, or the
    prefix holds more wrong answers than the levels allow."""
    if missed >= LEVELS:
        return None
    size = len(outcomes)
    if checked == prefix:  # nothing answered beyond the prefix: the scan below is the level's own (cached) search
        look = level_size(size, precision, missed, confidence)
        if look is None or look > prefix:
            return look
    alpha = level_alpha(missed, confidence)
    unanswered = 0
    for drawn in range(prefix + 1, size):
        unanswered += outcomes[drawn - 1] is None
        rest = size - checked - unanswered
        if rest <= 0:
            return None
        if _bound_reaches(size, drawn, missed, alpha, precision, rest, wrong):  # drawn > prefix >= missed
            return drawn
    return None


def _binomial_cdf(wrong: int, drawn: int, rate: float) -> float:
    """P(at most ``wrong`` wrong among ``drawn`` images each wrong with probability ``rate``)."""
    return min(1.0, sum(math.comb(drawn, k) * rate**k * (1 - rate) ** (drawn - k) for k in range(wrong + 1)))


def expected_taken(size: int, missing: float, precision: float) -> float:
    """The number of images a candidate set of ``size`` is expected to leave accepted at ``precision``, if its labels
    are wrong at the rate its calibrated confidences promise (``missing``: the sum of 1 - confidence over the set):
    over the levels, the chance that level j passes (at most j wrong among its n_j, binomial)
    and no earlier one did, times the N - n_j images it leaves."""
    rate = missing / size
    passed = taken = 0.0
    for level in range(LEVELS):
        drawn = level_size(size, precision, level)
        if drawn is None:
            break  # the later levels need more still
        chance = _binomial_cdf(level, drawn, rate)
        if chance > passed:
            taken += (chance - passed) * (size - drawn)
            passed = chance
        if passed > SURE_TO_PASS:
            break  # the later levels could add next to nothing
    return taken


def candidate(confidences: Sequence[float], precision: float) -> float | None:
    """λ: the threshold of ``GRID`` whose candidate set is expected to leave the most images accepted
    (``expected_taken``) among the sure sets (those whose mean calibrated confidence is at least P), reading only
    the version's calibrated confidences, never an answer, so the check answers stay a uniform draw of its set.
    A larger set leaves more images once certified but, with more wrong labels in it,
    is less likely to be certified: this weighs the two. The set sizes tried are spaced geometrically (at most
    ``YIELD_SIZES`` of them, the largest always) to bound the work on a large library. When no sure set is expected to
    leave any, the lowest sure threshold, so that `accept` can say how far that set is from a certificate; None when
    not even the surest suggestions are sure."""
    ranked = sorted(confidences, reverse=True)
    sets: list[tuple[float, int, float]] = []  # (threshold, size, sum of 1 - confidence) wherever the set grows
    position, missing = 0, 0.0
    for threshold in GRID:
        before = position
        while position < len(ranked) and ranked[position] >= threshold:
            missing += 1 - ranked[position]
            position += 1
        if position > before:
            sets.append((threshold, position, missing))
    sets = [s for s in sets if s[2] <= (1 - precision) * s[1]]  # sure: their own confidences promise P, at least
    if len(sets) > YIELD_SIZES:
        step = (sets[-1][1] / sets[0][1]) ** (1 / (YIELD_SIZES - 1))
        spaced, last = [], 0.0
        for s in sets:
            if s[1] >= last * step or s is sets[-1]:
                spaced.append(s)
                last = s[1]
        sets = spaced
    best, chosen = 0.0, None
    for threshold, size, promised in sets:
        taken = expected_taken(size, promised, precision)
        if taken > best:
            best, chosen = taken, threshold
    return chosen if chosen is not None else min((s[0] for s in sets), default=None)
