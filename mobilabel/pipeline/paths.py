"""Paths: finding the images under a folder or an object-store prefix (confinement to the allowed roots
is ``confinement``'s)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import object_store
from ..errors import MobilabelError
from ..files import file_kind, open_directory
from ..imaging import is_image_name
from ..object_paths import ObjectPath


class FolderError(MobilabelError):
    """A folder that cannot be labelled (missing, not a folder, unreadable)."""


def check_folder(root: Path) -> Path:
    """The folder's absolute path (a prefix, ``ObjectPath``, as it is once its bucket answers), or a
    ``FolderError`` that says what is wrong with it."""
    if isinstance(root, ObjectPath):
        try:
            object_store.check_prefix(root)
        except object_store.ObjectStoreError as exc:
            raise FolderError(str(exc)) from exc
        return root
    if not root.exists():
        raise FolderError(f"folder not found: {root}")
    if not root.is_dir():
        raise FolderError(f"not a folder: {root}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise FolderError(f"folder cannot be read (permission denied): {root}")
    return Path(os.path.abspath(root))


# Why a walk passed an entry over (``WalkCounts``); the summary prints each with its count.
NOT_AN_IMAGE = "not an image"
BROKEN_LINK = "broken symbolic link"
FOLDER_WALKED = "link to a folder already walked"


@dataclass
class WalkCounts:
    """What a walk passed over, by reason: files whose name is not an image's (``imaging.IMAGE_EXTENSIONS``),
    FIFOs, sockets and devices ("a socket, not a regular file"), broken links, folders it could not read or
    had walked already. Entries with an image's name are never passed over: labelling says why they fail."""

    passed_over: Counter[str] = field(default_factory=Counter)

    def by_reason(self) -> dict[str, int]:
        """Count by reason, "not an image" first, then the rest by name (a stable order for the summary)."""
        return dict(sorted(self.passed_over.items(), key=lambda item: (item[0] != NOT_AN_IMAGE, item[0])))


def iter_images(root: Path, counts: WalkCounts | None = None) -> Iterator[Path]:
    """Entries named as images (by extension, any case) under ``root`` in a stable order, walked lazily.

    Every entry with an image's name is yielded, also a FIFO, device or broken link (reading it fails with
    the reason); every other entry is a folder walked or is counted in ``counts``, so nothing the walk
    meets vanishes silently. Folders are opened one at a time relative to their parent's path (``files.
    open_directory``), so paths longer than ``PATH_MAX`` are walked too. Symlinked folders are followed once
    each: a folder already visited (by its device and inode) is counted, so a link loop ends the walk
    instead of hanging it. Only the folder stack is held in memory, never the list of files.

    Under a prefix (``ObjectPath``) the objects are listed a page at a time (``object_store.list_objects``: sub-prefixes
    at once), with the same rule on names; each comes with its fingerprint.
    """
    root = check_folder(root)
    counts = counts if counts is not None else WalkCounts()
    if isinstance(root, ObjectPath):
        yield from _iter_objects(root, counts)
        return
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            fd = open_directory(folder)
        except OSError as exc:  # a sub-folder removed or made unreadable since its parent was listed
            counts.passed_over[f"folder that cannot be read ({exc.strerror or exc})"] += 1
            continue
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) in seen:
                counts.passed_over[FOLDER_WALKED] += 1
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(fd) as scan:
                entries = sorted(scan, key=lambda e: e.name)
            subfolders = []
            for entry in entries:
                path = folder / entry.name
                kind = _kind(entry)
                if kind == "folder":
                    subfolders.append(path)
                elif is_image_name(entry.name):
                    yield path
                else:
                    counts.passed_over[kind] += 1
        finally:
            os.close(fd)
        stack.extend(reversed(subfolders))


def _iter_objects(prefix: ObjectPath, counts: WalkCounts) -> Iterator[Path]:
    try:
        for path in object_store.list_objects(prefix):
            if is_image_name(path.name):
                yield path
            else:
                counts.passed_over[NOT_AN_IMAGE] += 1
    except object_store.ObjectStoreError as exc:
        raise FolderError(str(exc)) from exc


def _kind(entry: os.DirEntry[str]) -> str:
    """ "folder", NOT_AN_IMAGE for a regular file (the caller looks at its name), else why it is passed over."""
    try:
        if entry.is_dir():
            return "folder"
        mode = entry.stat().st_mode
    except FileNotFoundError:
        return BROKEN_LINK if entry.is_symlink() else "removed while the folder was read"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    kind = file_kind(mode)
    return NOT_AN_IMAGE if kind is None else f"{kind}, not a regular file"
