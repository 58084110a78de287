"""Incremental labelling: leave alone the files already labelled by this version and unchanged since.

A file is unchanged when its fingerprint (``imaging.content_identity``: size and modification
time, or an object's ETag and size, what each result row stores as ``content_id``) equals the one on its ``ok`` row for the
model version that would label it. Failed rows are never a reason to skip: they are retried.
Light (no torch): ``enqueue`` filters with it too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from ..imaging import content_identity
from ..object_store import ObjectStoreError
from ..storage import Database
from ..storage.result_queries import ok_fingerprints

# Paths looked up per query: few round trips, and well under SQLite's limit of bound parameters.
_LOOKUP_BATCH = 500


@dataclass
class SkipCount:
    """The files a filter has left out so far (recorded as the job's ``skipped`` images)."""

    paths: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return len(self.paths)


# A location (a path, or later an object's URI) and its fingerprint (None: it cannot be looked at now).
Entry = tuple[str, str | None]


def without_unchanged(db: Database, paths: Iterable[Path], version_id: str | None, skipped: SkipCount) -> Iterator[Path]:
    """``paths``, lazily and in order, less those unchanged since ``version_id`` labelled them (counted in ``skipped``).

    With ``version_id`` None (``--force``, or no version known yet) every path is kept.
    A file that cannot be stat'ed is kept: labelling it reports why.
    """
    if version_id is None:
        yield from paths
        return
    # The paths themselves are yielded, not rebuilt from their text: an object's (``ObjectPath``) is no local
    # path. ``changed_entries`` keeps the order, so the paths it passed over are dropped from the front.
    pending: deque[Path] = deque()

    def entries() -> Iterator[Entry]:
        for path in paths:
            pending.append(path)
            yield str(path), fingerprint(path)

    for location, _ in changed_entries(db, entries(), version_id, skipped):
        while str(pending[0]) != location:
            pending.popleft()
        yield pending.popleft()


def changed_entries(
    db: Database, entries: Iterable[Entry], version_id: str, unchanged: SkipCount | None = None
) -> Iterator[Entry]:
    """``entries``, lazily and in order, less those whose fingerprint is the one on their ``ok`` row for
    ``version_id`` (their locations counted in ``unchanged``). An entry without a fingerprint is kept.

    Any listing that brings fingerprints along can be diffed so: a folder's walk, an object store's pages.
    """
    source = iter(entries)
    while group := list(islice(source, _LOOKUP_BATCH)):
        with db.transaction() as session:
            labelled = ok_fingerprints(session, version_id, [location for location, _ in group])
        for location, current in group:
            stored = labelled.get(location)
            if stored is not None and stored == current:
                if unchanged is not None:
                    unchanged.paths.append(location)
            else:
                yield location, current


def fingerprint(path: Path) -> str | None:
    """The file's fingerprint (``imaging.content_identity``), None when it cannot be stat'ed (gone, unreadable)."""
    try:
        return content_identity(path)  # an object's comes from its listing: nothing is read
    except (OSError, ObjectStoreError):
        return None
