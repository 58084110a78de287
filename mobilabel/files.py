"""Opening a file without blocking on what is not one, and writing one so that a reader never sees it half-written."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO


class NotARegularFileError(OSError):
    """The path names a FIFO, socket, device or folder: nothing to read as a file."""


def file_kind(mode: int) -> str:
    """What ``mode`` (``os.stat().st_mode``) is, in a word a message can quote: file, folder, FIFO, socket, device."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def open_regular(path: Path | str) -> tuple[BinaryIO, int]:
    """A regular file opened for reading, and its size in bytes when opened.

    Opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so a FIFO never
    blocks the caller (a blocking open would wait for a writer forever) and a device such as
    ``/dev/zero`` is refused before a byte is read. Readers should read no more than the size
    returned (``read_bounded``). Raises ``NotARegularFileError`` for anything but a regular file,
    ``OSError`` when it cannot be opened.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(descriptor)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFileError(f"not a regular file ({file_kind(st.st_mode)})")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb"), st.st_size
    except BaseException:
        os.close(descriptor)
        raise


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename it into place.

    The rename is atomic on one filesystem, so a crash leaves either the old file or the
    new one; several processes writing the same path at once each finish cleanly.
    Creates missing parent folders; raises OSError when the folder is not writable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
