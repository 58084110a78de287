"""Handing off to this process: each check's complete entries are labelled here as one job, during the
folder's turn (``folder_turn``), as `mobilabel label` labels them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..config import Settings
from ..object_paths import ObjectPath, source_path
from ..pipeline.embedded import FolderWork, JobInterruptedError, label_folder
from ..pipeline.folder_turn import folder_turn
from ..pipeline.incremental import Entry, SkipCount, without_unchanged
from ..pipeline.labeller import Labeller
from ..storage import Database
from ..storage.versions import version_in_force


class LabelHere:
    """A ``HandOff`` labelling with ``labeller`` (built once: the model stays loaded between checks).

    Stops after the batch being written when ``stop`` is set, saying what was kept. While another run
    labels the folder, waits for it (``on_wait``), then labels only what that run left.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        folder: Path,
        labeller: Labeller,
        pinned: str | None,
        owner: str,
        stop: threading.Event,
        on_wait: Callable[[str, str], None],
    ) -> None:
        self._db = db
        self._settings = settings
        self._folder = folder
        self._labeller = labeller
        self._pinned = pinned
        self._owner = owner
        self._stop = stop
        self._on_wait = on_wait

    def __call__(self, entries: list[Entry]) -> str:
        with folder_turn(self._db, self._settings, self._folder, self._owner, self._on_wait):
            with self._db.transaction() as session:
                version = version_in_force(session, self._pinned)
            skipped = SkipCount()  # labelled meanwhile by a run this one waited for
            paths = list(without_unchanged(self._db, (_path(entry) for entry in entries), version, skipped))
            work = FolderWork(self._folder, paths, len(entries), skipped.paths)
            try:
                summary = label_folder(
                    self._db,
                    self._labeller,
                    work,
                    version_id=version,
                    stop_requested=self._stop.is_set,
                    settings=self._settings,
                    owner=self._owner,
                )
            except JobInterruptedError as stopped:
                return str(stopped)  # what was kept, and that labelling the folder again resumes
        failed = f", {summary.failed} failed" if summary.failed else ""
        meanwhile = f", {summary.skipped} labelled meanwhile by another run" if summary.skipped else ""
        return f"job {summary.job_id}: {summary.done} labelled{failed}{meanwhile}"


def _path(entry: Entry) -> Path:
    """The entry's file, or its object carrying the fingerprint the check saw (no request to learn it again)."""
    location, seen = entry
    path = source_path(location)
    if isinstance(path, ObjectPath):
        path.fingerprint = seen
    return path
