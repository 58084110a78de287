"""Running the jobs the API accepts in this server when no broker is configured (``dispatch``
chooses): one job at a time in a background thread, with the pipeline of `mobilabel label`."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ...config import Settings
from ...errors import MobilabelError
from ...storage import Database
from ...storage import chunks as stored_chunks
from ...storage import jobs as stored_jobs
from ...storage.ownership import this_process
from ...storage.retry import with_db_retry
from ...storage.states import ACTIVE_JOB_STATES, JobState

if TYPE_CHECKING:
    from ...pipeline.labeller import Labeller

log = logging.getLogger(__name__)


class JobNotActiveError(MobilabelError):
    """The job has ended already, so it cannot be cancelled."""


class JobRunner:
    """Runs recorded jobs and training runs in turn (``dispatch.LocalRunner``); cancels jobs between batches."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="api-job")
        self._waiting: set[int] = set()
        self._lock = threading.Lock()
        self._labeller: Labeller | None = None
        self._closing = False

    def run_job(self, job_id: int, folder: Path) -> None:
        """Label ``folder`` (checked already) as job ``job_id`` (recorded already), after the jobs before it."""
        with self._lock:
            self._waiting.add(job_id)
        self._executor.submit(self._run, job_id, folder)

    def cancel(self, job_id: int) -> int:
        """Mark an active job cancelled, as `mobilabel cancel` does; returns the chunks dropped (distributed jobs).

        A job this server labels stops after the batch it is labelling (``label_folder`` reads the
        job's state after each batch), one not started never starts; what was written stays.
        Raises ``LookupError`` for an unknown job, ``JobNotActiveError`` for a finished one.
        """
        with self._db.transaction() as session:
            job = stored_jobs.get_job(session, job_id)
            if job is None:
                raise LookupError(f"no job {job_id}")
            if job.status not in ACTIVE_JOB_STATES:
                raise JobNotActiveError(f"job {job_id} is {job.status} already")
            stored_jobs.finish_job(session, job_id, JobState.CANCELLED, error="cancelled through the API")
            dropped = stored_chunks.cancel_chunks(session, job_id)
        return dropped

    def run_training(self, run_id: int) -> None:
        """Train a recorded run (``storage.training_runs``) in this server, in turn with the jobs, as a
        worker would: its progress and outcome go to the run's row."""
        self._executor.submit(self._train, run_id)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Return once every job accepted so far has ended (they run in order, one at a time).

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        self._executor.submit(lambda: None).result(timeout=timeout)

    def close(self) -> None:
        """Stop: the running job after its current batch, the waiting ones before they start; all end
        cancelled, saying the server stopped, with what they labelled kept."""
        with self._lock:
            self._closing = True
            waiting = set(self._waiting)
        with self._db.transaction() as session:
            for job_id in waiting:
                job = stored_jobs.get_job(session, job_id)
                if job is not None and job.status in ACTIVE_JOB_STATES:
                    stored_jobs.finish_job(
                        session, job_id, JobState.CANCELLED, error="the server stopped; what it labelled is kept"
                    )
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: int, folder: Path) -> None:
        from ...pipeline.embedded import JobCancelledError, label_folder
        from ...pipeline.folder_turn import folder_turn

        try:
            with self._db.transaction() as session:
                job = stored_jobs.get_job(session, job_id)
                if job is None or job.status not in ACTIVE_JOB_STATES:
                    return  # cancelled while it waited
            owner = this_process("serve")

            def waiting(other: str, other_folder: str) -> None:
                log.info("job %s waits: %s is labelling %s", job_id, other, other_folder)

            with folder_turn(self._db, self._settings, folder, owner, waiting):
                label_folder(self._db, self._labeller_once(), folder, job_id=job_id, settings=self._settings, owner=owner)
        except JobCancelledError:
            log.info("job %s cancelled", job_id)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            reason = str(exc) if isinstance(exc, MobilabelError) else "the server could not label this folder; see its log"

            def mark_failed() -> None:
                with self._db.transaction() as session:
                    job = stored_jobs.get_job(session, job_id)
                    if job is not None and job.status in ACTIVE_JOB_STATES:
                        stored_jobs.finish_job(session, job_id, JobState.FAILED, error=reason)

            try:
                with_db_retry(mark_failed, self._settings.db_patience_s, f"job {job_id}: mark failed")
            except Exception:  # still unreachable: the job is failed as orphaned when next looked at
                log.exception("job %s could not be marked failed", job_id)
        finally:
            with self._lock:
                self._waiting.discard(job_id)

    def _train(self, run_id: int) -> None:
        from ...broker import create_app as create_celery_app
        from ...worker.runtime import WorkerRuntime
        from ...worker.training_task import run_training

        if self._closing:
            return
        runtime = WorkerRuntime(self._settings)
        try:
            # The Celery app only sends relabelling jobs, which the API refuses without a broker.
            run_training(runtime, create_celery_app(self._settings), run_id, this_process("serve"))
        finally:
            runtime.db.dispose()

    def _labeller_once(self) -> Labeller:
        # Built on the first job: it loads torch and the model, which a server that only
        # answers queries never needs. It follows the active version, as `label` does.
        if self._labeller is None:
            from ...models.checkpoint import Checkpoint
            from ...models.classifier import Classifier
            from ...pipeline.active_model import ActiveModel
            from ...pipeline.build import build_labeller, load_classifier

            def factory(model: str | Checkpoint) -> Classifier:
                return load_classifier(self._settings, self._db, model)

            self._labeller = build_labeller(self._settings, ActiveModel(self._db, self._settings, factory))
        return self._labeller
