"""One scheduler sends at a time: Celery beat's scheduler, gated on a lease in the database.

Every scheduler started (two replicas of the compose service, a second host) keeps its own
schedule, but only the one holding the ``scheduler`` lease sends what falls due; the others log
that they stand by and take over within three heartbeats (MOBILABEL_HEARTBEAT_S) of the active
one stopping. So each retraining slot is sent once, however many schedulers run.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..storage import Database
from ..storage.leases import release_lease, take_lease
from ..storage.ownership import silence_limit, this_process

log = logging.getLogger("mobilabel.scheduler")
LEASE = "scheduler"


class LeaderScheduler(PersistentScheduler):  # type: ignore[misc]  # celery.beat has no annotations
    """PersistentScheduler that sends a due entry only while it holds the scheduler lease."""

    settings: Settings  # set by ``leader_scheduler``

    def setup_schedule(self) -> None:
        super().setup_schedule()
        self._db = Database(self.settings.database_url)
        self._holder = this_process("scheduler")
        self._ttl = silence_limit(self.settings.heartbeat_s)
        self._held_since: float | None = None  # monotonic time of the last renewal that succeeded
        self._checked = 0.0
        self._announced: str | None = None

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if time.monotonic() - self._checked >= self.settings.heartbeat_s:
            self._renew()
        # Wake at least once a heartbeat, so the lease is renewed (or taken over) on time.
        return float(min(super().tick(*args, **kwargs), self.settings.heartbeat_s))

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        # The entry is marked run either way: a scheduler standing by passes its slots, as the
        # active one sends them; none is made up later.
        if not self._leading():
            self._renew()
        if self._leading():
            super().apply_entry(entry, producer=producer)

    def close(self) -> None:
        try:
            if self._held_since is not None:
                with self._db.transaction() as session:
                    release_lease(session, LEASE, self._holder)
        except SQLAlchemyError as exc:
            log.warning("could not give the scheduler lease up (%s); another scheduler takes over when it expires", exc)
        finally:
            self._db.dispose()
            super().close()

    def _leading(self) -> bool:
        """Held for sure: renewed less than a lease's life less a heartbeat ago."""
        margin = (self._ttl - timedelta(seconds=self.settings.heartbeat_s)).total_seconds()
        return self._held_since is not None and time.monotonic() - self._held_since < margin

    def _renew(self) -> None:
        self._checked = now = time.monotonic()
        try:
            with self._db.transaction() as session:
                holder = take_lease(session, LEASE, self._holder, self._ttl)
        except SQLAlchemyError as exc:
            holder = f"unknown: the database cannot be reached ({exc.__class__.__name__})"
        if holder is None:
            self._held_since = now
            holder = self._holder
        else:
            self._held_since = None
        if holder != self._announced:
            if holder == self._holder:
                log.info("this scheduler (%s) is active: it sends the sweeps and scheduled runs", self._holder)
            else:
                log.warning("another scheduler is active (%s): this one (%s) stands by", holder, self._holder)
            self._announced = holder


def leader_scheduler(settings: Settings) -> type[LeaderScheduler]:
    """The scheduler class beat builds, bound to ``settings``."""
    return type("BoundLeaderScheduler", (LeaderScheduler,), {"settings": settings})
