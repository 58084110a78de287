"""Placing exported images in class folders: each file under a name unique in its folder.

A file keeps its own name; a second file of the same name in the same folder gets its content
hash's first 8 hex digits after the stem (``IMG_1-1a2b3c4d.jpg``), and the whole hash if even that
is taken. A name already holding the same image (the same link target, the same inode, or a copy
with the same content) is reused, so exporting again into the same folder adds nothing twice.
The file system itself is the record of names taken: nothing is kept in memory per image.

An image in an object store (``s3://...``) can only be copied: its bytes fetched (``imaging.load_source``,
retried within a bound) and written; a link to it would point at nothing on this disk.
"""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
from pathlib import Path

from ..files import write_atomically
from ..hashing import hash_file
from ..imaging import ImageReadError, load_source
from ..object_paths import is_uri, source_path

SYMLINK = "symlink"
HARDLINK = "hardlink"
COPY = "copy"
MODES = (SYMLINK, HARDLINK, COPY)


def label_folder(label: str) -> str:
    """The folder name of ``label``: itself, with ``%``, ``/`` and NUL percent-encoded (a label is
    free text; a name is not), and ``.``/``..`` and the empty label encoded whole. One-to-one."""
    name = label.replace("%", "%25").replace("/", "%2F").replace("\0", "%00")
    return name.replace(".", "%2E") if name in (".", "..") else name or "%"


def place(source: str, folder: Path, content_hash: str | None, mode: str) -> tuple[str, bool]:
    """Put the image at ``source`` into ``folder`` by ``mode`` (one of ``MODES``).

    Returns the file's name in ``folder`` and whether it was made now (False: it was there).
    Raises ``OSError`` when ``source`` cannot be read or the file cannot be made (a hard link
    across file systems: ``errno.EXDEV``), ``FileExistsError`` when every candidate name holds
    another image.
    """
    if is_uri(source):
        return _place_object(source, folder, content_hash, mode)
    os.stat(source)  # a missing source is an error in every mode, a dangling symlink included
    for name in names_for(source, content_hash):
        target = folder / name
        if os.path.lexists(target):
            if _holds(target, source, content_hash, mode):
                return name, False
            continue
        _make(source, target, mode)
        return name, True
    raise FileExistsError(errno.EEXIST, f"every name for it in {folder} holds another image", os.path.basename(source))


def _place_object(source: str, folder: Path, content_hash: str | None, mode: str) -> tuple[str, bool]:
    if mode != COPY:
        raise OSError(errno.EINVAL, f"an object in a store can only be copied ({COPY}), not exported as a {mode}", source)
    try:
        data = load_source(source_path(source)).data or b""
    except ImageReadError as exc:
        raise OSError(errno.EIO, str(exc), source) from exc
    for name in names_for(source, content_hash):
        target = folder / name
        if os.path.lexists(target):
            if not target.is_symlink() and target.stat().st_size == len(data) and target.read_bytes() == data:
                return name, False
            continue
        write_atomically(target, data)
        return name, True
    raise FileExistsError(errno.EEXIST, f"every name for it in {folder} holds another image", os.path.basename(source))


def names_for(source: str, content_hash: str | None) -> list[str]:
    """The names the image at ``source`` may take in its folder, in the order tried."""
    base = os.path.basename(source)
    stem, suffix = os.path.splitext(base)
    return [base, *([f"{stem}-{content_hash[:8]}{suffix}", f"{stem}-{content_hash}{suffix}"] if content_hash else [])]


def _holds(target: Path, source: str, content_hash: str | None, mode: str) -> bool:
    """Whether ``target`` is already ``source`` as ``mode`` would have made it."""
    try:
        if mode == SYMLINK:
            return target.is_symlink() and os.readlink(target) == source
        if target.is_symlink():
            return False
        if mode == HARDLINK:
            return os.path.samefile(target, source)
        if target.stat().st_size != os.stat(source).st_size:
            return False
        return hash_file(target) == content_hash if content_hash else filecmp.cmp(target, source, shallow=False)
    except OSError:
        return False


def _make(source: str, target: Path, mode: str) -> None:
    if mode == SYMLINK:
        os.symlink(source, target)
    elif mode == HARDLINK:
        os.link(source, target)
    elif mode == COPY:
        # Copied under a temporary name and renamed: an interrupted copy never looks like an exported image.
        partial = target.with_name(f".{target.name}.part")
        try:
            shutil.copy2(source, partial)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    else:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
