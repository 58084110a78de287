"""The user's own classes, read: which exist, which are retired, and how many answers each has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .classes import OTHER, RESERVED
from .tables import Correction, LabelClass

ACTIVE = "active"
RETIRED = "retired"
RESERVED_STATE = "reserved"


@dataclass(frozen=True)
class ClassSummary:
    """One class (or reserved answer) with its standing answers: ``audit_answers`` of them answered audit leases,
    ``check_answers`` check leases (never trained on: they certify `accept`'s check sample)."""

    name: str
    state: str  # active | retired | reserved
    answers: int
    audit_answers: int
    check_answers: int
    created_at: datetime | None
    retired_at: datetime | None


def list_classes(session: Session) -> list[ClassSummary]:
    """Every class by name, then the reserved answers (other, skip), each with its answer counts.

    A label answered before classes existed as rows (a version's class verified) counts under its class once
    ``ensure_classes`` made it one; answers whose label is no class (none, after migration 0013) are not listed.
    """
    counts = {
        label: (answers, audits or 0, checks or 0)
        for label, answers, audits, checks in session.execute(
            select(
                Correction.label,
                func.count(),
                func.sum(case((Correction.audit, 1), else_=0)),
                func.sum(case((Correction.is_check, 1), else_=0)),
            ).group_by(Correction.label)
        )
    }
    rows = [
        ClassSummary(c.name, RETIRED if c.retired_at else ACTIVE, *counts.get(c.name, (0, 0, 0)), c.created_at, c.retired_at)
        for c in session.scalars(select(LabelClass).order_by(LabelClass.name))
    ]
    rows += [ClassSummary(name, RESERVED_STATE, *counts.get(name, (0, 0, 0)), None, None) for name in RESERVED]
    return rows


def class_names(session: Session, retired: bool = False) -> list[str]:
    """The active classes by name (with ``retired``: the retired ones instead)."""
    condition = LabelClass.retired_at.is_not(None) if retired else LabelClass.retired_at.is_(None)
    return list(session.scalars(select(LabelClass.name).where(condition).order_by(LabelClass.name)))


def trainable_labels(session: Session) -> set[str]:
    """What training learns as outcomes: the active classes and ``other``."""
    return {*class_names(session), OTHER}
