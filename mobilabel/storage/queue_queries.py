"""What the review queue may offer, read: the current labelled rows of images nobody answered or holds.

An image is offered when its current row (``storage.current``) is labelled, its content has no
standing answer (a ``skip`` stands until a newer version is active or ``SKIP_DAYS`` have passed),
and no reviewer holds an unexpired lease on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from .classes import SKIP
from .states import ResultStatus
from .tables import Correction, ModelVersion, Result, ReviewLease

_HASHES_PER_QUERY = 1000  # bound parameters per IN list, well under SQLite's and PostgreSQL's limits
SKIP_DAYS = 7  # a `skip` answer keeps its image out of the queue this long, unless a new version is activated sooner


@dataclass(frozen=True)
class Candidate:
    """A labelled image the queue may offer: its current row's id, path, content and ranked labels."""

    result_id: int
    image_path: str
    content_hash: str | None
    label: str | None
    confidence: float | None
    top_k: list[dict[str, Any]] | None


def least_confident(session: Session, now: datetime, limit: int) -> list[Candidate]:
    """Up to ``limit`` offerable images, least confident first (the partial confidence index of current rows)."""
    statement = _offerable(session, now).order_by(Result.confidence, Result.id).limit(limit)
    return [Candidate(*row) for row in session.execute(statement)]


def random_offerable(session: Session, now: datetime, limit: int, leaving_out: set[int]) -> list[Candidate]:
    """Up to ``limit`` offerable images drawn uniformly (the database's random order), none of ``leaving_out`` (result ids)."""
    statement = _offerable(session, now)
    if leaving_out:
        statement = statement.where(Result.id.not_in(sorted(leaving_out)))
    return [Candidate(*row) for row in session.execute(statement.order_by(func.random()).limit(limit))]


def offerable_of(session: Session, now: datetime, content_hashes: Sequence[str]) -> list[Candidate]:
    """The offerable images with one of ``content_hashes``, one per content (its first path), in the order given."""
    found: dict[str, Candidate] = {}
    for start in range(0, len(content_hashes), _HASHES_PER_QUERY):
        chunk = list(content_hashes[start : start + _HASHES_PER_QUERY])
        statement = _offerable(session, now).where(Result.content_hash.in_(chunk)).order_by(Result.image_path, Result.id)
        for row in session.execute(statement):
            candidate = Candidate(*row)
            found.setdefault(str(candidate.content_hash), candidate)
    return [found[h] for h in content_hashes if h in found]


def held_by(session: Session, now: datetime, reviewer: str, limit: int) -> list[tuple[Candidate, str]]:
    """Up to ``limit`` images ``reviewer`` holds an unexpired lease on and nobody has answered, oldest lease
    first, each with the lease's reason: asking again gives a reviewer their own images back, not fewer."""
    columns = (Result.id, Result.image_path, Result.content_hash, Result.label, Result.confidence, Result.top_k)
    statement = (
        select(*columns, ReviewLease.reason)
        .join(ReviewLease, ReviewLease.image_path == Result.image_path)
        .where(Result.is_current, Result.status == ResultStatus.OK, ~_answered(session, now))
        .where(ReviewLease.reviewer == reviewer, ReviewLease.expires_at > now)
        .order_by(ReviewLease.leased_at, Result.id)
        .limit(limit)
    )
    return [(Candidate(*row[:-1]), row[-1]) for row in session.execute(statement)]


def offerable_count(session: Session, now: datetime) -> int:
    """How many images the queue could offer now: what is left to review."""
    return session.scalar(select(func.count()).select_from(_offerable(session, now).subquery())) or 0


def _offerable(session: Session, now: datetime) -> Select[Any]:
    columns = (Result.id, Result.image_path, Result.content_hash, Result.label, Result.confidence, Result.top_k)
    return select(*columns).where(Result.is_current, Result.status == ResultStatus.OK, ~_answered(session, now), ~_held(now))


def _answered(session: Session, now: datetime) -> ColumnElement[bool]:
    activated = session.scalar(select(ModelVersion.activated_at).where(ModelVersion.active))
    skip_until = max(now - timedelta(days=SKIP_DAYS), activated) if activated is not None else now - timedelta(days=SKIP_DAYS)
    return exists().where(
        Correction.content_hash == Result.content_hash, or_(Correction.label != SKIP, Correction.updated_at > skip_until)
    )


def _held(now: datetime) -> ColumnElement[bool]:
    return exists().where(and_(ReviewLease.image_path == Result.image_path, ReviewLease.expires_at > now))
