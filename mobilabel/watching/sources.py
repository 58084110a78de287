"""What `watch` watches: a source lists its entries, (location, fingerprint) pairs, lazily, and says when
an entry is complete (safe to label). A local folder is one source; an object-store prefix is another
listing of the same shape, polled."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from ..object_paths import ObjectPath
from ..pipeline.incremental import Entry, fingerprint
from ..pipeline.paths import check_folder, iter_images
from .events import WriteTracker


class Source(Protocol):
    """A library `watch` can follow."""

    @property
    def root(self) -> str:
        """Where it is: a folder's absolute path (what jobs record as their root)."""

    def entries(self) -> Iterable[Entry]:
        """Every image's (location, fingerprint), lazily: never the whole listing in memory."""

    def complete(self, location: str, current: str, earlier: str | None) -> bool:
        """Whether the entry, now ``current`` and at the previous check ``earlier`` (None: not seen then), is whole."""


class FolderSource:
    """A local folder, walked as `label` walks it (``pipeline.paths.iter_images``), fingerprinted by size and mtime.

    A file is complete when its fingerprint is unchanged across checks (``earlier``: the watcher passes it once
    the fingerprint has stayed the same for its settle time, the interval); with ``writes`` (filesystem events that report closes, Linux's inotify) it is
    complete as soon as its writer closed it unchanged since, and never while a writer has it open.
    """

    def __init__(self, folder: Path, writes: WriteTracker | None = None) -> None:
        self.folder = check_folder(folder)
        self.writes = writes

    @property
    def root(self) -> str:
        return str(self.folder)

    def entries(self) -> Iterator[Entry]:
        for path in iter_images(self.folder):
            yield str(path), fingerprint(path)

    def complete(self, location: str, current: str, earlier: str | None) -> bool:
        verdict = self.writes.verdict(location, current) if self.writes is not None else None
        return verdict if verdict is not None else current == earlier


class PrefixSource:
    """An object-store prefix, listed as `label` lists it (``pipeline.paths.iter_images``: pages, sub-prefixes at
    once), fingerprinted by ETag and size from the listing: no object is read to tell what changed.

    An object is complete when its fingerprint is unchanged across checks for the settle time, as a polled file
    is: a PUT lands whole, but an uploader that writes a key again at once (a retried or re-encoded upload)
    would otherwise have it labelled twice.
    """

    def __init__(self, prefix: ObjectPath) -> None:
        self.prefix = check_folder(prefix)

    @property
    def root(self) -> str:
        return str(self.prefix)

    def entries(self) -> Iterator[Entry]:
        for path in iter_images(self.prefix):
            yield str(path), fingerprint(path)

    def complete(self, location: str, current: str, earlier: str | None) -> bool:
        return current == earlier
