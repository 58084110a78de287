"""The embedded driver: label a folder in this process, writing each batch as it completes;
files unchanged since this version labelled them are left alone (``incremental``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from ..config import Settings, load_settings
from ..errors import MobilabelError
from ..object_paths import source_path
from ..plurals import counted
from ..storage import Database
from ..storage import jobs as stored_jobs
from ..storage.database import DatabaseLockedError
from ..storage.embedding_writes import write_embeddings
from ..storage.heartbeat import Heartbeat
from ..storage.membership import record_job_images
from ..storage.ownership import beat_job, claim_job, this_process
from ..storage.pathcodec import to_stored
from ..storage.result_queries import failures, label_counts
from ..storage.results import count_outcomes, write_results
from ..storage.retry import is_transient, unavailable, with_db_retry
from ..storage.states import ImageOutcome, JobState
from ..storage.statistics import refresh_statistics
from ..storage.tables import Job
from .incremental import SkipCount, without_unchanged
from .labeller import LabelledBatch, Labeller
from .paths import WalkCounts, iter_images
from .reuse import stored_results

T = TypeVar("T")
# Called after each batch with (images in this batch, images in the job).
ProgressCallback = Callable[[int, int], None]


class JobCancelledError(MobilabelError):
    """`mobilabel cancel` stopped the job; what it had labelled stays."""


class JobInterruptedError(JobCancelledError):
    """The user stopped the run (Ctrl-C); what it had labelled stays, and labelling the folder again resumes."""


@dataclass
class JobSummary:
    job_id: int
    root: str
    model_version_id: str
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    label_counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    passed_over: dict[str, int] = field(default_factory=dict)  # entries the walk passed over, by reason (``WalkCounts``)


@dataclass(frozen=True)
class FolderWork:
    """What a run must do: the images to label, and how many were found and left alone as unchanged."""

    root: Path
    paths: list[Path]
    found: int
    skipped_paths: list[str]
    passed_over: dict[str, int] = field(default_factory=dict)  # entries the walk passed over, by reason (``WalkCounts``)

    @property
    def skipped(self) -> int:
        return len(self.skipped_paths)


def find_work(db: Database, root: Path, version_id: str | None) -> FolderWork:
    """Every image under ``root``, less those unchanged since ``version_id`` labelled them (None: label all).

    Reads only the database and file metadata: no model is built, no file opened.
    """
    walked = WalkCounts()
    found = list(iter_images(root, walked))
    skipped = SkipCount()
    paths = list(without_unchanged(db, found, version_id, skipped))
    return FolderWork(source_path(root).absolute(), paths, len(found), skipped.paths, walked.by_reason())


def label_folder(
    db: Database,
    labeller: Labeller,
    work: FolderWork | Path,
    on_progress: ProgressCallback | None = None,
    version_id: str | None = None,
    job_id: int | None = None,
    stop_requested: Callable[[], bool] | None = None,
    settings: Settings | None = None,
    owner: str | None = None,
) -> JobSummary:
    """Label ``work``'s images with ``labeller``, whose model is ``version_id``; one transaction per batch.

    ``work`` is what ``find_work`` found, or a folder (its unchanged files are then skipped for
    the labeller's version). A content the model version already labelled, at any path, gets a copy
    of that result without inference (``reuse``). Without ``version_id`` the labeller's model is built to learn it;
    with it and nothing to label, the model is never built. If labelling stops part-way
    (Ctrl-C, an error), the job is marked so and every batch already written stays in the database.
    After each batch the job's state is read: if `mobilabel cancel` marked it cancelled,
    labelling stops there and ``JobCancelledError`` is raised. ``job_id`` names a job the caller
    created already (the HTTP API answers with its id before labelling starts); without it a job
    is created here. When ``stop_requested`` (asked after each batch) says so, as after a Ctrl-C, the
    job is marked cancelled after the batch just written and ``JobInterruptedError`` says how to resume.

    The job records ``owner`` (default: this process, ``label PID@HOST``) and its heartbeat every
    MOBILABEL_HEARTBEAT_S. Each database step is retried through an outage for MOBILABEL_DB_PATIENCE_S
    (``settings``, default: the environment's); past that, ``DatabaseUnavailableError`` says what was kept.
    """
    owner = owner or this_process("label")
    settings = settings or load_settings()
    patience = settings.db_patience_s

    def patiently(work: Callable[[], T], what: str) -> T:
        return with_db_retry(work, patience, what)

    started = time.perf_counter()
    version_id = version_id or labeller.classifier.version_id
    if not isinstance(work, FolderWork):
        work = find_work(db, work, version_id)
    found = work

    def create() -> Job:
        with db.transaction() as session:
            if job_id is None:
                job = stored_jobs.create_job(session, str(found.root), version_id)
            else:
                job = session.get_one(Job, job_id)
                job.model_version_id = version_id
            claim_job(session, job.id, owner)
            stored_jobs.set_total(session, job.id, found.found)
            stored_jobs.set_passed_over(session, job.id, found.passed_over)
            stored_jobs.add_to_counters(session, job.id, 0, 0, found.skipped)
            record_job_images(session, job.id, version_id, [(path, ImageOutcome.SKIPPED) for path in found.skipped_paths])
            return job

    job = patiently(create, "create the job")
    summary = JobSummary(job.id, job.root, version_id, total=work.found, skipped=work.skipped, passed_over=work.passed_over)
    resume = f"`mobilabel label {to_stored(work.root)}` labels the rest"
    heartbeat = Heartbeat(db, lambda session: beat_job(session, job.id, owner), settings.heartbeat_s, f"job {job.id}")
    try:
        with heartbeat:
            for batch in labeller.label(work.paths, stored_results(db, patience)) if work.paths else ():
                records = batch.records
                done, failed = count_outcomes(records)
                cancelled = patiently(
                    partial(_write_batch, db, job.id, batch, done, failed),
                    f"job {job.id}: write a batch",
                )
                summary.done += done
                summary.failed += failed
                if on_progress is not None:
                    on_progress(len(records), len(work.paths))
                kept = summary.done + summary.failed
                if not cancelled and stop_requested is not None and stop_requested():
                    with db.transaction() as session:
                        stored_jobs.finish_job(
                            session,
                            job.id,
                            JobState.CANCELLED,
                            error=f"interrupted after {kept} of {counted(len(work.paths), 'image')}",
                        )
                    raise JobInterruptedError(
                        f"interrupted: job {job.id} stopped after {kept} of {counted(len(work.paths), 'image')} to label; those {kept} are kept "
                        f"(mobilabel results --job {job.id}); {resume}"
                    )
                if cancelled:
                    raise JobCancelledError(
                        f"job {job.id} was cancelled: stopped after {kept} of {len(work.paths)} "
                        f"images to label; their results stay (mobilabel results --job {job.id})"
                    )
    except JobCancelledError:
        raise
    except BaseException as exc:
        kept = summary.done + summary.failed
        if is_transient(exc):
            # Past patience: the job cannot be marked now; it is failed, saying why, when next looked at.
            raise unavailable(
                db.url,
                patience,
                exc,
                f"job {job.id} stopped after {kept} of {counted(len(work.paths), 'image')} to label; those are kept; "
                f"{resume} once the database is back",
            ) from exc
        status = JobState.CANCELLED if isinstance(exc, KeyboardInterrupt) else JobState.FAILED
        try:
            with db.transaction() as session:
                stored_jobs.finish_job(session, job.id, status, error=str(exc) or exc.__class__.__name__)
        except DatabaseLockedError as locked:
            raise DatabaseLockedError(f"{locked}; job {job.id} could not be marked {status} and still shows running") from exc
        raise

    def complete() -> None:
        with db.transaction() as session:
            stored_jobs.finish_running_job(session, job.id, JobState.COMPLETED)
            refresh_statistics(session, summary.done + summary.failed)
            summary.label_counts = label_counts(session, job.id)
            summary.failures = failures(session, job.id)

    try:
        patiently(complete, f"job {job.id}: complete")
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise unavailable(
            db.url, patience, exc, f"job {job.id} labelled every image (all kept) but could not be marked completed"
        ) from exc
    summary.seconds = time.perf_counter() - started
    return summary


def _write_batch(db: Database, job_id: int, batch: LabelledBatch, done: int, failed: int) -> bool:
    """Write a batch's results, embeddings and counts (one transaction); returns whether the job was cancelled meanwhile."""
    with db.transaction() as session:
        write_results(session, batch.records, batch.model_version_id, job_id)
        write_embeddings(session, batch.backbone, batch.records)
        stored_jobs.add_to_counters(session, job_id, done, failed)
        return stored_jobs.is_cancelled(session, job_id)
