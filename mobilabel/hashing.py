"""Content hashes: what an image *is*, whatever its path or modification time.

xxHash's XXH3-128 (the ``xxhash`` package): non-cryptographic, several GB/s on one core,
so hashing the bytes a reader already holds costs nothing next to decoding them; 128 bits
make an accidental collision between two photos negligible. Imports only ``files`` of the
project, so storage and the pipeline alike may use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import xxhash

from .files import Confine, open_regular

_READ_BYTES = 1 << 20


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The content hash of ``data``: 32 lowercase hex digits."""
    return xxhash.xxh3_128(data).hexdigest()


def hash_file(path: Path | str, confine: Confine | None = None) -> str:
    """The content hash of a regular file's bytes (``files.open_regular``: never a FIFO or device, nor one whose
    real path ``confine`` refuses), read in 1 MiB pieces; raises ``OSError`` if it cannot be read."""
    with open_regular(path, confine) as f:
        return hash_stream(f, os.fstat(f.fileno()).st_size)


def hash_stream(f: BinaryIO, size: int) -> str:
    """The content hash of the next ``size`` bytes of ``f`` (fewer if it ends first), read in 1 MiB pieces."""
    digest = xxhash.xxh3_128()
    while size > 0 and (piece := f.read(min(_READ_BYTES, size))):
        digest.update(piece)
        size -= len(piece)
    return digest.hexdigest()
