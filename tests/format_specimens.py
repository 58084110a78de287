"""Files assembled from the formats' specifications, for what no encoder here writes: JPEG frame headers of
every coding process and precision (ITU T.81), TIFFs of any sample layout (TIFF 6.0), PNGs of any colour type
and bit depth (PNG 1.2), and camera RAW files (a DNG with a JPEG preview, TIFF-based RAWs without one)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# ITU T.81 table B.1 markers C0-CF less DHT (C4), JPG (C8), DAC (CC); and the precisions each process allows.
SOF_MARKERS = [m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)]
LOSSLESS = {0xC3, 0xC7, 0xCB, 0xCF}


def sof_precisions(marker: int) -> list[int]:
    if marker == 0xC0:
        return [8]
    return [2, 8, 12, 16] if marker in LOSSLESS else [8, 12]


def jpeg_with_frame(photo_jpeg: bytes, marker: int, precision: int) -> bytes:
    """A baseline JPEG's bytes with its frame header's marker and precision replaced: the header of a file
    of that process; its scan data stays the baseline's (valid data for SOF1 at 8 bits, which codes as baseline)."""
    at = photo_jpeg.index(b"\xff\xc0")
    return photo_jpeg[:at] + bytes([0xFF, marker]) + photo_jpeg[at + 2 : at + 4] + bytes([precision]) + photo_jpeg[at + 5 :]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_of(colour_type: int, depth: int, width: int = 64, height: int = 48) -> bytes:
    """A PNG of ``colour_type`` and ``depth`` holding a gradient (a grey palette for type 3), assembled by hand."""
    channels = PNG_CHANNELS[colour_type]
    top = (1 << depth) - 1
    values = (np.arange(width * channels)[None, :] * top // max(1, width * channels - 1) + np.arange(height)[:, None]) % (top + 1)
    if depth < 8:
        rows = [
            np.packbits(np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - depth :].reshape(-1)).tobytes()
            for row in values
        ]
    elif depth == 8:
        rows = [row.astype(np.uint8).tobytes() for row in values]
    else:
        rows = [row.astype(">u2").tobytes() for row in values]
    raw = b"".join(b"\x00" + row for row in rows)
    chunks = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))
    if colour_type == 3:
        chunks += png_chunk(b"PLTE", bytes(np.repeat(np.linspace(0, 255, 1 << depth).astype(np.uint8), 3)))
    return b"\x89PNG\r\n\x1a\n" + chunks + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


# TIFF field types: SHORT, LONG.
_SHORT, _LONG = 3, 4


Tags = dict[int, tuple[int, list[int]]]


def tiff_of(tags: Tags, pixels: bytes) -> bytes:
    """A little-endian TIFF with one image directory: ``tags`` (tag -> (type, values)) and one strip ``pixels``."""
    return tiff_file([(tags, pixels, None)])


def tiff_file(directories: list[tuple[Tags, bytes, bytes | None]]) -> bytes:
    """A little-endian TIFF: the first of ``directories`` is IFD0, the others its SubIFDs; each is (tags, its one
    strip's bytes, a JPEG it names by JPEGInterchangeFormat or None). Offsets and counts are filled in here."""
    laid = []
    for i, (tags, strip, jpeg) in enumerate(directories):
        tags = dict(tags)
        tags[0x0111] = (_LONG, [0])
        tags[0x0117] = (_LONG, [len(strip)])
        if jpeg is not None:
            tags[0x0201] = (_LONG, [0])
            tags[0x0202] = (_LONG, [len(jpeg)])
        if i == 0 and len(directories) > 1:
            tags[0x014A] = (_LONG, [0] * (len(directories) - 1))
        laid.append(tags)
    starts, offset = [], 8
    for tags in laid:
        starts.append(offset)
        offset += 2 + 12 * len(tags) + 4 + sum(len(_packed(k, v)) for k, v in tags.values() if len(_packed(k, v)) > 4)
    blobs = []
    for i, (_, strip, jpeg) in enumerate(directories):
        laid[i][0x0111] = (_LONG, [offset])
        blobs.append(strip)
        offset += len(strip)
        if jpeg is not None:
            laid[i][0x0201] = (_LONG, [offset])
            blobs.append(jpeg)
            offset += len(jpeg)
    if len(directories) > 1:
        laid[0][0x014A] = (_LONG, starts[1:])
    body = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for tags, start in zip(laid, starts, strict=True):
        body += _directory(tags, start + 2 + 12 * len(tags) + 4)
    return bytes(body + b"".join(blobs))


def _packed(kind: int, values: list[int]) -> bytes:
    """Values of TIFF type ``kind``; a (signed) rational's are given as numerator, denominator, numerator, ..."""
    return struct.pack("<" + {1: "B", 2: "B", 3: "H", 4: "I", 5: "I", 7: "B", 10: "i", 11: "f"}[kind] * len(values), *values)


def _count(kind: int, values: list[int]) -> int:
    return len(values) // 2 if kind in (5, 10) else len(values)


def _directory(tags: Tags, values_at: int) -> bytes:
    entries = bytearray(struct.pack("<H", len(tags)))
    out_of_line = bytearray()
    for tag in sorted(tags):
        kind, values = tags[tag]
        data = _packed(kind, values)
        if len(data) <= 4:
            field = data.ljust(4, b"\0")
        else:
            field = struct.pack("<I", values_at + len(out_of_line))
            out_of_line += data
        entries += struct.pack("<HHI", tag, kind, _count(kind, values)) + field
    return bytes(entries + struct.pack("<I", 0) + out_of_line)


def _thumbnail_directory(photo: Image.Image) -> tuple[Tags, bytes]:
    """IFD0 as RAW files have it: a small uncompressed RGB thumbnail (NewSubFileType 1)."""
    thumb = photo.copy()
    thumb.thumbnail((96, 96))
    tags: Tags = {
        0x00FE: (_LONG, [1]), 0x0100: (_LONG, [thumb.width]), 0x0101: (_LONG, [thumb.height]), 0x0102: (_SHORT, [8, 8, 8]),
        0x0103: (_SHORT, [1]), 0x0106: (_SHORT, [2]), 0x0115: (_SHORT, [3]), 0x0116: (_LONG, [thumb.height]),
    }  # fmt: skip
    return tags, thumb.tobytes()


# The sensor's data: 64x64 samples of a colour filter array (Photometric 32803), 16 bits each.
_SENSOR: Tags = {
    0x00FE: (_LONG, [0]), 0x0100: (_LONG, [64]), 0x0101: (_LONG, [64]), 0x0102: (_SHORT, [16]), 0x0103: (_SHORT, [1]),
    0x0106: (_SHORT, [32803]), 0x0115: (_SHORT, [1]), 0x0116: (_LONG, [64]),
}  # fmt: skip


def dng_with_preview(photo: Image.Image, orientation: int = 1) -> bytes:
    """A DNG as cameras write it: IFD0 a thumbnail (with DNGVersion and the EXIF ``orientation``) naming the
    full-size JPEG preview by JPEGInterchangeFormat, and a SubIFD of sensor data."""
    tags, thumb = _thumbnail_directory(photo)
    tags[0xC612] = (1, [1, 4, 0, 0])  # DNGVersion
    tags[0x0112] = (_SHORT, [orientation])
    preview = io.BytesIO()
    photo.save(preview, "JPEG", quality=90)
    return tiff_file([(tags, thumb, preview.getvalue()), (_SENSOR, os.urandom(64 * 64 * 2), None)])


def dng_of_sensor_data(photo: Image.Image) -> bytes:
    """A DNG without preview: ``photo`` sampled through an RGGB colour filter array (16 bits), as its sensor data,
    with the DNG tags a raw developer needs (CFA layout, an identity colour matrix, white level, neutral balance)."""
    rgb = np.asarray(photo.convert("RGB")).astype(np.uint16) * 257
    height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    cfa = np.empty((height, width), "<u2")
    cfa[0::2, 0::2], cfa[0::2, 1::2] = rgb[0:height:2, 0:width:2, 0], rgb[0:height:2, 1:width:2, 1]
    cfa[1::2, 0::2], cfa[1::2, 1::2] = rgb[1:height:2, 0:width:2, 1], rgb[1:height:2, 1:width:2, 2]
    identity = [1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1]  # ColorMatrix1, as signed rationals
    tags: Tags = {
        0x00FE: (_LONG, [0]), 0x0100: (_LONG, [width]), 0x0101: (_LONG, [height]), 0x0102: (_SHORT, [16]),
        0x0103: (_SHORT, [1]), 0x0106: (_SHORT, [32803]), 0x0115: (_SHORT, [1]), 0x0116: (_LONG, [height]),
        0x828D: (_SHORT, [2, 2]), 0x828E: (1, [0, 1, 1, 2]), 0xC612: (1, [1, 4, 0, 0]), 0xC614: (2, list(b"mobilabel\0")),
        0xC621: (10, identity), 0xC61D: (_LONG, [65535]), 0xC628: (5, [1, 1, 1, 1, 1, 1]),
    }  # fmt: skip
    return tiff_file([(tags, cfa.tobytes(), None)])


def raw_without_preview(photo: Image.Image) -> bytes:
    """A TIFF-based RAW (as NEF, ARW, ... are built) whose only picture is a 96-pixel thumbnail: no preview a
    label could come from, and no sensor data to develop."""
    tags, thumb = _thumbnail_directory(photo)
    return tiff_file([(tags, thumb, None)])


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
