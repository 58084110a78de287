"""What a promotion gate decides when too few held-out answers were compared to tell two versions apart.

Below ``MIN_COMPARED`` held-out answers one answer moves a version's figure by more than 10 points, and the
two versions' counts differ by one or two through chance alone (issue 26: "4 of 6 against 5" decided a
promotion). There the comparison decides nothing: the version that learnt from more of your answers is
promoted (a new fit on every answer so far, as the quick head after each round of answers is, is what a
person answering expects to see suggesting), and one that learnt from no more stays out (refitting the same
answers must not churn versions). Either way the reason says so, and how many more answers the comparison needs.
"""

from __future__ import annotations

MIN_COMPARED = 10


def too_few_to_compare(compared: int, candidate_answers: int, active_answers: int) -> tuple[bool, str] | None:
    """None when ``compared`` held-out answers reach ``MIN_COMPARED`` (the comparison decides). Below it,
    (promote, why): promote when the candidate learnt from more answers (``candidate_answers``, the answers it
    was trained on) than the active version (``active_answers``)."""
    if compared >= MIN_COMPARED:
        return None
    need = (
        f"too few held-out answers to tell the versions apart (the comparison decides from {MIN_COMPARED}: answer "
        f"{MIN_COMPARED - compared} more, e.g. the audit share of `mobilabel review next`)"
    )
    if candidate_answers > active_answers:
        return (
            True,
            f"{need}; promoted because it learnt from more of your answers ({candidate_answers} against {active_answers})",
        )
    return False, (
        f"{need}; it learnt from no more of your answers than the active version ({candidate_answers} against {active_answers})"
    )
