"""Enqueueing a folder: record the job and its chunks, then send one task per chunk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from pathlib import Path

from celery import Celery

from ..broker import LABEL_CHUNK
from ..config import Settings
from ..pipeline.incremental import SkipCount, without_unchanged
from ..pipeline.paths import WalkCounts, check_folder, iter_images
from ..storage import Database, versions
from ..storage import chunks as stored_chunks
from ..storage import jobs as stored_jobs
from ..storage.heartbeat import Heartbeat
from ..storage.membership import record_job_images
from ..storage.ownership import beat_job, claim_job, release_job, this_process
from ..storage.states import ImageOutcome, JobState

# Chunks written per transaction and sent together: few round trips, bounded memory.
_CHUNKS_PER_COMMIT = 32


@dataclass(frozen=True)
class EnqueuedJob:
    id: int
    total: int  # images found
    skipped: int = 0  # of which not sent, as unchanged
    passed_over: dict[str, int] = field(default_factory=dict)  # other entries the walk met, by reason (``WalkCounts``)


def enqueue_folder(
    db: Database,
    app: Celery,
    settings: Settings,
    root: Path,
    chunk_size: int,
    queue: str,
    model_version_id: str | None = None,
    force: bool = False,
    images: Iterable[Path] | None = None,
) -> EnqueuedJob:
    """Walk ``root`` lazily and send its images in chunks; with ``images`` (under ``root``, already
    chosen by the caller, as ``watch`` does), send those instead, without walking or filtering. The job records
    what the walk passed over, by reason, and ``settings`` allowed roots, which the workers hold each file to
    when they open it (``Reader.within``).

    An image unchanged since the version in force labelled it is not sent (counted as
    skipped), unless ``force``. The check runs here, not on the workers, so that a folder
    with nothing changed costs no message and no chunk at all; the version in force is the
    job's pinned one, else the active one, else the newest ImageNet weights registered
    (what an unpinned worker labels with), which is what the workers use unless a
    promotion lands while the job runs.

    Chunks are committed before their messages are sent: if this process dies in
    between, the sweeper finds the chunks still queued and sends them. If the walk
    or the broker fails, the job is marked failed and its unsent chunks dropped.
    """
    root = check_folder(root)
    with db.transaction() as session:
        job = stored_jobs.create_job(
            session, str(root), model_version_id, status=JobState.ENQUEUING, queue=queue, allowed_roots=settings.allowed_roots
        )
        owner = this_process("enqueue")
        claim_job(session, job.id, owner)
        in_force = None if force else versions.version_in_force(session, model_version_id)
    skipped = SkipCount()
    walked = WalkCounts()
    heartbeat = Heartbeat(db, lambda session: beat_job(session, job.id, owner), settings.heartbeat_s, f"job {job.id}")
    try:
        with heartbeat:
            chosen = iter(images) if images is not None else without_unchanged(db, iter_images(root, walked), in_force, skipped)
            sent = _send_chunks(db, app, settings, job.id, chosen, chunk_size, queue, skipped, in_force)
    except BaseException as exc:
        with db.transaction() as session:
            stored_jobs.finish_job(session, job.id, JobState.FAILED, error=f"enqueueing stopped: {exc}")
            stored_chunks.cancel_chunks(session, job.id)
        raise
    with db.transaction() as session:
        stored_jobs.set_passed_over(session, job.id, walked.by_reason())
        release_job(session, job.id)  # from here on its chunks carry their workers, and the sweeper watches them
        stored_jobs.mark_running(session, job.id)
        stored_jobs.complete_if_finished(session, job.id)
    return EnqueuedJob(job.id, sent + skipped.unchanged, skipped.unchanged, walked.by_reason())


def _send_chunks(
    db: Database,
    app: Celery,
    settings: Settings,
    job_id: int,
    paths: Iterator[Path],
    chunk_size: int,
    queue: str,
    skipped: SkipCount,
    version_id: str | None,
) -> int:
    grace = timedelta(seconds=settings.queued_grace_s)
    total = seq = 0
    with app.producer_or_acquire() as producer:
        for group in _groups(_chunks(paths, chunk_size), _CHUNKS_PER_COMMIT):
            size = sum(len(c) for c in group)
            with db.transaction() as session:
                chunk_ids = stored_chunks.add_chunks(session, job_id, seq, group, grace)
                stored_jobs.set_total(session, job_id, total + size + skipped.unchanged)
            for chunk_id in chunk_ids:
                app.send_task(LABEL_CHUNK, args=[chunk_id], queue=queue, producer=producer)
            seq += len(group)
            total += size
    with db.transaction() as session:
        # The images found are those sent and those skipped; a job with none sent completes at once.
        stored_jobs.set_total(session, job_id, total + skipped.unchanged)
        stored_jobs.add_to_counters(session, job_id, 0, 0, skipped.unchanged)
        if version_id is not None:
            record_job_images(session, job_id, version_id, [(path, ImageOutcome.SKIPPED) for path in skipped.paths])
    return total


def _chunks(paths: Iterator[Path], size: int) -> Iterator[list[str]]:
    while chunk := [str(p) for p in islice(paths, size)]:
        yield chunk


def _groups(chunks: Iterator[list[str]], size: int) -> Iterator[list[list[str]]]:
    while group := list(islice(chunks, size)):
        yield group
