"""The review state of an image's label: who stands behind it.

- ``verified``: a person gave the answer (a correction of the image's content, storage.corrections);
- ``accepted``: `mobilabel accept` accepted a label for the content at a stated precision (an
  ``Acceptance``), and no person answered it;
- ``suggested``: only the model's label;
- none (null): a failed row (its image could not be read) that no person answered and no acceptance
  stands for: it has no label, so it suggests nothing.

``review_state`` is an SQL expression over a result row outer-joined to its correction and its
acceptance (``with_review``); ``in_review_states`` is the same decision as a condition needing no join.
This module is the one place that decides the state: every filter and export follows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, literal, null, or_, select
from sqlalchemy.orm import Session, aliased

from ..errors import MobilabelError
from .states import ResultStatus
from .tables import Acceptance, Correction, Result

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


def with_review(statement: Select[Any]) -> Select[Any]:
    """``statement`` (over ``Result``) outer-joined to the correction and the acceptance of each row's content
    (each is unique per content, so no row is repeated): what ``review_state`` and ``reviewed_label`` read."""
    return statement.outerjoin(Correction, Correction.content_hash == Result.content_hash).outerjoin(
        Acceptance, Acceptance.content_hash == Result.content_hash
    )


def review_state() -> Any:
    """The state of a result row joined by ``with_review``: an answer wins over an acceptance; NULL for a failed row
    with neither."""
    return case(
        (Correction.label.is_not(None), literal(VERIFIED)),
        (Acceptance.label.is_not(None), literal(ACCEPTED)),
        (Result.status == ResultStatus.FAILED, null()),
        else_=literal(SUGGESTED),
    )


def reviewed_label() -> Any:
    """The label an export gives: the person's answer when there is one, else the accepted label, else the model's."""
    return func.coalesce(Correction.label, Acceptance.label, Result.label)


@dataclass(frozen=True)
class Review:
    """Who stands behind one content's label: its state (None: a failed row's, nothing), and the answer or acceptance behind it."""

    state: str | None
    verified_label: str | None = None
    accepted_label: str | None = None
    accepted_by_version: str | None = None
    accepted_threshold: float | None = None


_SUGGESTED = Review(SUGGESTED)
_NOTHING = Review(None)
_HASHES_PER_QUERY = 1000  # bound parameters per IN list, well under SQLite's and PostgreSQL's limits


def reviews(session: Session, content_hashes: Iterable[str | None]) -> dict[str, Review]:
    """Content hash -> its ``Review``, for every hash given (``suggested`` where neither an answer nor an acceptance stands)."""
    wanted = sorted({h for h in content_hashes if h is not None})
    found = {h: _SUGGESTED for h in wanted}
    for start in range(0, len(wanted), _HASHES_PER_QUERY):
        some = wanted[start : start + _HASHES_PER_QUERY]
        for h, label, version, threshold in session.execute(
            select(Acceptance.content_hash, Acceptance.label, Acceptance.version_id, Acceptance.threshold).where(
                Acceptance.content_hash.in_(some)
            )
        ):
            found[h] = Review(ACCEPTED, None, label, version, threshold)
        for answered, label in session.execute(
            select(Correction.content_hash, Correction.label).where(Correction.content_hash.in_(some))
        ):
            found[str(answered)] = Review(VERIFIED, label)  # an answer wins over an acceptance
    return found


def row_review(found: Mapping[str, Review], content_hash: str | None, status: str) -> Review:
    """The ``Review`` of one result row, from ``reviews`` of its content: ``suggested`` for an ok row neither answered
    nor accepted (or one without a content hash), no state at all for such a failed row."""
    review = found.get(content_hash or "", _SUGGESTED)
    return _NOTHING if review.state == SUGGESTED and status == ResultStatus.FAILED else review


def in_review_states(states: Sequence[str]) -> ColumnElement[bool]:
    """A condition on ``Result`` (no join needed): its content's review state is one of ``states``."""
    # Aliases: a statement that also joins the correction and acceptance (``with_review``, for its columns)
    # would otherwise have the subqueries correlate to those joins instead of reading their own tables.
    answer, acceptance = aliased(Correction), aliased(Acceptance)
    answered = exists().where(answer.content_hash == Result.content_hash)
    accepted = exists().where(acceptance.content_hash == Result.content_hash)
    suggested = and_(~answered, ~accepted, Result.status != ResultStatus.FAILED)
    conditions = {VERIFIED: answered, ACCEPTED: and_(~answered, accepted), SUGGESTED: suggested}
    chosen = [conditions[s] for s in states if s in conditions]
    return or_(*chosen) if chosen else false()
