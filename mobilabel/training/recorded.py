"""A training run's progress written to its row, so `mobilabel runs`, the API and the page can follow it."""

from __future__ import annotations

import dataclasses
import time

from ..storage import Database
from ..storage import training_runs as stored_runs
from .options import Progress

# How often a run's progress is written to the database: enough to watch, little load.
PROGRESS_INTERVAL_S = 1.0


class RecordedProgress:
    """A progress callback that stores the run's newest progress at most every ``interval_s`` seconds,
    and always at the end of a phase (so the last state is never lost)."""

    def __init__(self, db: Database, run_id: int, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.db = db
        self.run_id = run_id
        self.interval_s = interval_s
        self.last_write = 0.0

    def __call__(self, progress: Progress) -> None:
        if time.monotonic() - self.last_write >= self.interval_s or progress.done == progress.total:
            self.last_write = time.monotonic()
            with self.db.transaction() as session:
                stored_runs.record_progress(session, self.run_id, dataclasses.asdict(progress))
