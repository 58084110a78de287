"""Handing off to the workers: each check's complete entries are sent as one job, in chunks, through the
broker (``dispatch.submit_job``), as `mobilabel enqueue` sends a folder."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..dispatch import submit_job
from ..object_paths import source_path
from ..pipeline.incremental import Entry
from ..storage import Database


class SendToWorkers:
    """A ``HandOff`` that sends locations (files, objects) under ``folder`` to queue ``queue`` in chunks of ``chunk_size``
    (None: MOBILABEL_CHUNK_SIZE), pinned to version ``pinned`` if given. A broker that cannot be reached
    raises ``BrokerError`` (the job is then marked failed; nothing is remembered as sent)."""

    def __init__(
        self, db: Database, settings: Settings, folder: Path, chunk_size: int | None, queue: str, pinned: str | None
    ) -> None:
        self._db = db
        self._settings = settings
        self._folder = folder
        self._chunk_size = chunk_size
        self._queue = queue
        self._pinned = pinned

    def __call__(self, entries: list[Entry]) -> str:
        job = submit_job(
            self._db,
            self._settings,
            self._folder,
            chunk_size=self._chunk_size,
            queue=self._queue,
            pinned=self._pinned,
            force=True,  # chosen already: the watcher left out what is unchanged
            images=[source_path(location) for location, _ in entries],
        )
        return f"job {job.id}: {job.total} sent to queue {self._queue}"
