"""The review state of an image's label: who stands behind it.

- ``verified``: a person gave the answer (a correction of the image's content, storage.corrections);
- ``accepted``: a rule accepted the model's label at a stated precision (issue 28: not stored yet,
  so nothing is accepted today; its condition joins ``review_state`` here, the one place that
  decides the state, and every filter and export follows);
- ``suggested``: only the model's label.

``review_state`` is an SQL expression over a result row outer-joined to its correction.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from sqlalchemy import case, func, literal

from ..errors import MobilabelError
from .tables import Correction, Result

ReviewState = Literal["verified", "accepted", "suggested"]
VERIFIED: ReviewState = "verified"
ACCEPTED: ReviewState = "accepted"
SUGGESTED: ReviewState = "suggested"
REVIEW_STATES: tuple[ReviewState, ...] = get_args(ReviewState)
# What an export takes unless told otherwise: the labels someone or something stands behind.
DEFAULT_EXPORTED: tuple[ReviewState, ...] = (VERIFIED, ACCEPTED)


class ReviewStateError(MobilabelError, ValueError):
    """A review state that is not one of ``REVIEW_STATES``."""


def parse_review_states(text: str) -> tuple[str, ...]:
    """``verified,accepted`` as a tuple in the order of ``REVIEW_STATES``; raises ``ReviewStateError`` for another name or none."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(REVIEW_STATES))
    if unknown or not names:
        raise ReviewStateError(
            f"unknown review state {', '.join(map(repr, unknown)) or repr(text)}; choose from {', '.join(REVIEW_STATES)}"
        )
    return tuple(s for s in REVIEW_STATES if s in names)


def review_state() -> Any:
    """The state of a result row joined (outer) to ``Correction`` on its content hash."""
    return case((Correction.label.is_not(None), literal(VERIFIED)), else_=literal(SUGGESTED))


def reviewed_label() -> Any:
    """The label an export gives: the person's answer when there is one, else the model's."""
    return func.coalesce(Correction.label, Result.label)
