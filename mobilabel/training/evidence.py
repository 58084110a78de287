"""How much held-out evidence a promotion gate's comparison needs before its figures mean something."""

from __future__ import annotations

# Below 10 held-out answers one answer moves a version's figure by more than 10 points, and the two versions'
# counts differ by one or two through chance alone (issue 26: "4 of 6 against 5" decided a promotion).
MIN_COMPARED = 10


def too_few_note(compared: int) -> str:
    """What a gate's reason adds when it compared the versions on fewer than ``MIN_COMPARED`` held-out answers
    (empty otherwise): that the comparison is too small to tell them apart, and how many more answers it needs."""
    if compared >= MIN_COMPARED:
        return ""
    return (
        f" (only {compared} held-out answers: too few to tell the versions apart; answer {MIN_COMPARED - compared} more, "
        "e.g. the audit share of `mobilabel review next`, before the comparison means much)"
    )
