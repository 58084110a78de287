"""Incremental labelling: leave alone the files already labelled by this version and unchanged since.

A file is unchanged when its fingerprint (``imaging.content_identity``: size and modification
time, or an object's ETag and size, what each result row stores as ``content_id``) equals the one on its ``ok`` row for the
model version that would label it. Failed rows are never a reason to skip: they are retried.
Light (no torch): ``enqueue`` filters with it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from ..imaging import content_identity
from ..object_store import ObjectStoreError
from ..storage import Database
from ..storage.results import ok_fingerprints

# Paths looked up per query: few round trips, and well under SQLite's limit of bound parameters.
_LOOKUP_BATCH = 500


@dataclass
class SkipCount:
    """The files a filter has left out so far (recorded as the job's ``skipped`` images)."""

    paths: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return len(self.paths)


def without_unchanged(db: Database, paths: Iterable[Path], version_id: str | None, skipped: SkipCount) -> Iterator[Path]:
    """``paths``, lazily and in order, less those unchanged since ``version_id`` labelled them (counted in ``skipped``).

    With ``version_id`` None (``--force``, or no version known yet) every path is kept.
    A file that cannot be stat'ed is kept: labelling it reports why.
    """
    source = iter(paths)
    if version_id is None:
        yield from source
        return
    while group := list(islice(source, _LOOKUP_BATCH)):
        with db.transaction() as session:
            labelled = ok_fingerprints(session, version_id, [str(p) for p in group])
        for path in group:
            stored = labelled.get(str(path))
            if stored is not None and stored == _fingerprint(path):
                skipped.paths.append(str(path))
            else:
                yield path


def _fingerprint(path: Path) -> str | None:
    try:
        return content_identity(path)  # an object's comes from its listing: nothing is read
    except (OSError, ObjectStoreError):
        return None
