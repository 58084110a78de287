"""A thread that keeps an owner's heartbeat going while its work runs (``ownership``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .database import Database

log = logging.getLogger(__name__)


class Heartbeat:
    """Within the block, ``beat`` (given a session; False: the work is no longer this owner's) runs in its own
    transaction every ``every_s`` seconds. A beat that cannot reach the database is skipped, not fatal:
    the work decides how long to wait for the database, and an owner silent too long is reaped by others."""

    def __init__(self, db: Database, beat: Callable[[Session], bool], every_s: float, what: str) -> None:
        self._db = db
        self._beat = beat
        self._every_s = every_s
        self._what = what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {what}", daemon=True)
        self.lost = False  # the work was no longer this owner's at the last beat (reaped, or ended elsewhere)

    def start(self) -> Heartbeat:
        """Beat from now on, for as long as the process lives (or until the work is lost)."""
        self._thread.start()
        return self

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                with self._db.transaction() as session:
                    mine = self._beat(session)
            except SQLAlchemyError as exc:
                log.warning("%s: heartbeat skipped, the database is unavailable (%s)", self._what, exc.__class__.__name__)
                continue
            if not mine:
                self.lost = True
                log.warning("%s: no longer this process's (taken as gone, or ended elsewhere)", self._what)
                return
