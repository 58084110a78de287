"""Running the library exports the API accepts: in this server, one at a time in a background thread.

An export writes to this server's disk, so it runs here rather than on a worker. Its record
(progress, outcome) lives in this process and is gone when the server stops; what it wrote stays,
and exporting again into the same folder finishes the job (exchange.library is idempotent).
"""

from __future__ import annotations

import itertools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ...errors import MobilabelError
from ...exchange.library import ExportOptions, ExportSummary, export_library
from ...storage import Database
from ...storage.export_rows import ExportFilter
from ...storage.tables import utcnow

log = logging.getLogger(__name__)

RUNNING = "running"
DONE = "done"
FAILED = "failed"
QUEUED = "queued"


@dataclass(frozen=True)
class ExportRecord:
    """One export as the API reports it."""

    id: int
    status: str
    destination: str
    where: ExportFilter
    options: ExportOptions
    summary: ExportSummary
    error: str | None
    created_at: datetime
    finished_at: datetime | None = None


class ExportRunner:
    """Accepts exports and runs them in turn; remembers each one's progress and outcome."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="api-export")
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._records: dict[int, ExportRecord] = {}

    def submit(self, destination: Path, where: ExportFilter, options: ExportOptions) -> ExportRecord:
        """Queue an export (its destination and filter checked already) and return its record at once."""
        with self._lock:
            record = ExportRecord(next(self._ids), QUEUED, str(destination), where, options, ExportSummary(), None, utcnow())
            self._records[record.id] = record
        self._executor.submit(self._run, record.id)
        return record

    def get(self, export_id: int) -> ExportRecord | None:
        with self._lock:
            return self._records.get(export_id)

    def list(self) -> list[ExportRecord]:
        """Every export this server accepted, newest first."""
        with self._lock:
            return sorted(self._records.values(), key=lambda r: r.id, reverse=True)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Return once every export accepted so far has ended; raises ``TimeoutError`` after ``timeout`` s."""
        self._executor.submit(lambda: None).result(timeout=timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _update(self, export_id: int, **changes: object) -> None:
        with self._lock:
            self._records[export_id] = replace(self._records[export_id], **changes)  # type: ignore[arg-type]

    def _run(self, export_id: int) -> None:
        record = self._records[export_id]
        self._update(export_id, status=RUNNING)
        try:
            summary = export_library(
                self._db,
                Path(record.destination),
                record.where,
                record.options,
                lambda s: self._update(export_id, summary=s.snapshot()),
            )
        except Exception as exc:
            log.exception("export %s failed", export_id)
            reason = (
                str(exc) if isinstance(exc, MobilabelError | OSError) else "the server could not finish this export; see its log"
            )
            self._update(export_id, status=FAILED, error=reason, finished_at=utcnow())
        else:
            self._update(export_id, status=DONE, summary=summary, finished_at=utcnow())
