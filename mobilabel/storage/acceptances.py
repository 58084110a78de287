"""Accepted labels, written: `mobilabel accept` replaces the set in one transaction (``acceptance_queries`` reads)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete
from sqlalchemy.orm import Session

from .acceptance_queries import Scored
from .tables import Acceptance, CheckRequest, utcnow
from .upsert import upsert

_HASHES_PER_QUERY = 1000


def replace_acceptances(
    session: Session, accepted: Sequence[Scored], removed: Collection[str], version_id: str, threshold: float, precision: float
) -> None:
    """Store ``accepted`` as accepted by ``version_id`` at ``threshold`` for ``precision`` (a label accepted before
    takes the new version, threshold and label), and delete the acceptances of the ``removed`` content hashes."""
    now = utcnow()
    rows = [
        {
            "content_hash": s.content_hash,
            "image_path": s.image_path,
            "label": s.label,
            "version_id": version_id,
            "threshold": threshold,
            "confidence": s.confidence,
            "precision": precision,
            "accepted_at": now,
        }
        for s in accepted
    ]
    upsert(
        session,
        Acceptance,
        rows,
        keys=("content_hash",),
        update=("image_path", "label", "version_id", "threshold", "confidence", "precision"),
    )
    gone = sorted(removed)
    for start in range(0, len(gone), _HASHES_PER_QUERY):
        session.execute(delete(Acceptance).where(Acceptance.content_hash.in_(gone[start : start + _HASHES_PER_QUERY])))


def request_checks(session: Session, version_id: str, precision: float, threshold: float, wanted: int) -> None:
    """Ask the review queue for check answers on the first ``wanted`` images of ``version_id``'s candidate set above
    ``threshold`` (replacing what was asked for the version before), for ``precision``."""
    session.execute(delete(CheckRequest).where(CheckRequest.version_id == version_id))
    session.add(
        CheckRequest(version_id=version_id, precision=precision, threshold=threshold, wanted=wanted, requested_at=utcnow())
    )


def clear_checks(session: Session) -> None:
    """Withdraw every check request: `accept` certified what it takes, or no check answers could."""
    session.execute(delete(CheckRequest))
