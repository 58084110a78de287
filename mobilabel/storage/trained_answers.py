"""Which answers a version was trained on, written when it is registered (``accuracy_queries.held_out`` reads them)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from .tables import TrainedAnswer
from .upsert import upsert


def record_trained(session: Session, version_id: str, content_hashes: Iterable[str]) -> None:
    """Record that ``version_id`` was trained on the answers with ``content_hashes``."""
    rows = [{"version_id": version_id, "content_hash": h} for h in sorted(set(content_hashes))]
    upsert(session, TrainedAnswer, rows, keys=("version_id", "content_hash"), update=())
