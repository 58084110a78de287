"""Paths: finding the images under a folder, and keeping reads inside the allowed roots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..confinement import outside_roots as outside_roots  # the one confinement check, re-exported for the reader
from ..errors import MobilabelError
from ..imaging import is_image_name


class FolderError(MobilabelError):
    """A folder that cannot be labelled (missing, not a folder, unreadable)."""


def check_folder(root: Path) -> Path:
    """The folder's absolute path, or a ``FolderError`` that says what is wrong with it."""
    if not root.exists():
        raise FolderError(f"folder not found: {root}")
    if not root.is_dir():
        raise FolderError(f"not a folder: {root}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise FolderError(f"folder cannot be read (permission denied): {root}")
    return Path(os.path.abspath(root))


@dataclass
class WalkCounts:
    """What a walk passed over: files whose name is not an image's (``imaging.IMAGE_EXTENSIONS``)."""

    not_images: int = 0


def iter_images(root: Path, counts: WalkCounts | None = None) -> Iterator[Path]:
    """Image files (by extension, any case) under ``root`` in a stable order, walked lazily.

    Symlinked folders are followed once each: a folder already visited (by its
    device and inode) is skipped, so a link loop ends the walk instead of hanging it.
    Only the folder stack is held in memory, never the list of files. Other files are
    counted in ``counts``, so nothing is passed over silently.
    """
    root = check_folder(root)
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError:
            continue  # an unreadable sub-folder holds nothing we could label
        subfolders = []
        for entry in entries:
            try:
                if entry.is_dir():
                    subfolders.append(Path(entry.path))
                elif entry.is_file():
                    if is_image_name(entry.name):
                        yield Path(entry.path)
                    elif counts is not None:
                        counts.not_images += 1
            except OSError:
                continue
        stack.extend(reversed(subfolders))

