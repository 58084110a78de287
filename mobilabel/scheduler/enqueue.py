"""Enqueueing a folder: record the job and its chunks, then send one task per chunk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from pathlib import Path

from celery import Celery

from ..broker import LABEL_CHUNK
from ..config import Settings
from ..pipeline.paths import check_folder, iter_images
from ..storage import Database
from ..storage import chunks as stored_chunks
from ..storage import jobs as stored_jobs
from ..storage.states import JobState

# Chunks written per transaction and sent together: few round trips, bounded memory.
_CHUNKS_PER_COMMIT = 32


@dataclass(frozen=True)
class EnqueuedJob:
    id: int
    total: int


def enqueue_folder(
    db: Database,
    app: Celery,
    settings: Settings,
    root: Path,
    chunk_size: int,
    queue: str,
    model_version_id: str | None = None,
) -> EnqueuedJob:
    """Walk ``root`` lazily and send its images in chunks.

    Chunks are committed before their messages are sent: if this process dies in
    between, the sweeper finds the chunks still queued and sends them. If the walk
    or the broker fails, the job is marked failed and its unsent chunks dropped.
    """
    root = check_folder(root)
    with db.transaction() as session:
        job = stored_jobs.create_job(session, str(root), model_version_id, status=JobState.ENQUEUING, queue=queue)
    try:
        total = _send_chunks(db, app, settings, job.id, root, chunk_size, queue)
    except BaseException as exc:
        with db.transaction() as session:
            stored_jobs.finish_job(session, job.id, JobState.FAILED, error=f"enqueueing stopped: {exc}")
            stored_chunks.cancel_chunks(session, job.id)
        raise
    with db.transaction() as session:
        stored_jobs.mark_running(session, job.id)
        stored_jobs.complete_if_finished(session, job.id)
    return EnqueuedJob(job.id, total)


def _send_chunks(db: Database, app: Celery, settings: Settings, job_id: int, root: Path, chunk_size: int, queue: str) -> int:
    grace = timedelta(seconds=settings.queued_grace_s)
    total = seq = 0
    with app.producer_or_acquire() as producer:
        for group in _groups(_chunks(iter_images(root), chunk_size), _CHUNKS_PER_COMMIT):
            size = sum(len(c) for c in group)
            with db.transaction() as session:
                chunk_ids = stored_chunks.add_chunks(session, job_id, seq, group, grace)
                stored_jobs.set_total(session, job_id, total + size)
            for chunk_id in chunk_ids:
                app.send_task(LABEL_CHUNK, args=[chunk_id], queue=queue, producer=producer)
            seq += len(group)
            total += size
    return total


def _chunks(paths: Iterator[Path], size: int) -> Iterator[list[str]]:
    while chunk := [str(p) for p in islice(paths, size)]:
        yield chunk


def _groups(chunks: Iterator[list[str]], size: int) -> Iterator[list[list[str]]]:
    while group := list(islice(chunks, size)):
        yield group
