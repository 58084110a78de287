"""The watcher: at each check, the source's entries whose fingerprint differs from the one stored for the
version in force, less those handed off already, are handed off once complete (``Source.complete``).

State is the database's (what was labelled, at which fingerprint) plus, in memory, the fingerprints seen at the
previous check and those handed off but not yet labelled ok at that fingerprint (a chunk still on a worker, a file
that failed). So a restart catches up from the database alone, labelling nothing that was done, and a file that
fails is tried again when it changes (or when `label` runs on it), not at every check. What was handed off is
remembered across a change of the version in force: workers follow the active version, so a chunk sent before a
promotion (or before the first version was registered) may well be labelled by the new one; sending it again
would label it twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..pipeline.incremental import Entry, changed_entries
from ..storage import Database
from .sources import Source

# Labels or sends these entries (complete, under the source's root; each location with the fingerprint the check
# saw); returns a line saying what it did.
HandOff = Callable[[list[Entry]], str]


@dataclass(frozen=True)
class Check:
    """One check's outcome: entries handed off, entries new or changed but not yet complete, and what the hand-off said."""

    handed: int
    waiting: int
    said: str = ""


class Watcher:
    """Diffs ``source`` against the stored fingerprints for ``version()`` (the version in force, None before any
    is registered: everything is new) and hands complete new or changed entries to ``hand_off``."""

    def __init__(
        self,
        db: Database,
        source: Source,
        hand_off: HandOff,
        version: Callable[[], str | None],
        settle_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``settle_s``: how long, in seconds, an entry's fingerprint must have stayed the same before it counts as
        unchanged across a check (checks an event starts may follow each other within milliseconds, too close to
        tell a writer that has not written yet from one that is done)."""
        self.source = source
        self._db = db
        self._hand_off = hand_off
        self._version = version
        self._settle_s = settle_s
        self._clock = clock
        # Entries not yet complete at the last check: location -> (fingerprint, when first seen with it).
        self._seen: dict[str, tuple[str, float]] = {}
        self._handed: dict[str, str] = {}  # handed off, not yet labelled ok at that fingerprint

    def check(self) -> Check:
        """Look once: hand off what is new or changed and complete. Errors of the hand-off propagate (nothing is
        then remembered as handed, so the next check offers those entries again)."""
        version = self._version()
        listing = self.source.entries()
        changed = changed_entries(self._db, listing, version) if version is not None else iter(listing)
        ready: dict[str, str] = {}
        seen: dict[str, tuple[str, float]] = {}
        now = self._clock()
        handed: dict[str, str] = {}
        for location, current in changed:
            if current is None:  # gone between listing and look
                continue
            if self._handed.get(location) == current:
                handed[location] = current  # still not ok: on a worker, or failed; offered again once changed
            elif self.source.complete(location, current, self._settled(location, current, now)):
                ready[location] = current
            else:
                earlier = self._seen.get(location)
                seen[location] = earlier if earlier is not None and earlier[0] == current else (current, now)
        self._seen = seen
        said = self._hand_off(list(ready.items())) if ready else ""
        self._handed = handed | ready
        return Check(len(ready), len(seen), said)

    def _settled(self, location: str, current: str, now: float) -> str | None:
        """The fingerprint seen earlier, if it is ``current`` and has been for ``settle_s``; else None."""
        earlier = self._seen.get(location)
        if earlier is None or earlier[0] != current or now - earlier[1] < self._settle_s:
            return None
        return current


def keep_watching(
    watcher: Watcher,
    interval: float,
    wake: threading.Event,
    stop: threading.Event,
    on_check: Callable[[Check], None] = lambda check: None,
) -> None:
    """Check, then wait ``interval`` seconds or until ``wake`` is set (a filesystem event), until ``stop`` is set.

    Whoever sets ``stop`` sets ``wake`` too, so that the wait ends at once.
    """
    while not stop.is_set():
        wake.clear()
        on_check(watcher.check())
        wake.wait(interval)
