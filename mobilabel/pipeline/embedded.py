"""The embedded driver: label a folder in this process, writing each batch as it completes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..storage import Database
from ..storage import jobs as stored_jobs
from ..storage.results import add_to_job_counters, count_outcomes, failures, label_counts, write_results
from ..storage.tables import Job
from .labeller import Labeller
from .paths import iter_images

# Called after each batch with (images in this batch, images in the job).
ProgressCallback = Callable[[int, int], None]


class JobCancelled(Exception):
    """Raised by a progress callback to stop a job between batches; the job ends cancelled."""


@dataclass
class JobSummary:
    job_id: int
    root: str
    model_version_id: str
    total: int
    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    label_counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)


def label_folder(
    db: Database, labeller: Labeller, root: Path, on_progress: ProgressCallback | None = None, job_id: int | None = None
) -> JobSummary:
    """Label every image under ``root``; one transaction per batch.

    ``job_id`` names a job the caller created already (the HTTP API answers with its id
    before labelling starts); without it a job is created here.
    If labelling stops part-way (Ctrl-C, an error, ``JobCancelled``), the job is marked so
    and every batch already written stays in the database.
    """
    started = time.perf_counter()
    paths = list(iter_images(root))
    version_id = labeller.classifier.version_id
    with db.transaction() as session:
        if job_id is None:
            job = stored_jobs.create_job(session, str(Path(root).absolute()), version_id)
        else:
            job = session.get_one(Job, job_id)
            job.model_version_id = version_id
        stored_jobs.set_total(session, job.id, len(paths))
    summary = JobSummary(job.id, job.root, version_id, total=len(paths))
    try:
        for batch in labeller.label(paths):
            records = batch.records
            done, failed = count_outcomes(records)
            with db.transaction() as session:
                write_results(session, records, batch.model_version_id, job.id)
                add_to_job_counters(session, job.id, done, failed)
            summary.done += done
            summary.failed += failed
            if on_progress is not None:
                on_progress(len(records), summary.total)
    except BaseException as exc:
        status = stored_jobs.CANCELLED if isinstance(exc, (KeyboardInterrupt, JobCancelled)) else stored_jobs.FAILED
        with db.transaction() as session:
            stored_jobs.finish_job(session, job.id, status, error=str(exc) or exc.__class__.__name__)
        raise
    with db.transaction() as session:
        stored_jobs.finish_job(session, job.id, stored_jobs.COMPLETED)
        summary.label_counts = label_counts(session, job.id)
        summary.failures = failures(session, job.id)
    summary.seconds = time.perf_counter() - started
    return summary
