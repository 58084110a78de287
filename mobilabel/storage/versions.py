"""Model versions: checkpoints stored by id, and which one is active."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, undefer

from ..errors import MobilabelError
from .current import delete_results, hand_over, lock_every_path, refresh_current
from .states import ACTIVE_JOB_STATES as ACTIVE_JOBS
from .tables import Job, JobImage, ModelActivation, ModelVersion, Result, utcnow
from .upsert import upsert

IMAGENET_PREFIX = "imagenet-"  # the id of the ImageNet weights registered as a version (models.checkpoint)
QUICK_PREFIX = "quick-"  # the id of a quick head's version (training.quick): its results are pruned once two newer are active


class UnknownVersionError(MobilabelError, LookupError):
    pass


class NothingToRollBackError(MobilabelError, LookupError):
    """No earlier active version is recorded to go back to."""


class ActiveVersionError(MobilabelError):
    """The active version cannot be deleted."""


ACTIVE_REF = "active"  # names the active version wherever a version id is asked for
_IDS_LISTED = 8


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
    created_at: datetime | None = None  # now, unless it was made elsewhere (a bundle from another database)


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
        "created_at": record.created_at or utcnow(),
    }
    # Registering again changes nothing, except that a deleted version gets its checkpoint back.
    upsert(session, ModelVersion, [row], keys=("id",), update=())
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.id == record.id, ModelVersion.deleted_at.is_not(None))
        .values(checkpoint=row["checkpoint"], sha256=row["sha256"], size_bytes=row["size_bytes"], deleted_at=None)
    )
    if activate:
        activate_version(session, record.id)
    version = session.get(ModelVersion, record.id)
    assert version is not None
    return version


def activate_version(session: Session, version_id: str, reason: str = ACTIVATED, written_current: bool = False) -> None:
    """Make ``version_id`` the one active version, and record the activation for rollback. ``written_current``: its
    rows were written current in this transaction (``results.insert_results``), so only the images' other rows
    are changed, and the rule is evaluated only for the images of the version leaving that it has no row of
    (``current.hand_over``)."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnknownVersionError(f"no model version {version_id!r}")
    if version.deleted_at is not None:
        raise UnknownVersionError(f"model version {version_id} was deleted; it cannot be activated")
    current = active_version_id(session)
    if current == version_id:
        return
    _set_active(session, version_id, previous=current, reason=reason, written_current=written_current)


def rollback(session: Session) -> str:
    """Re-activate the version that was active before the current one; returns its id.

    Rolling back again goes further back, as an undo stack does. Deleted versions are
    stepped over: the one active before them is taken instead.
    """
    current = active_version_id(session)
    if current is None:
        raise NothingToRollBackError("no model version is active, so there is nothing to roll back")
    last = _last_activation(session, current)
    while last is not None and last.previous_version_id is not None:
        target = last.previous_version_id
        before = _last_activation(session, target, before_id=last.id)
        if not _is_deleted(session, target):
            _set_active(session, target, previous=before.previous_version_id if before else None, reason=ROLLBACK)
            return target
        last = before
    raise NothingToRollBackError(f"no version was active before {current} (that is not deleted); nothing to roll back to")


def activation_history(session: Session) -> list[ModelActivation]:
    """Every activation, newest first."""
    return list(session.scalars(select(ModelActivation).order_by(ModelActivation.id.desc())))


def _is_deleted(session: Session, version_id: str) -> bool:
    """Whether a version that exists was deleted."""
    return session.scalar(select(ModelVersion.deleted_at).where(ModelVersion.id == version_id)) is not None


def _set_active(session: Session, version_id: str, previous: str | None, reason: str, written_current: bool = False) -> None:
    now = utcnow()
    lock_every_path(session)
    # Only images with a row of the version leaving or the one arriving can change their current row.
    changing = [v for v in (active_version_id(session), version_id) if v is not None]
    session.execute(update(ModelVersion).where(ModelVersion.id != version_id).values(active=False))
    session.execute(update(ModelVersion).where(ModelVersion.id == version_id).values(active=True, activated_at=now))
    session.add(ModelActivation(version_id=version_id, previous_version_id=previous, reason=reason, activated_at=now))
    session.flush()
    if written_current:
        hand_over(session, version_id, changing[0] if len(changing) == 2 else None)
    else:
        refresh_current(session, select(Result.image_path).where(Result.model_version_id.in_(changing)))


def _last_activation(session: Session, version_id: str, before_id: int | None = None) -> ModelActivation | None:
    statement = select(ModelActivation).where(ModelActivation.version_id == version_id)
    if before_id is not None:
        statement = statement.where(ModelActivation.id < before_id)
    return session.scalar(statement.order_by(ModelActivation.id.desc()).limit(1))


def predecessor_id(session: Session) -> str | None:
    """The version a rollback from the active one would return to (the one active before it); None if none."""
    active = active_version_id(session)
    last = _last_activation(session, active) if active is not None else None
    return last.previous_version_id if last is not None else None


def active_version_id(session: Session) -> str | None:
    return session.scalar(select(ModelVersion.id).where(ModelVersion.active.is_(True)))


def get_version(session: Session, version_id: str) -> ModelVersion | None:
    return session.get(ModelVersion, version_id)


def checkpoint_bytes(session: Session, version_id: str) -> tuple[bytes, str]:
    """The stored checkpoint and its sha256."""
    version = session.scalar(select(ModelVersion).options(undefer(ModelVersion.checkpoint)).where(ModelVersion.id == version_id))
    if version is None:
        raise UnknownVersionError(f"no model version {version_id!r}")
    if version.deleted_at is not None:
        raise UnknownVersionError(f"model version {version_id} was deleted (mobilabel models delete)")
    return version.checkpoint, version.sha256


def newest_imagenet_version_id(session: Session) -> str | None:
    """The newest registered ImageNet weights (ids ``imagenet-<sha256>``), if any."""
    return session.scalar(
        select(ModelVersion.id)
        .where(ModelVersion.id.like(f"{IMAGENET_PREFIX}%"), ModelVersion.deleted_at.is_(None))
        .order_by(ModelVersion.created_at.desc())
        .limit(1)
    )


def version_in_force(session: Session, pinned: str | None = None) -> str | None:
    """The version that labels unpinned work now: ``pinned`` if given, else the active one, else the newest
    ImageNet weights registered (what a worker without an active version loads); None before any is registered."""
    return pinned or active_version_id(session) or newest_imagenet_version_id(session)


def list_versions(session: Session, include_deleted: bool = False) -> list[ModelVersion]:
    """Versions, newest first; deleted ones only if asked for."""
    statement = select(ModelVersion).order_by(ModelVersion.created_at.desc())
    if not include_deleted:
        statement = statement.where(ModelVersion.deleted_at.is_(None))
    return list(session.scalars(statement))


def resolve_version(session: Session, ref: str) -> str:
    """The id of the version ``ref`` names: ``active``, a full id, or a unique prefix of one.

    Raises ``UnknownVersionError`` saying what exists (the nearest ids first), or which
    versions an ambiguous prefix matches, or that the version was deleted.
    """
    ref = ref.strip()
    if ref == ACTIVE_REF:
        active = active_version_id(session)
        if active is None:
            raise UnknownVersionError(
                "no model version is active; activate one (`mobilabel models activate ID`, or `POST /api/models/ID/activate`)"
            )
        return active
    ids = list(session.scalars(select(ModelVersion.id).where(ModelVersion.deleted_at.is_(None)).order_by(ModelVersion.id)))
    if ref in ids:
        return ref
    matches = [i for i in ids if i.startswith(ref)] if ref else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownVersionError(f"{ref!r} matches {len(matches)} model versions: {_listed(matches)}; give more of the id")
    if _is_deleted(session, ref):
        raise UnknownVersionError(f"model version {ref} was deleted")
    if not ids:
        raise UnknownVersionError(f"no model version {ref!r}: none is registered yet")
    nearest = difflib.get_close_matches(ref, ids, n=3, cutoff=0.4)
    hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
    raise UnknownVersionError(f"no model version {ref!r}{hint}; versions: {_listed(ids)} (or 'active')")


def _listed(ids: list[str]) -> str:
    more = f" and {len(ids) - _IDS_LISTED} more (mobilabel models)" if len(ids) > _IDS_LISTED else ""
    return ", ".join(ids[:_IDS_LISTED]) + more


@dataclass(frozen=True)
class VersionUse:
    """What deleting a version removes: its result rows and the job memberships naming them."""

    results: int
    job_images: int


def version_use(session: Session, version_id: str) -> VersionUse:
    results = session.scalar(select(func.count()).select_from(Result).where(Result.model_version_id == version_id))
    members = session.scalar(select(func.count()).select_from(JobImage).where(JobImage.model_version_id == version_id))
    return VersionUse(results or 0, members or 0)


def delete_version(session: Session, version_id: str) -> VersionUse:
    """Delete a version that is not active: its checkpoint, results and job memberships go.

    The row stays, marked deleted, so jobs, training runs and the activation history that
    name it still can; rollback steps over it. Raises ``ActiveVersionError`` for the active
    version or one a running job uses, and ``UnknownVersionError`` for one that does not exist or is deleted already.
    """
    version = session.get(ModelVersion, version_id)
    if version is None or version.deleted_at is not None:
        raise UnknownVersionError(
            f"no model version {version_id!r}" if version is None else f"model version {version_id} was deleted already"
        )
    if version.active:
        raise ActiveVersionError(f"model version {version_id} is active; activate another one (or roll back) before deleting it")
    running = list(session.scalars(select(Job.id).where(Job.model_version_id == version_id, Job.status.in_(ACTIVE_JOBS))))
    if running:
        listed = ", ".join(map(str, running))
        raise ActiveVersionError(f"model version {version_id} is labelling job {listed}; let it finish or cancel it first")
    use = version_use(session, version_id)
    session.execute(delete(JobImage).where(JobImage.model_version_id == version_id))
    delete_results(session, Result.model_version_id == version_id)
    session.execute(
        update(ModelVersion).where(ModelVersion.id == version_id).values(checkpoint=None, size_bytes=0, deleted_at=utcnow())
    )
    return use
