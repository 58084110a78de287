"""Labelling jobs: one per folder run, with counters the writers keep exact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .pathcodec import printable
from .paths import absolute_path
from .tables import Job, utcnow

ENQUEUING = "enqueuing"  # a distributed job whose folder is still being walked
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED = (COMPLETED, FAILED, CANCELLED)
ACTIVE = (ENQUEUING, RUNNING)


def create_job(session: Session, root: str, model_version_id: str | None, status: str = RUNNING) -> Job:
    """Record a job; its root is stored absolute (``paths.absolute_path``)."""
    job = Job(root=absolute_path(root), model_version_id=model_version_id, status=status, started_at=utcnow())
    session.add(job)
    session.flush()
    return job


def set_total(session: Session, job_id: int, total: int) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(total=total))


def finish_job(session: Session, job_id: int, status: str, error: str | None = None) -> None:
    error = None if error is None else printable(error)
    session.execute(update(Job).where(Job.id == job_id).values(status=status, error=error, finished_at=utcnow()))


def is_cancelled(session: Session, job_id: int) -> bool:
    """Whether `mobilabel cancel` marked the job cancelled (a cheap check between batches)."""
    return session.scalar(select(Job.status).where(Job.id == job_id)) == CANCELLED


def finish_running_job(session: Session, job_id: int, status: str) -> bool:
    """Like ``finish_job``, but only if the job is still running: a cancel that came first stays. Returns whether it did."""
    finished = session.execute(
        update(Job).where(Job.id == job_id, Job.status == RUNNING).values(status=status, finished_at=utcnow())
    )
    return bool(finished.rowcount == 1)  # type: ignore[attr-defined]


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, limit: int = 50) -> list[Job]:
    return list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def recent_roots(session: Session, since: datetime) -> list[str]:
    """The folders of jobs created since ``since``, each once."""
    return list(session.scalars(select(Job.root).where(Job.created_at >= since).distinct().order_by(Job.root)))
