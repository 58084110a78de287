"""The sha256 of a weights file, remembered in the model cache: `mobilabel predict PHOTO` tells the version of
MOBILABEL_PRETRAINED (``imagenet-`` + its hash) without reading and hashing its 14 MB on every start.

The hash is remembered with the file's absolute path, inode, size, modification and change times (ns); it is
used only while all are the same, so a replaced or rewritten file is hashed again (a replacement has another
inode; the change time moves even when a tool puts the modification time back). One file is remembered:
MOBILABEL_PRETRAINED names one at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..config import Settings
from ..files import write_atomically
from .files import weights_hash_file


def weights_sha256(settings: Settings, path: Path) -> str:
    """The hex sha256 of the bytes of ``path``: remembered (``weights_hash_file``) while the file is as it was when
    hashed, else read, hashed and remembered now. Raises OSError when ``path`` cannot be read."""
    identity = _identity(path)
    remembered_file = weights_hash_file(settings)
    try:
        remembered = json.loads(remembered_file.read_text())
    except (OSError, ValueError):  # none yet, or damaged: hash again
        remembered = None
    if isinstance(remembered, dict) and remembered.get("file") == identity and isinstance(remembered.get("sha256"), str):
        return str(remembered["sha256"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    # Remembered only if the file did not change while it was read: else the next call hashes it again.
    if _identity(path) == identity:
        try:
            write_atomically(remembered_file, json.dumps({"file": identity, "sha256": digest}).encode())
        except OSError:  # a read-only model cache costs the hash on every start, nothing else
            pass
    return digest


def _identity(path: Path) -> dict[str, str | int]:
    status = os.stat(path)
    return {
        "path": str(path.absolute()),
        "inode": status.st_ino,
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "ctime_ns": status.st_ctime_ns,
    }
