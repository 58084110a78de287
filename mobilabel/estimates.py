"""The accuracy on the unreviewed rest, estimated from audit answers (a uniform draw the queue held out).

Audit answers are drawn uniformly from the images not yet answered (``review_queue``) and never
trained on (``training.data.answers_split`` holds them out), so the share a version labels right
is an unbiased estimate of its accuracy on the rest. The interval is Wilson's score interval
(Wilson, 1927): unlike the normal approximation it stays inside [0, 1] and is sound for the
handful of answers a library starts with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95% interval


@dataclass(frozen=True)
class Estimate:
    """``right`` of ``answers`` audit answers labelled right: the point estimate and its 95% interval."""

    right: int
    answers: int
    accuracy: float | None  # None: no audit answer yet
    low: float | None
    high: float | None

    def text(self) -> str:
        """As tables show it: "0.82 (0.70-0.90) n=17" (n: audit answers), or "no audit answers labelled by it"
        (none given yet, or, for a version that never labelled the library, none it labelled)."""
        if self.accuracy is None or self.low is None or self.high is None:
            return "no audit answers labelled by it"
        return f"{self.accuracy:.2f} ({self.low:.2f}-{self.high:.2f}) n={self.answers}"


def estimate(right: int, answers: int, z: float = Z_95) -> Estimate:
    """Wilson's score interval for ``right`` successes in ``answers`` trials. Raises ``ValueError`` if
    ``right`` is not between 0 and ``answers``."""
    if not 0 <= right <= answers:
        raise ValueError(f"right ({right}) must be between 0 and answers ({answers})")
    if answers == 0:
        return Estimate(0, 0, None, None, None)
    p = right / answers
    denominator = 1 + z * z / answers
    centre = (p + z * z / (2 * answers)) / denominator
    half = z * math.sqrt(p * (1 - p) / answers + z * z / (4 * answers * answers)) / denominator
    return Estimate(right, answers, p, max(0.0, centre - half), min(1.0, centre + half))
