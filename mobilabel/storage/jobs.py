"""Labelling jobs: one per folder run, with counters the writers keep exact. Every write to ``jobs`` is here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from .database import rows_changed
from .pathcodec import printable
from .paths import absolute_path
from .states import UNFINISHED_CHUNK_STATES, JobState
from .tables import Chunk, Job, utcnow


def create_job(
    session: Session,
    root: str,
    model_version_id: str | None,
    status: JobState = JobState.RUNNING,
    queue: str | None = None,
    allowed_roots: Sequence[Path] = (),
) -> Job:
    """Record a job; its root is stored absolute (``paths.absolute_path``); ``queue`` is the Celery queue of a
    distributed job's chunks (None: labelled in-process); ``allowed_roots`` are the creating process's
    MOBILABEL_ALLOWED_ROOTS, which the workers labelling it hold to as well as to their own (none: no more)."""
    job = Job(
        root=absolute_path(root),
        model_version_id=model_version_id,
        status=status,
        queue=queue,
        started_at=utcnow(),
        allowed_roots=[str(r) for r in allowed_roots] or None,
    )
    session.add(job)
    session.flush()
    return job


def set_passed_over(session: Session, job_id: int, passed_over: Mapping[str, int]) -> None:
    """Record what the job's walk passed over, by reason (``pipeline.paths.WalkCounts.by_reason``)."""
    session.execute(update(Job).where(Job.id == job_id).values(passed_over=dict(passed_over)))


def set_total(session: Session, job_id: int, total: int) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(total=total))


def add_to_counters(session: Session, job_id: int, done: int, failed: int, skipped: int = 0) -> None:
    """Add images labelled, failed and skipped (unchanged) to a job's counters."""
    # An UPDATE with increments, not read-modify-write, so concurrent writers never lose a count.
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(done=Job.done + done, failed=Job.failed + failed, skipped=Job.skipped + skipped)
    )


def mark_running(session: Session, job_id: int) -> None:
    """An enqueued job whose folder walk has ended; a job cancelled meanwhile stays cancelled."""
    session.execute(update(Job).where(Job.id == job_id, Job.status == JobState.ENQUEUING).values(status=JobState.RUNNING))


def complete_if_finished(session: Session, job_id: int) -> bool:
    """Mark a running job completed when none of its chunks remains unfinished."""
    remaining = exists().where(Chunk.job_id == job_id, Chunk.state.in_(UNFINISHED_CHUNK_STATES))
    completed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobState.RUNNING, ~remaining)
        .values(status=JobState.COMPLETED, finished_at=utcnow())
    )
    return rows_changed(completed) == 1


def finish_job(session: Session, job_id: int, status: JobState, error: str | None = None) -> None:
    error = None if error is None else printable(error)
    session.execute(update(Job).where(Job.id == job_id).values(status=status, error=error, finished_at=utcnow()))


def is_cancelled(session: Session, job_id: int) -> bool:
    """Whether `mobilabel cancel` marked the job cancelled (a cheap check between batches)."""
    return session.scalar(select(Job.status).where(Job.id == job_id)) == JobState.CANCELLED


def finish_running_job(session: Session, job_id: int, status: JobState) -> bool:
    """Like ``finish_job``, but only if the job is still running: a cancel that came first stays. Returns whether it did."""
    finished = session.execute(
        update(Job).where(Job.id == job_id, Job.status == JobState.RUNNING).values(status=status, finished_at=utcnow())
    )
    return rows_changed(finished) == 1


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, limit: int = 50) -> list[Job]:
    return list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def recent_roots(session: Session, since: datetime) -> list[tuple[str, str | None]]:
    """(folder, queue) of the jobs created since ``since``: each folder once, sorted, with the queue of its
    newest job (None for a job labelled in-process)."""
    newest_first = session.execute(select(Job.root, Job.queue).where(Job.created_at >= since).order_by(Job.id.desc()))
    queues: dict[str, str | None] = {}
    for root, queue in newest_first:
        queues.setdefault(root, queue)
    return sorted(queues.items())
