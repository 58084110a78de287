"""Model versions: checkpoints stored by id, and which one is active."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, undefer

from .tables import ModelVersion, utcnow
from .upsert import upsert


class UnknownVersionError(LookupError):
    pass


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


def activate_version(session: Session, version_id: str) -> None:
    if session.get(ModelVersion, version_id) is None:
        raise UnknownVersionError(f"no model version {version_id!r}")
    session.execute(update(ModelVersion).where(ModelVersion.id != version_id).values(active=False))
    session.execute(update(ModelVersion).where(ModelVersion.id == version_id).values(active=True, activated_at=utcnow()))


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


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc())))
