"""The values of every state column: one StrEnum per column, so no value is spelt twice.

Members are strings, so they compare equal to what the database returns and print as
their value. Changing a value needs a migration of the rows that hold it.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """``jobs.status``."""

    ENQUEUING = "enqueuing"  # a distributed job whose folder is still being walked
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ChunkState(StrEnum):
    """``chunks.state``: queued -> running -> done | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # given up after too many deliveries
    CANCELLED = "cancelled"


class ResultStatus(StrEnum):
    """``results.status``."""

    OK = "ok"
    FAILED = "failed"


class ImageOutcome(StrEnum):
    """``job_images.outcome``: what a job did with one image."""

    LABELLED = "labelled"
    FAILED = "failed"
    SKIPPED = "skipped"  # unchanged since an earlier labelling by the same version (incremental labelling)


class RunState(StrEnum):
    """``training_runs.status``."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


ACTIVE_JOB_STATES = (JobState.ENQUEUING, JobState.RUNNING)
UNFINISHED_CHUNK_STATES = (ChunkState.QUEUED, ChunkState.RUNNING)
ACTIVE_RUN_STATES = (RunState.QUEUED, RunState.RUNNING)
