"""A small reader of TIFF directories (IFDs), the structure of TIFF files and of most camera RAW files
(CR2, NEF, ARW, DNG, PEF, ... and, with their own magic numbers, ORF and RW2).

Only tags are read, never pixels: what a file holds (its previews, its sample layout), so that
RAW files can be labelled from their embedded JPEG and TIFFs no decoder takes get a true reason.
Every read is bounded (directories, entries and values per tag), so a hostile file costs little.
Works on any seekable binary file object (a file, or ``io.BytesIO`` of bytes in memory).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

# TIFF 6.0 tags (and DNG's SubIFDs) this reader is asked about.
NEW_SUBFILE_TYPE = 0x00FE
IMAGE_WIDTH = 0x0100
IMAGE_LENGTH = 0x0101
BITS_PER_SAMPLE = 0x0102
COMPRESSION = 0x0103
PHOTOMETRIC = 0x0106
STRIP_OFFSETS = 0x0111
ORIENTATION = 0x0112
SAMPLES_PER_PIXEL = 0x0115
STRIP_BYTE_COUNTS = 0x0117
TILE_OFFSETS = 0x0144
TILE_BYTE_COUNTS = 0x0145
SUB_IFDS = 0x014A
SAMPLE_FORMAT = 0x0153
JPEG_INTERCHANGE_FORMAT = 0x0201
JPEG_INTERCHANGE_FORMAT_LENGTH = 0x0202
EXIF_IFD = 0x8769
# Panasonic RW2 keeps its full-size JPEG in IFD0 under this tag (JpgFromRaw), as bytes.
PANASONIC_JPEG = 0x002E

# The magic numbers after the byte order: TIFF (42), Olympus ORF ("RO", "RS"), Panasonic RW2 (0x55).
_MAGIC = {42, 0x4F52, 0x5352, 0x55}
_MAX_IFDS = 64
_MAX_ENTRIES = 1024
_MAX_VALUES = 4096
# Type id -> (struct code, size in bytes); rationals are read as their numerator and denominator.
_TYPES = {1: ("B", 1), 2: ("B", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 6: ("b", 1), 7: ("B", 1), 8: ("h", 2), 9: ("i", 4),
          10: ("ii", 8), 11: ("f", 4), 12: ("d", 8), 13: ("I", 4)}  # fmt: skip


@dataclass(frozen=True)
class Directory:
    """One IFD: ``tags`` maps a tag number to its values (at most ``_MAX_VALUES`` of them), and where each
    tag's values start in the file (``offsets``, for a tag whose value is the bytes themselves)."""

    tags: dict[int, tuple[float, ...]]
    offsets: dict[int, tuple[int, int]]  # tag -> (file offset of its values, their size in bytes)

    def first(self, tag: int, default: int = 0) -> int:
        values = self.tags.get(tag)
        return int(values[0]) if values else default

    def all(self, tag: int) -> tuple[int, ...]:
        return tuple(int(v) for v in self.tags.get(tag, ()))


def is_tiff_like(head: bytes) -> bool:
    """Whether ``head`` (the first 4 bytes or more) starts as a TIFF-structured file does."""
    if head[:2] not in (b"II", b"MM") or len(head) < 4:
        return False
    return struct.unpack(("<" if head[:2] == b"II" else ">") + "H", head[2:4])[0] in _MAGIC


def read_directories(f: BinaryIO) -> list[Directory]:
    """Every IFD of the file: the main chain, then each one's SubIFDs and Exif IFD, in the order met.

    Raises ``ValueError`` when the file does not start as a TIFF; a directory that cannot be read
    (outside the file, a loop) ends that branch, so a damaged file gives what could be read.
    """
    f.seek(0)
    head = f.read(8)
    if len(head) < 8 or not is_tiff_like(head):
        raise ValueError("not a TIFF-structured file")
    order = "<" if head[:2] == b"II" else ">"
    (first,) = struct.unpack(order + "I", head[4:8])
    found: list[Directory] = []
    seen: set[int] = set()
    pending = [first]
    while pending and len(found) < _MAX_IFDS:
        offset = pending.pop(0)
        while offset and offset not in seen and len(found) < _MAX_IFDS:
            seen.add(offset)
            directory, following = _read_directory(f, order, offset)
            if directory is None:
                break
            found.append(directory)
            pending.extend(directory.all(SUB_IFDS))
            pending.extend(directory.all(EXIF_IFD))
            offset = following
    return found


def _read_directory(f: BinaryIO, order: str, offset: int) -> tuple[Directory | None, int]:
    f.seek(offset)
    raw = f.read(2)
    if len(raw) < 2:
        return None, 0
    (count,) = struct.unpack(order + "H", raw)
    if count > _MAX_ENTRIES:
        return None, 0
    entries = f.read(12 * count + 4)
    if len(entries) < 12 * count + 4:
        return None, 0
    tags: dict[int, tuple[float, ...]] = {}
    offsets: dict[int, tuple[int, int]] = {}
    for i in range(count):
        tag, kind, number = struct.unpack(order + "HHI", entries[12 * i : 12 * i + 8])
        if kind not in _TYPES:
            continue
        code, size = _TYPES[kind]
        total = size * number
        where = offset + 2 + 12 * i + 8 if total <= 4 else struct.unpack(order + "I", entries[12 * i + 8 : 12 * i + 12])[0]
        offsets[tag] = (where, total)
        wanted = min(number, _MAX_VALUES)
        if total <= 4:
            data = entries[12 * i + 8 : 12 * i + 8 + total]
        else:
            f.seek(where)
            data = f.read(min(total, _MAX_VALUES * size))
        usable = min(wanted, len(data) // size)
        tags[tag] = struct.unpack(order + code * usable, data[: usable * size])
    (following,) = struct.unpack(order + "I", entries[12 * count : 12 * count + 4])
    return Directory(tags, offsets), following


def data_ends_early(f: BinaryIO, directory: Directory) -> bool:
    """Whether any strip or tile of ``directory`` lies past the end of ``f``: the file was cut short."""
    size = f.seek(0, 2)
    for offsets, counts in ((STRIP_OFFSETS, STRIP_BYTE_COUNTS), (TILE_OFFSETS, TILE_BYTE_COUNTS)):
        if any(start + count > size for start, count in zip(directory.all(offsets), directory.all(counts), strict=False)):
            return True
    return False
