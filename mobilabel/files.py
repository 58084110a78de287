"""Files on disk: writing one so that a reader never sees it half-written, and reading only regular files,
never blocking on a FIFO nor reading a device without end, whatever the path's length."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO


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


@contextmanager
def replacing(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text file to write in pieces that takes ``path``'s place only when the block ends
    without an error (then atomically, as ``write_atomically``); otherwise ``path`` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Linux's PATH_MAX: a longer path must be reached a folder at a time (``openat``), as the walk does.
PATH_MAX = 4096
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


class NotRegularFileError(OSError):
    """A path that names something other than a regular file (a FIFO, socket, device or folder); never opened
    for reading. ``kind`` says what it is, e.g. "a FIFO (named pipe)"."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind}, not a regular file")
        self.kind = kind


# A check of the real path of a file once it is open, before it is read: the reason to refuse it, or None
# (``open_regular``; ``confinement.Confinement.refusal`` is one).
Confine = Callable[[Path], str | None]


class RefusedPathError(OSError):
    """A regular file opened but not read: the ``confine`` check of ``open_regular`` refused its real path (the reason)."""


class BrokenLinkError(FileNotFoundError):
    """A symbolic link whose target does not exist."""

    def __init__(self) -> None:
        super().__init__("a broken symbolic link: its target does not exist")


def file_kind(mode: int) -> str | None:
    """What an ``st_mode`` other than a regular file's is ("a FIFO (named pipe)", "a socket", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def stat_path(path: Path | str) -> os.stat_result:
    """``os.stat`` (links followed) that also reaches a path longer than ``PATH_MAX``; raises ``OSError``."""
    parent, name = _parent_fd(path)
    try:
        return os.stat(name, dir_fd=parent)
    finally:
        if parent is not None:
            os.close(parent)


def open_directory(path: Path | str) -> int:
    """A descriptor of the folder ``path`` (for ``os.scandir``), whatever the path's length; the caller closes it.
    Raises ``OSError`` (``NotADirectoryError`` for anything else)."""
    parent, name = _parent_fd(path)
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=parent)
    finally:
        if parent is not None:
            os.close(parent)


def open_regular(path: Path | str, confine: Confine | None = None) -> BinaryIO:
    """``path`` opened for reading (binary, buffered) if it is a regular file, links followed; never blocks.

    Anything else is refused before it is opened, so a FIFO cannot block the caller nor a device
    (``/dev/zero``) feed it forever: reads are then bounded by the size ``os.fstat`` gives. A path
    longer than ``PATH_MAX`` is reached a folder at a time. ``confine``, if given, is asked about the
    real path of the file once it is open (``opened_path``), before a byte is read: a reason it returns
    refuses the file, so a link swapped in after an earlier check is still caught. Raises
    ``NotRegularFileError`` (what it is), ``RefusedPathError`` (``confine``'s reason), ``BrokenLinkError``,
    ``FileNotFoundError``, ``PermissionError`` or another ``OSError``.
    """
    parent, name = _parent_fd(path)
    try:
        try:
            kind = file_kind(os.stat(name, dir_fd=parent).st_mode)
        except FileNotFoundError:
            if _is_link(name, parent):
                raise BrokenLinkError() from None
            raise
        if kind is not None:
            raise NotRegularFileError(kind)
        # O_NONBLOCK: were it swapped for a FIFO since the stat, opening would not wait for a writer.
        fd = os.open(name, _READ_FLAGS, dir_fd=parent)
    finally:
        if parent is not None:
            os.close(parent)
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFileError(kind)
        if confine is not None and (reason := confine(opened_path(fd, path))) is not None:
            raise RefusedPathError(reason)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def opened_path(fd: int, path: Path | str) -> Path:
    """The real path of the file open as ``fd`` (opened as ``path``): what the kernel opened, read from
    ``/proc/self/fd``, whatever was swapped in since; ``path`` resolved where that cannot be read."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:  # no /proc (not Linux), or a path too long for readlink
        return Path(os.path.realpath(path))


def _is_link(name: str | bytes, parent: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode)
    except OSError:
        return False


def _parent_fd(path: Path | str) -> tuple[int | None, bytes]:
    """(descriptor of the folder, name in it) to reach ``path`` by: (None, the path) when it is short enough to
    use whole; otherwise its folders are opened one at a time, each relative to the last (``openat``)."""
    raw = os.fsencode(path)
    if len(raw) < PATH_MAX:
        return None, raw
    parts = [part for part in raw.split(b"/") if part]
    if not parts:
        return None, raw
    fd = os.open(b"/" if raw.startswith(b"/") else b".", _DIRECTORY_FLAGS)
    try:
        for part in parts[:-1]:
            inner = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]
