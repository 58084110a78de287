"""One labelling run at a time per folder: a second run on a folder being labelled (or on a folder inside or
around it) waits for the first, saying so, and then labels only what the first left (incremental labelling
skips what it labelled). It never refuses, and no image is labelled twice."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..config import Settings
from ..object_paths import source_path
from ..storage import Database
from ..storage.heartbeat import Heartbeat
from ..storage.leases import live_holders, release_lease, take_lease
from ..storage.ownership import silence_limit
from ..storage.pathcodec import to_stored

_PREFIX = "folder:"
# A holder is "OWNER\tFOLDER": the folder is what overlap is judged on, the owner what the waiter is told.
_SEPARATOR = "\t"


@contextmanager
def folder_turn(db: Database, settings: Settings, root: Path, owner: str, on_wait: Callable[[str, str], None]) -> Iterator[None]:
    """Within the block, this process alone labels ``root`` and the folders inside or around it.

    While another run holds one of them, wait, calling ``on_wait(its owner, its folder)`` once per run
    waited for; a run whose process died stops counting three heartbeats (MOBILABEL_HEARTBEAT_S) after
    its last. The turn is renewed every heartbeat while the block runs, and given up at its end.
    """
    folder = to_stored(source_path(root).absolute())
    name = _PREFIX + hashlib.sha256(folder.encode()).hexdigest()
    holder = f"{owner}{_SEPARATOR}{folder}"
    ttl = silence_limit(settings.heartbeat_s)
    announced: set[str] = set()
    while True:
        with db.transaction() as session:
            blocking = _overlapping(session, folder, holder) or take_lease(session, name, holder, ttl)
        if blocking is None:
            break
        if blocking not in announced:
            announced.add(blocking)
            other_owner, _, other_folder = blocking.partition(_SEPARATOR)
            on_wait(other_owner, other_folder)
        time.sleep(settings.heartbeat_s / 2)  # polling the database is how a waiting run learns the first ended

    def renew(session: Session) -> bool:
        return take_lease(session, name, holder, ttl) is None

    try:
        with Heartbeat(db, renew, settings.heartbeat_s, f"labelling {folder}"):
            yield
    finally:
        try:
            with db.transaction() as session:
                release_lease(session, name, holder)
        except SQLAlchemyError:
            pass  # the database is gone: the turn lapses by itself, three heartbeats on


def _overlapping(session: Session, folder: str, holder: str) -> str | None:
    """A live run's holder whose folder is ``folder``'s parent or child (the same folder is the lease's own business)."""
    for other in live_holders(session, _PREFIX):
        other_folder = other.partition(_SEPARATOR)[2]
        if other != holder and other_folder != folder and _nested(folder, other_folder):
            return other
    return None


def _nested(a: str, b: str) -> bool:
    return a.startswith(b.rstrip(os.sep) + os.sep) or b.startswith(a.rstrip(os.sep) + os.sep)
