"""Camera RAW files: found by name or signature, labelled from the largest JPEG preview the camera embedded
(what photo managers show, and fast: no demosaicing); ``raw_decoding`` develops those without one.

Where previews are: TIFF-structured RAWs (CR2, NEF, ARW, DNG, PEF, ORF, RW2, ...) point at them from their
directories (``JPEGInterchangeFormat``, or a strip compressed as JPEG, compression 6 or 7, that is not the
sensor data; RW2's ``JpgFromRaw``); Fujifilm's RAF names its JPEG in its header; for the rest (CR3, X3F,
maker-note previews) the file is searched for JPEG frames. Candidates are checked by their frame header
(``image_headers.jpeg_frame``) and the largest one libjpeg-turbo decodes is kept.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from .image_headers import JpegFrame, jpeg_frame
from .tiff_ifds import (
    COMPRESSION,
    JPEG_INTERCHANGE_FORMAT,
    JPEG_INTERCHANGE_FORMAT_LENGTH,
    ORIENTATION,
    PANASONIC_JPEG,
    PHOTOMETRIC,
    STRIP_BYTE_COUNTS,
    STRIP_OFFSETS,
    is_tiff_like,
    read_directories,
)

# Camera RAW extensions (lower case) and the format each names.
RAW_EXTENSIONS = frozenset({
    ".3fr", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".fff", ".iiq", ".kdc", ".mef", ".mos", ".mrw",
    ".nef", ".nrw", ".orf", ".pef", ".raf", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f",
})  # fmt: skip
# A preview whose shorter side is under this is a thumbnail: labelling it would guess from a few pixels.
MIN_PREVIEW_SIDE = 256
# How much of a RAW file is searched for JPEG frames when its structure names none.
_SCAN_BYTES = 64 * 1024 * 1024
_MAX_CANDIDATES = 64
# The markers before a JPEG's frame (EXIF, ICC profile) fit in this.
_HEAD_BYTES = 1 << 20
_SENSOR_PHOTOMETRIC = frozenset({32803, 34892})  # colour filter array, linear raw: the RAW data itself
_JPEG_COMPRESSION = frozenset({6, 7})
_RAF_SIGNATURE = b"FUJIFILMCCD-RAW"


@dataclass(frozen=True)
class Preview:
    """An embedded JPEG: its bytes, frame header, and the EXIF orientation (1-8) the RAW gives its pictures."""

    data: bytes
    frame: JpegFrame
    orientation: int


def raw_format(name: str, head: bytes) -> str | None:
    """The RAW format ("NEF", "CR3", ...) of a file by its extension, else by its signature (``head``: its
    first 16 bytes or more); None for a file that is not camera RAW."""
    extension = os.path.splitext(name)[1].lower()
    if extension in RAW_EXTENSIONS:
        return extension[1:].upper()
    if head.startswith(_RAF_SIGNATURE):
        return "RAF"
    if head[4:12] == b"ftypcrx ":
        return "CR3"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "ORF"
    if head[:4] == b"IIU\x00":
        return "RW2"
    if head[:4] == b"II*\x00" and head[8:10] == b"CR":
        return "CR2"
    return None


def largest_preview(f: BinaryIO) -> tuple[Preview | None, JpegFrame | None]:
    """(The largest embedded JPEG that libjpeg-turbo decodes and whose shorter side is at least
    ``MIN_PREVIEW_SIDE``, or None; the largest JPEG frame found at all, to say why none is usable).

    ``f`` is the RAW file, seekable. Reads its directories, then only the chosen preview's bytes.
    """
    f.seek(0)
    head = f.read(16)
    orientation = 1
    spans: list[tuple[int, int | None]] = []  # (offset, length or None: to the end of the scanned part)
    if is_tiff_like(head):
        try:
            directories = read_directories(f)
        except ValueError:
            directories = []
        orientation = directories[0].first(ORIENTATION, 1) if directories else 1
        for directory in directories:
            if JPEG_INTERCHANGE_FORMAT in directory.tags:
                spans.append((directory.first(JPEG_INTERCHANGE_FORMAT), directory.first(JPEG_INTERCHANGE_FORMAT_LENGTH)))
            strips, counts = directory.all(STRIP_OFFSETS), directory.all(STRIP_BYTE_COUNTS)
            if (
                directory.first(COMPRESSION) in _JPEG_COMPRESSION
                and directory.first(PHOTOMETRIC) not in _SENSOR_PHOTOMETRIC
                and len(strips) == len(counts) == 1
            ):
                spans.append((strips[0], counts[0]))
            if PANASONIC_JPEG in directory.offsets:
                spans.append(directory.offsets[PANASONIC_JPEG])
    elif head.startswith(_RAF_SIGNATURE):
        f.seek(84)
        spans.append(struct.unpack(">II", f.read(8).rjust(8, b"\0")))
    if not spans:
        f.seek(0)
        scanned = f.read(_SCAN_BYTES)
        start = scanned.find(b"\xff\xd8\xff")
        while start >= 0 and len(spans) < _MAX_CANDIDATES:
            spans.append((start, None))
            start = scanned.find(b"\xff\xd8\xff", start + 3)
    return _choose(f, spans, orientation if orientation in range(1, 9) else 1)


def _choose(f: BinaryIO, spans: list[tuple[int, int | None]], orientation: int) -> tuple[Preview | None, JpegFrame | None]:
    best: tuple[int, int, int | None] | None = None  # (pixels, offset, length)
    largest: JpegFrame | None = None
    for offset, length in spans:
        f.seek(offset)
        frame = jpeg_frame(f.read(min(length or _HEAD_BYTES, _HEAD_BYTES)))
        if frame is None:
            continue
        pixels = frame.width * frame.height
        if largest is None or pixels > largest.width * largest.height:
            largest = frame
        if frame.decoded and min(frame.width, frame.height) >= MIN_PREVIEW_SIDE and (best is None or pixels > best[0]):
            best = (pixels, offset, length)
    if best is None:
        return None, largest
    f.seek(best[1])
    data = f.read(best[2]) if best[2] else f.read(_SCAN_BYTES)
    frame = jpeg_frame(data)
    return (Preview(data, frame, orientation) if frame is not None else None), largest
