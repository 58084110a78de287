"""Content hashes: what an image *is*, whatever its path or modification time.

xxHash's XXH3-128 (the ``xxhash`` package): non-cryptographic, several GB/s on one core,
so hashing the bytes a reader already holds costs nothing next to decoding them; 128 bits
make an accidental collision between two photos negligible. Imports only ``files``, so
storage and the pipeline alike may use it.
"""

from __future__ import annotations

from pathlib import Path

import xxhash

from .files import open_regular

_READ_BYTES = 1 << 20


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The content hash of ``data``: 32 lowercase hex digits."""
    return xxhash.xxh3_128(data).hexdigest()


def hash_file(path: Path | str) -> str:
    """The content hash of a regular file's bytes, read in 1 MiB pieces up to its size when opened
    (``files.open_regular``: a FIFO or device is refused, never waited on nor read without end).

    Raises ``OSError`` (``NotARegularFileError`` for a FIFO, device, socket or folder) if it cannot be read.
    """
    digest = xxhash.xxh3_128()
    f, left = open_regular(path)
    with f:
        while left > 0 and (piece := f.read(min(_READ_BYTES, left))):
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()
