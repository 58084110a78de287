"""What `watch` watches: a source lists its entries, (location, fingerprint) pairs, lazily, and says when
an entry is complete (safe to label). A local folder is one source; an object-store prefix is another
listing of the same shape (its objects appear whole, so each is complete as soon as it is listed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from ..errors import MobilabelError
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


def local_folder(source: str) -> Path:
    """The folder ``source`` names; an object-store URI is refused with one line until those sources exist."""
    if "://" in source:
        raise MobilabelError(f"cannot watch {source}: only local folders can be watched for now (object stores: issue 32)")
    return Path(source)
