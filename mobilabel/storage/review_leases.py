"""Review leases, written: an image handed to one reviewer until its lease expires.

Lease-takers run one at a time (``lock_leases``), and a lease row is taken over only once it has
expired, so two reviewers never hold the same image at once, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .tables import ReviewLease

_LEASES_KEY = 0x6D6C7265766965  # "mlrevie": the PostgreSQL advisory lock of lease-takers


@dataclass(frozen=True)
class LeaseRequest:
    result_id: int
    image_path: str
    content_hash: str | None
    reason: str  # uncertain | diverse | audit | check


def lock_leases(session: Session) -> None:
    """Before choosing images to lease: wait for any other lease-taker, and hold new ones until this
    transaction ends, so what was read as free is still free when written.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a write statement first, which takes the
    database's one write lock before anything is read (a read-then-write transaction could otherwise
    fail on a snapshot another writer made stale).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LEASES_KEY})
    else:
        session.execute(text("UPDATE review_leases SET id = id WHERE id < 0"))


def take_leases(
    session: Session, requests: Sequence[LeaseRequest], reviewer: str, now: datetime, expires_at: datetime
) -> set[int]:
    """Lease ``requests`` to ``reviewer`` until ``expires_at``: a new row per image, an expired lease taken
    over, or the reviewer's own lease renewed. Returns the result ids leased (an image someone else holds is not)."""
    if not requests:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(ReviewLease) if dialect == "postgresql" else sqlite.insert(ReviewLease)
    changed = ("result_id", "content_hash", "reviewer", "reason", "leased_at", "expires_at")
    statement = insert.on_conflict_do_update(
        index_elements=["image_path"],
        set_={column: insert.excluded[column] for column in changed},
        where=or_(ReviewLease.expires_at <= now, ReviewLease.reviewer == reviewer),
    )
    session.execute(
        statement,
        [
            {"image_path": r.image_path, "result_id": r.result_id, "content_hash": r.content_hash, "reviewer": reviewer,
             "reason": r.reason, "leased_at": now, "expires_at": expires_at}
            for r in requests
        ],
    )  # fmt: skip
    paths = [r.image_path for r in requests]
    held = set(
        session.scalars(
            select(ReviewLease.result_id).where(
                ReviewLease.image_path.in_(paths), ReviewLease.reviewer == reviewer, ReviewLease.leased_at == now
            )
        )
    )
    return held
