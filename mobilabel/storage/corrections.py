"""Corrections: labels a person verified, one per image path, for training to learn from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .tables import Correction, utcnow
from .upsert import upsert


@dataclass(frozen=True)
class CorrectionRecord:
    image_path: str
    label: str


def save_corrections(session: Session, records: Sequence[CorrectionRecord]) -> int:
    """Upsert: a path corrected again keeps one row, with the newest label. Returns the rows written."""
    now = utcnow()
    # One statement may not touch the same key twice (PostgreSQL refuses it): the last label wins.
    latest = {r.image_path: r.label for r in records}
    rows = [
        {"image_path": path, "label": label, "created_at": now, "updated_at": now} for path, label in latest.items()
    ]
    upsert(session, Correction, rows, keys=("image_path",), update=("label", "updated_at"))
    return len(rows)


def list_corrections(session: Session) -> list[CorrectionRecord]:
    rows = session.execute(select(Correction.image_path, Correction.label).order_by(Correction.image_path))
    return [CorrectionRecord(path, label) for path, label in rows]
