"""Deleting what is no longer wanted: a job, the rows of files gone from disk, or the results of old quick heads.

(A model version is deleted by ``versions.delete_version``.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Select, delete, exists, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from ..errors import MobilabelError
from .current import delete_results
from .database import rows_changed
from .filters import check_job
from .states import ACTIVE_JOB_STATES
from .tables import Job, JobImage, Result
from .versions import QUICK_PREFIX, active_version_id, predecessor_id

_PATHS_PER_QUERY = 1000


class JobRunningError(MobilabelError):
    """A job still running cannot be deleted under its writers."""


@dataclass(frozen=True)
class JobDeletion:
    images: int  # the job's membership rows
    results: int  # result rows no other job covered


def _only_this_job(job_id: int) -> Select[str, str]:
    other = aliased(JobImage)
    covered_elsewhere = exists().where(
        other.job_id != job_id, other.image_path == JobImage.image_path, other.model_version_id == JobImage.model_version_id
    )
    return select(JobImage.image_path, JobImage.model_version_id).where(JobImage.job_id == job_id, ~covered_elsewhere)


def job_deletion(session: Session, job_id: int) -> JobDeletion:
    """What deleting ``job_id`` would remove.

    Raises ``filters.FilterError`` if there is no such job, ``JobRunningError`` if it is still running.
    """
    check_job(session, job_id)
    if session.scalar(select(Job.status).where(Job.id == job_id)) in ACTIVE_JOB_STATES:
        raise JobRunningError(f"job {job_id} is still running; cancel it first (mobilabel cancel {job_id})")
    images = session.scalar(select(func.count()).select_from(JobImage).where(JobImage.job_id == job_id)) or 0
    only_here = _only_this_job(job_id).subquery()
    results = session.scalar(
        select(func.count())
        .select_from(Result)
        .where(
            tuple_(Result.image_path, Result.model_version_id).in_(select(only_here.c.image_path, only_here.c.model_version_id))
        )
    )
    return JobDeletion(images, results or 0)


def delete_job(session: Session, job_id: int) -> JobDeletion:
    """Delete a job, its chunks and membership, and the result rows no other job covered.

    Rows other jobs also covered stay (they are those jobs' results too).
    """
    deletion = job_deletion(session, job_id)
    only_here = _only_this_job(job_id).subquery()
    delete_results(
        session,
        tuple_(Result.image_path, Result.model_version_id).in_(select(only_here.c.image_path, only_here.c.model_version_id)),
    )
    session.execute(delete(JobImage).where(JobImage.job_id == job_id))
    session.execute(delete(Job).where(Job.id == job_id))  # chunks go with it (ON DELETE CASCADE)
    return deletion


def missing_paths(session: Session, file_exists: Callable[[str], bool] = os.path.exists) -> Iterator[str]:
    """Stored image paths whose file is gone, in path order, read a thousand at a time."""
    after = ""
    while True:
        paths = list(
            session.scalars(
                select(Result.image_path)
                .where(Result.image_path > after)
                .distinct()
                .order_by(Result.image_path)
                .limit(_PATHS_PER_QUERY)
            )
        )
        if not paths:
            return
        yield from (path for path in paths if not file_exists(path))
        after = paths[-1]


def delete_paths(session: Session, paths: list[str]) -> int:
    """Delete every result row and job membership of ``paths``; returns the result rows deleted.

    (No row of those images is left, so no current row needs to move.)"""
    deleted = 0
    for start in range(0, len(paths), _PATHS_PER_QUERY):
        some = paths[start : start + _PATHS_PER_QUERY]
        session.execute(delete(JobImage).where(JobImage.image_path.in_(some)))
        deleted += rows_changed(session.execute(delete(Result).where(Result.image_path.in_(some))))
    return deleted


def prune_quick_results(session: Session) -> int:
    """Delete the results of every quick head's version (``versions.QUICK_PREFIX``) but the active one and its
    predecessor (what a rollback returns to), so result rows stay within about twice the library's size.
    The versions themselves stay. Returns the rows deleted."""
    keep = [v for v in (active_version_id(session), predecessor_id(session)) if v is not None]
    condition = Result.model_version_id.startswith(QUICK_PREFIX, autoescape=True) & Result.model_version_id.not_in(keep)
    return delete_results(session, condition)
