"""Relabelling the folders of recent jobs with a newly promoted version."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery import Celery

from ..broker import DEFAULT_QUEUE
from ..config import Settings
from ..pipeline.paths import FolderError
from ..storage import Database
from ..storage import jobs as stored_jobs
from ..storage.tables import utcnow
from .enqueue import enqueue_folder


def relabel_recent_jobs(db: Database, app: Celery, settings: Settings, version_id: str, since: timedelta) -> list[int]:
    """Enqueue, pinned to ``version_id``, each folder a job labelled within ``since``, on that job's queue
    (the default queue for a job labelled in-process); returns the new job ids."""
    with db.transaction() as session:
        roots = stored_jobs.recent_roots(session, utcnow() - since)
    jobs = []
    for root, queue in roots:
        try:
            jobs.append(enqueue_folder(db, app, settings, Path(root), settings.chunk_size, queue or DEFAULT_QUEUE, version_id).id)
        except FolderError:
            continue  # a folder that is gone has nothing left to relabel
    return jobs
