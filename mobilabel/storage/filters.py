"""Checking a results filter before it runs: a name that matches nothing is an error, not an empty table."""

from __future__ import annotations

import dataclasses
import difflib

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import MobilabelError
from .result_queries import ResultFilter
from .tables import Job, ModelVersion
from .versions import IMAGENET_PREFIX, resolve_version

_LISTED = 8


class FilterError(MobilabelError, LookupError):
    """A filter names a job, version or label that does not exist; the message says what does."""


def check_filter(session: Session, where: ResultFilter) -> ResultFilter:
    """``where`` with its version resolved to a full id (``active``, a unique prefix).

    Raises ``FilterError`` (or ``versions.UnknownVersionError``) naming what exists or the
    nearest match, for a job that does not exist or a label no model version knows.
    """
    if where.job_id is not None:
        check_job(session, where.job_id)
    if where.label is not None:
        check_label(session, where.label)
    if where.model_version_id is not None:
        where = dataclasses.replace(where, model_version_id=resolve_version(session, where.model_version_id))
    return where


def check_job(session: Session, job_id: int) -> None:
    """Raises ``FilterError`` listing the newest jobs if ``job_id`` is not one."""
    if session.get(Job, job_id) is not None:
        return
    ids = list(session.scalars(select(Job.id).order_by(Job.id.desc()).limit(_LISTED + 1)))
    if not ids:
        raise FilterError(f"no job {job_id}: there are no jobs yet")
    listed = ", ".join(str(i) for i in ids[:_LISTED]) + (", ..." if len(ids) > _LISTED else "")
    raise FilterError(f"no job {job_id}; jobs, newest first: {listed} (mobilabel jobs)")


def known_labels(session: Session, imagenet: bool = True) -> set[str]:
    """Every class of every model version not deleted; without the ImageNet weights' 1,000 if not ``imagenet``."""
    labels: set[str] = set()
    query = select(ModelVersion.classes).where(ModelVersion.deleted_at.is_(None))
    if not imagenet:
        query = query.where(ModelVersion.id.not_like(f"{IMAGENET_PREFIX}%"))
    for classes in session.scalars(query):
        labels.update(classes)
    return labels


def check_label(session: Session, label: str) -> None:
    """Raises ``FilterError`` with the nearest classes if no model version knows ``label``."""
    known = known_labels(session)
    if label in known:
        return
    raise FilterError(f"no model version has a class {label!r}{nearest_hint(label, known)}")


def nearest_hint(label: str, known: set[str]) -> str:
    """'; did you mean ...' for a label differing in case or a few letters, else ''."""
    same_case = sorted(k for k in known if k.casefold() == label.casefold())
    if same_case:
        return f"; labels are case-sensitive: did you mean {' or '.join(map(repr, same_case))}?"
    nearest = difflib.get_close_matches(label, sorted(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(map(repr, nearest))}?" if nearest else ""
