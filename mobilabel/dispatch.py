"""Where work goes: to the workers through the broker, or to a runner in this process.

The one place that chooses, for the CLI and the API alike: work goes to the broker when the
caller has no runner of its own (`mobilabel enqueue`, `mobilabel train --queue`) or when
MOBILABEL_BROKER_URL is set (`mobilabel serve`), else to the caller's runner. A broker that
cannot be reached is a ``BrokerError`` naming it, with what was recorded marked failed rather
than left queued; the CLI shows it as one ``Error:`` line, the API answers 503 with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from .broker import DEFAULT_QUEUE, TRAIN, BrokerError, create_app, reaching_broker
from .config import Settings
from .scheduler.enqueue import EnqueuedJob, enqueue_folder
from .storage import Database
from .storage import jobs as stored_jobs
from .storage import training_runs as stored_runs


class LocalRunner(Protocol):
    """Runs recorded work in this process, later, in its own thread; each call returns at once."""

    def run_job(self, job_id: int, folder: Path) -> None:
        """Label ``folder`` as job ``job_id`` (recorded already)."""

    def run_training(self, run_id: int) -> None:
        """Do training run ``run_id`` (recorded already)."""


def submit_job(
    db: Database,
    settings: Settings,
    folder: Path,
    *,
    chunk_size: int | None = None,
    queue: str = DEFAULT_QUEUE,
    pinned: str | None = None,
    force: bool = False,
    local: LocalRunner | None = None,
    images: Iterable[Path] | None = None,
) -> EnqueuedJob:
    """Label every image under ``folder`` (checked by the caller) as a new job; returns it.

    Through the broker (without ``local``, or with MOBILABEL_BROKER_URL set): in chunks of ``chunk_size`` images (default
    MOBILABEL_CHUNK_SIZE) on ``queue``, pinned to version ``pinned`` if given, unchanged images
    skipped unless ``force``; returns once every chunk is sent. Else recorded and handed to
    ``local`` (``pinned`` and ``force`` do not apply), returning at once with ``total`` 0 (the
    runner counts the images as it walks them).
    With ``images`` (under ``folder``, chosen by the caller: ``watch``), those are sent through the broker
    instead of the folder's walk.
    Raises ``BrokerError`` when the broker cannot be reached (the job is then marked failed),
    ``FolderError`` for a folder that cannot be walked.
    """
    if local is not None and not settings.broker_configured:
        with db.transaction() as session:
            job = stored_jobs.create_job(session, str(folder), None, allowed_roots=settings.allowed_roots)
        local.run_job(job.id, folder)
        return EnqueuedJob(job.id, 0)
    with reaching_broker(settings):
        return enqueue_folder(
            db, create_app(settings), settings, folder, chunk_size or settings.chunk_size, queue, pinned, force, images
        )


def submit_training(db: Database, settings: Settings, run_id: int, *, local: LocalRunner | None = None) -> None:
    """Start training run ``run_id`` (recorded already, queued): sent to queue MOBILABEL_TRAIN_QUEUE
    through the broker (without ``local``, or with MOBILABEL_BROKER_URL set), else handed to ``local``.
    Whoever trains it holds its files to the roots recorded with it (``TrainingRun.allowed_roots``) too.

    Raises ``BrokerError`` when the broker cannot be reached; the run is then marked failed with
    that reason, so it never waits for a worker that will not hear of it.
    """
    if local is not None and not settings.broker_configured:
        local.run_training(run_id)
        return
    try:
        with reaching_broker(settings):
            create_app(settings).send_task(TRAIN, args=[run_id], queue=settings.train_queue)
    except BrokerError as exc:
        with db.transaction() as session:
            stored_runs.finish_run(session, run_id, None, None, error=str(exc))
        raise
