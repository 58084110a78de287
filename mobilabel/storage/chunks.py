"""Chunks of a distributed job: their states are the truth about what remains to do.

State machine: queued -> running -> done | failed | cancelled. Every transition is
a conditional UPDATE, so two workers (or a worker and the sweeper) racing on one
chunk can never both count it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from ..object_paths import source_path
from .database import rows_changed
from .jobs import add_to_counters, complete_if_finished
from .pathcodec import printable
from .states import ACTIVE_JOB_STATES, UNFINISHED_CHUNK_STATES, ChunkState, ImageOutcome, JobState
from .statistics import refresh_statistics
from .tables import Chunk, Job, JobImage, utcnow


@dataclass(frozen=True)
class ClaimedChunk:
    """A chunk a worker has started: what it must label, and for which job."""

    id: int
    job_id: int
    paths: list[str]
    attempt: int
    model_version_id: str | None
    queued_at: datetime
    # Why the previous attempt failed, if it raised (None: it crashed or timed out, or there was none).
    last_error: str | None = None
    # The allowed roots of the process that created the job (``Job.allowed_roots``); none: only the worker's own.
    allowed_roots: tuple[Path, ...] = ()


def add_chunks(session: Session, job_id: int, first_seq: int, chunks: Sequence[Sequence[str]], grace: timedelta) -> list[int]:
    """Record chunks as queued; the sweeper may re-send them once ``grace`` has passed."""
    deadline = utcnow() + grace
    rows = [
        Chunk(job_id=job_id, seq=first_seq + i, paths=list(paths), state=ChunkState.QUEUED, deadline=deadline)
        for i, paths in enumerate(chunks)
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def claim_chunk(session: Session, chunk_id: int, worker: str, deadline: timedelta) -> ClaimedChunk | None:
    """Start a chunk, counting the attempt; None if it is finished or its job is cancelled."""
    chunk = session.get(Chunk, chunk_id, with_for_update=True)
    if chunk is None or chunk.state not in UNFINISHED_CHUNK_STATES:
        return None
    job = session.get(Job, chunk.job_id)
    if job is None or job.status == JobState.CANCELLED:
        chunk.state = ChunkState.CANCELLED
        return None
    now = utcnow()
    chunk.state = ChunkState.RUNNING
    chunk.attempts += 1
    chunk.worker = worker
    chunk.started_at = now
    chunk.deadline = now + deadline
    return ClaimedChunk(
        chunk.id,
        chunk.job_id,
        list(chunk.paths),
        chunk.attempts,
        job.model_version_id,
        chunk.created_at,
        chunk.error,
        tuple(source_path(root) for root in job.allowed_roots or ()),
    )


def retry_soon(session: Session, chunk_id: int, error: str) -> None:
    """Record why a running chunk's attempt failed and make it overdue, so the next sweep re-sends it."""
    session.execute(
        update(Chunk)
        .where(Chunk.id == chunk_id, Chunk.state == ChunkState.RUNNING)
        .values(error=printable(error), deadline=utcnow())
    )


def finish_chunk(
    session: Session, chunk_id: int, done: int, failed: int, state: ChunkState = ChunkState.DONE, error: str | None = None
) -> bool:
    """Mark a chunk finished and add its counts to its job, exactly once.

    Returns False when another worker finished it first (a redelivered copy):
    then nothing is counted again.
    """
    job_id = session.scalar(
        update(Chunk)
        .where(Chunk.id == chunk_id, Chunk.state.in_(UNFINISHED_CHUNK_STATES))
        .values(state=state, done=done, failed=failed, error=None if error is None else printable(error), finished_at=utcnow())
        .returning(Chunk.job_id)
    )
    if job_id is None:
        return False
    add_to_counters(session, job_id, done, failed)
    if complete_if_finished(session, job_id):
        written = session.execute(select(Job.done + Job.failed).where(Job.id == job_id)).scalar_one()
        refresh_statistics(session, written)
    return True


def ok_count(session: Session, job_id: int, paths: Sequence[str]) -> int:
    """How many of ``paths`` this job has already labelled."""
    return (
        session.scalar(
            select(func.count())
            .select_from(JobImage)
            .where(JobImage.job_id == job_id, JobImage.outcome == ImageOutcome.LABELLED, JobImage.image_path.in_(list(paths)))
        )
        or 0
    )


@dataclass(frozen=True)
class OverdueChunk:
    id: int
    queue: str | None  # None: the job was sent before jobs recorded their queue
    state: str
    deadline: datetime | None


def overdue_chunks(session: Session, now: datetime, limit: int = 1000) -> list[OverdueChunk]:
    """Unfinished chunks past their deadline: running ones whose worker went quiet, and
    queued ones whose message may be lost (the sweeper checks the broker for those)."""
    rows = session.execute(
        select(Chunk.id, Job.queue, Chunk.state, Chunk.deadline)
        .join(Job, Job.id == Chunk.job_id)
        .where(Chunk.state.in_(UNFINISHED_CHUNK_STATES), Chunk.deadline < now, Job.status.in_(ACTIVE_JOB_STATES))
        .order_by(Chunk.id)
        .limit(limit)
    )
    return [OverdueChunk(id, queue, state, deadline) for id, queue, state, deadline in rows]


def extend_deadline(session: Session, chunk: OverdueChunk, grace: timedelta) -> bool:
    """Push an overdue chunk's deadline forward; only one sweeper wins each chunk."""
    moved = session.execute(
        update(Chunk)
        .where(and_(Chunk.id == chunk.id, Chunk.deadline == chunk.deadline, Chunk.state.in_(UNFINISHED_CHUNK_STATES)))
        .values(deadline=utcnow() + grace)
    )
    return rows_changed(moved) == 1


def cancel_chunks(session: Session, job_id: int) -> int:
    cancelled = session.execute(
        update(Chunk)
        .where(Chunk.job_id == job_id, Chunk.state == ChunkState.QUEUED)
        .values(state=ChunkState.CANCELLED, finished_at=utcnow())
    )
    return rows_changed(cancelled)


def chunk_states(session: Session, job_id: int) -> dict[str, int]:
    rows = session.execute(select(Chunk.state, func.count()).where(Chunk.job_id == job_id).group_by(Chunk.state))
    return {state: n for state, n in rows}
