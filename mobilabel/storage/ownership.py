"""Who does a job or a training run, and whether it still lives: owners and their heartbeats.

An owner is a process (``label 1234@host``) or a worker's task (``celery@host/TASK-ID``); it
writes a heartbeat every MOBILABEL_HEARTBEAT_S. One silent for ``MISSED_HEARTBEATS`` heartbeats is
gone: ``reap_orphans`` ends what it held, with the reason, the next time anything looks.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .chunks import cancel_chunks
from .database import rows_changed
from .states import ACTIVE_JOB_STATES, JobState, RunState
from .tables import Job, TrainingRun, utcnow

# Heartbeats an owner may miss (a long GC pause, a slow database write) before it counts as gone.
MISSED_HEARTBEATS = 3


def this_process(role: str) -> str:
    """The owner name of this process in ``role`` (``label``, ``serve``, ...): ``ROLE PID@HOST``."""
    return f"{role} {os.getpid()}@{socket.gethostname()}"


def silence_limit(heartbeat_s: float) -> timedelta:
    """How long an owner may be silent before it counts as gone."""
    return timedelta(seconds=MISSED_HEARTBEATS * heartbeat_s)


def claim_job(session: Session, job_id: int, owner: str) -> None:
    """Record ``owner`` as the process doing the job, alive now."""
    session.execute(update(Job).where(Job.id == job_id).values(owner=owner, heartbeat_at=utcnow()))


def beat_job(session: Session, job_id: int, owner: str) -> bool:
    """A heartbeat of the job's owner; False if the job is no longer its (ended, or reaped as orphaned)."""
    beat = session.execute(
        update(Job).where(Job.id == job_id, Job.owner == owner, Job.status.in_(ACTIVE_JOB_STATES)).values(heartbeat_at=utcnow())
    )
    return rows_changed(beat) == 1


def release_job(session: Session, job_id: int) -> None:
    """The job has no single owner any more (a distributed job's chunks carry their workers)."""
    session.execute(update(Job).where(Job.id == job_id).values(owner=None, heartbeat_at=None))


def claim_run(session: Session, run_id: int, owner: str) -> None:
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(owner=owner, heartbeat_at=utcnow()))


def beat_run(session: Session, run_id: int, owner: str) -> bool:
    beat = session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.owner == owner, TrainingRun.status == RunState.RUNNING)
        .values(heartbeat_at=utcnow())
    )
    return rows_changed(beat) == 1


def reap_orphans(session: Session, heartbeat_s: float, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Fail every active job and running training run whose owner has been silent too long, saying why.

    A job is failed (`label` run again labels only what it left, as incremental labelling does);
    an enqueuing job's chunks are cancelled too. A training run is failed: its version was never
    registered, and training starts again from the beginning when asked. Returns (job ids, run ids).
    """
    cutoff = (now or utcnow()) - silence_limit(heartbeat_s)
    jobs = list(session.execute(
        select(Job.id, Job.owner, Job.heartbeat_at, Job.root)
        .where(Job.status.in_(ACTIVE_JOB_STATES), Job.owner.is_not(None), Job.heartbeat_at < cutoff)
    ))  # fmt: skip
    reaped_jobs = []
    for job_id, owner, heartbeat_at, root in jobs:
        reason = (
            f"its process ({owner}) stopped answering: no heartbeat since {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC; "
            f"what it labelled is kept, `mobilabel label {root}` labels the rest"
        )
        failed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.owner == owner, Job.heartbeat_at == heartbeat_at, Job.status.in_(ACTIVE_JOB_STATES))
            .values(status=JobState.FAILED, error=reason, finished_at=utcnow())
        )
        if rows_changed(failed) == 1:
            cancel_chunks(session, job_id)
            reaped_jobs.append(job_id)
    runs = list(session.execute(
        select(TrainingRun.id, TrainingRun.owner, TrainingRun.heartbeat_at)
        .where(TrainingRun.status == RunState.RUNNING, TrainingRun.owner.is_not(None), TrainingRun.heartbeat_at < cutoff)
    ))  # fmt: skip
    reaped_runs = []
    for run_id, owner, heartbeat_at in runs:
        reason = (
            f"its worker ({owner}) stopped answering: no heartbeat since {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC; "
            "no version was registered; start the run again"
        )
        failed = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.owner == owner, TrainingRun.heartbeat_at == heartbeat_at,
                   TrainingRun.status == RunState.RUNNING)
            .values(status=RunState.FAILED, error=reason, finished_at=utcnow())
        )  # fmt: skip
        if rows_changed(failed) == 1:
            reaped_runs.append(run_id)
    return reaped_jobs, reaped_runs
