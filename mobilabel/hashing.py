"""Content hashes: what an image *is*, whatever its path or modification time.

xxHash's XXH3-128 (the ``xxhash`` package): non-cryptographic, several GB/s on one core,
so hashing the bytes a reader already holds costs nothing next to decoding them; 128 bits
make an accidental collision between two photos negligible. Imports nothing of the
project, so storage and the pipeline alike may use it.
"""

from __future__ import annotations

from pathlib import Path

import xxhash

_READ_BYTES = 1 << 20


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """The content hash of ``data``: 32 lowercase hex digits."""
    return xxhash.xxh3_128(data).hexdigest()


def hash_file(path: Path | str) -> str:
    """The content hash of a file's bytes, read in 1 MiB pieces; raises ``OSError`` if it cannot be read."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while piece := f.read(_READ_BYTES):
            digest.update(piece)
    return digest.hexdigest()
