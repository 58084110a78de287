"""What a promotion gate decides when too few held-out answers were compared to tell two versions apart.

Below ``MIN_COMPARED`` held-out answers one answer moves a version's figure by more than 10 points, and the
two versions' counts differ by one or two through chance alone (issue 26: "4 of 6 against 5" decided a
promotion). There the comparison decides nothing: a version that learnt from answers the active one did not
(answers new to it, or changed since it was fitted) is promoted, since a person who has just answered expects
the suggestions to follow; one that learnt nothing new stays out (refitting the same answers must not churn
versions). Either way the reason says so, and how many more answers the comparison needs.
"""

from __future__ import annotations

MIN_COMPARED = 10


def too_few_to_compare(compared: int, new_answers: int) -> tuple[bool, str] | None:
    """None when ``compared`` held-out answers reach ``MIN_COMPARED`` (the comparison decides). Below it,
    (promote, why): promote when the candidate learnt ``new_answers`` > 0 answers the active version did not
    (``accuracy_queries.answers_new_to``)."""
    if compared >= MIN_COMPARED:
        return None
    need = (
        f"too few held-out answers to tell the versions apart (the comparison decides from {MIN_COMPARED}: answer "
        f"{MIN_COMPARED - compared} more, e.g. the audit share of `mobilabel review next`)"
    )
    if new_answers > 0:
        noun = "answer" if new_answers == 1 else "answers"
        return (
            True,
            f"{need}; promoted because it learnt from {new_answers} {noun} the active version did not (new, or changed since)",
        )
    return False, f"{need}; it learnt from no answer the active version did not"
