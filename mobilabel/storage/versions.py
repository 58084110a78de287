"""Model versions: checkpoints stored by id, and which one is active."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, undefer

from ..errors import MobilabelError
from .tables import ModelActivation, ModelVersion, utcnow
from .upsert import upsert


class UnknownVersionError(MobilabelError, LookupError):
    pass


class NothingToRollBackError(MobilabelError, LookupError):
    """No earlier active version is recorded to go back to."""


# Why a version became active, as recorded in its activation row.
ACTIVATED = "activated"
PROMOTED = "promoted"
FORCED = "forced"
ROLLBACK = "rollback"


@dataclass(frozen=True)
class VersionRecord:
    id: str
    arch: str
    alpha: float
    classes: list[str]
    metrics: dict[str, Any]
    checkpoint: bytes
    source: str = ""


def register_version(session: Session, record: VersionRecord, activate: bool = False) -> ModelVersion:
    """Store a version; registering the same id again, even from many processes at once, changes nothing."""
    row = {
        "id": record.id,
        "arch": record.arch,
        "alpha": record.alpha,
        "classes": list(record.classes),
        "metrics": record.metrics,
        "checkpoint": record.checkpoint,
        "sha256": hashlib.sha256(record.checkpoint).hexdigest(),
        "size_bytes": len(record.checkpoint),
        "source": record.source,
        "active": False,
        "created_at": utcnow(),
    }
    upsert(session, ModelVersion, [row], keys=("id",), update=())
    if activate:
        activate_version(session, record.id)
    version = session.get(ModelVersion, record.id)
    assert version is not None
    return version


def activate_version(session: Session, version_id: str, reason: str = ACTIVATED) -> None:
    """Make ``version_id`` the one active version, and record the activation for rollback."""
    if session.get(ModelVersion, version_id) is None:
        raise UnknownVersionError(f"no model version {version_id!r}")
    current = active_version_id(session)
    if current == version_id:
        return
    _set_active(session, version_id, previous=current, reason=reason)


def rollback(session: Session) -> str:
    """Re-activate the version that was active before the current one; returns its id.

    Rolling back again goes further back, as an undo stack does.
    """
    current = active_version_id(session)
    if current is None:
        raise NothingToRollBackError("no model version is active, so there is nothing to roll back")
    last = _last_activation(session, current)
    if last is None or last.previous_version_id is None:
        raise NothingToRollBackError(f"no version was active before {current}; nothing to roll back to")
    target = last.previous_version_id
    before = _last_activation(session, target, before_id=last.id)
    _set_active(session, target, previous=before.previous_version_id if before else None, reason=ROLLBACK)
    return target


def activation_history(session: Session) -> list[ModelActivation]:
    """Every activation, newest first."""
    return list(session.scalars(select(ModelActivation).order_by(ModelActivation.id.desc())))


def _set_active(session: Session, version_id: str, previous: str | None, reason: str) -> None:
    now = utcnow()
    session.execute(update(ModelVersion).where(ModelVersion.id != version_id).values(active=False))
    session.execute(update(ModelVersion).where(ModelVersion.id == version_id).values(active=True, activated_at=now))
    session.add(ModelActivation(version_id=version_id, previous_version_id=previous, reason=reason, activated_at=now))
    session.flush()


def _last_activation(session: Session, version_id: str, before_id: int | None = None) -> ModelActivation | None:
    statement = select(ModelActivation).where(ModelActivation.version_id == version_id)
    if before_id is not None:
        statement = statement.where(ModelActivation.id < before_id)
    return session.scalar(statement.order_by(ModelActivation.id.desc()).limit(1))


def active_version_id(session: Session) -> str | None:
    return session.scalar(select(ModelVersion.id).where(ModelVersion.active.is_(True)))


def get_version(session: Session, version_id: str) -> ModelVersion | None:
    return session.get(ModelVersion, version_id)


def checkpoint_bytes(session: Session, version_id: str) -> tuple[bytes, str]:
    """The stored checkpoint and its sha256."""
    version = session.scalar(
        select(ModelVersion).options(undefer(ModelVersion.checkpoint)).where(ModelVersion.id == version_id)
    )
    if version is None:
        raise UnknownVersionError(f"no model version {version_id!r}")
    return version.checkpoint, version.sha256


def newest_imagenet_version_id(session: Session) -> str | None:
    """The newest registered ImageNet weights (ids ``imagenet-<sha256>``), if any."""
    return session.scalar(
        select(ModelVersion.id).where(ModelVersion.id.like("imagenet-%")).order_by(ModelVersion.created_at.desc()).limit(1)
    )


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc())))
