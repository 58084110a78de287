"""What a file's header says it is, from the formats' specifications: so a valid file of a kind no decoder here
takes gets a reason that names what is unsupported ("unsupported JPEG: 12-bit lossless (SOF3)"), and "damaged"
is said only of files whose header does not follow their format.

Headers only (JPEG markers up to the frame, PNG's IHDR, TIFF's first directory); no pixel is read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from .tiff_ifds import (
    BITS_PER_SAMPLE,
    COMPRESSION,
    PHOTOMETRIC,
    SAMPLE_FORMAT,
    SAMPLES_PER_PIXEL,
    is_tiff_like,
    read_directories,
)

# ITU T.81 (JPEG), table B.1: the frame markers, and the coding process each starts.
JPEG_PROCESSES = {
    0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive", 0xC3: "lossless",
    0xC5: "differential sequential", 0xC6: "differential progressive", 0xC7: "differential lossless",
    0xC9: "extended sequential arithmetic-coded", 0xCA: "progressive arithmetic-coded", 0xCB: "lossless arithmetic-coded",
    0xCD: "differential sequential arithmetic-coded", 0xCE: "differential progressive arithmetic-coded",
    0xCF: "differential lossless arithmetic-coded",
}  # fmt: skip
# The arithmetic-coded processes (table B.1: SOF9-SOF15 less DAC, CC).
ARITHMETIC_JPEG_PROCESSES = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# What libjpeg-turbo's 8-bit interface (Pillow's, simplejpeg's) decodes: these processes at 8 bits a sample.
DECODED_JPEG_PROCESSES = frozenset({0xC0, 0xC1, 0xC2, 0xC9, 0xCA})
# PNG 1.2, section 11.2.2: each colour type and the bit depths it allows.
PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_TIFF_PHOTOMETRIC = {
    0: "white-is-zero greyscale", 1: "greyscale", 2: "RGB", 3: "palette", 4: "transparency mask", 5: "CMYK",
    6: "YCbCr", 8: "CIELab", 9: "ICCLab", 10: "ITULab", 32803: "colour filter array (raw sensor data)",
    32844: "LogL", 32845: "LogLuv", 34892: "linear raw",
}  # fmt: skip
_TIFF_SAMPLE_FORMAT = {1: "unsigned integer", 2: "signed integer", 3: "floating point", 4: "untyped",
                       5: "complex integer", 6: "complex floating point"}  # fmt: skip
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Enough for the markers before a JPEG's frame: EXIF, ICC profile and other APPn segments, 64 KiB each at most.
_HEAD_BYTES = 1 << 20


class TooManyPixelsError(ValueError):
    """An image whose header declares more pixels than the limit; ``width`` and ``height`` say how many."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(f"{width}x{height}")
        self.width = width
        self.height = height


@dataclass(frozen=True)
class JpegFrame:
    """A JPEG's frame header (SOFn): its marker (0xC0-0xCF), bits a sample, size in pixels and colour components."""

    marker: int
    precision: int
    width: int
    height: int
    components: int

    @property
    def process(self) -> str:
        """E.g. "12-bit lossless (SOF3)"."""
        return f"{self.precision}-bit {JPEG_PROCESSES.get(self.marker, 'unknown process')} (SOF{self.marker - 0xC0})"

    @property
    def arithmetic(self) -> bool:
        """Whether its data is arithmetic-coded (SOF9-SOF15), which libjpeg decodes only from data it is given whole."""
        return self.marker in ARITHMETIC_JPEG_PROCESSES

    @property
    def decoded(self) -> bool:
        """Whether libjpeg-turbo's 8-bit interface decodes this frame's process and precision."""
        return self.marker in DECODED_JPEG_PROCESSES and self.precision == 8


def jpeg_frame(data: bytes | memoryview) -> JpegFrame | None:
    """The frame header of the JPEG starting at ``data[0]`` (markers walked from SOI to the first SOFn), or
    None when the data is not a JPEG whose markers lead to one (damaged, or cut short before it)."""
    view = memoryview(data)
    if bytes(view[:2]) != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(view):
        if view[i] != 0xFF:
            return None
        marker = view[i + 1]
        if marker == 0xFF:  # fill bytes before a marker
            i += 1
            continue
        (length,) = struct.unpack(">H", view[i + 2 : i + 4])
        if marker in JPEG_PROCESSES:
            if length < 8 or i + 10 > len(view):
                return None
            precision, height, width, components = struct.unpack(">BHHB", view[i + 4 : i + 10])
            return JpegFrame(marker, precision, width, height, components)
        if marker in (0xD9, 0xDA) or length < 2:  # end of image or start of scan before any frame
            return None
        i += 2 + length
    return None


def head_frame(f: BinaryIO) -> JpegFrame | None:
    """``jpeg_frame`` of the file ``f`` (seekable), from its first MiB at most."""
    f.seek(0)
    return jpeg_frame(f.read(_HEAD_BYTES))


def unsupported_reason(f: BinaryIO, layout: bool = False) -> str | None:
    """Why the file ``f`` (seekable) is valid yet not decoded here, naming what is unsupported; None when its
    header is of a kind the decoders take (a failure to decode it is then damage) or not of a format this
    module knows. Reads the first MiB at most. With ``layout``, for a TIFF no decoder would open (Pillow
    refuses an unknown sample layout when opening, and damaged data only when decoding), its sample layout."""
    f.seek(0)
    head = f.read(_HEAD_BYTES)
    if head.startswith(b"\xff\xd8"):
        frame = jpeg_frame(head)
        return None if frame is None or frame.decoded else f"unsupported JPEG: {frame.process}"
    if head.startswith(_PNG_SIGNATURE):
        return _png_reason(head)
    if layout and is_tiff_like(head[:4]):
        return tiff_layout(f)
    return None


def _png_reason(head: bytes) -> str | None:
    if head[12:16] != b"IHDR" or len(head) < 29:
        return None
    depth, colour = head[24], head[25]
    if depth not in PNG_DEPTHS.get(colour, ()):
        return f"invalid PNG: colour type {colour} with bit depth {depth} is not allowed by the PNG specification"
    return None


def tiff_layout(f: BinaryIO) -> str | None:
    """The sample layout of a TIFF's first image, as a reason it was not decoded ("unsupported TIFF: 32-bit
    floating point RGB, 3 samples a pixel (compression 1)"), or None if its directory cannot be read."""
    try:
        directories = read_directories(f)
    except ValueError:
        return None
    if not directories:
        return None
    first = directories[0]
    bits = sorted(set(first.all(BITS_PER_SAMPLE) or (1,)))
    sample_format = first.first(SAMPLE_FORMAT, 1)
    photometric = first.first(PHOTOMETRIC, -1)
    return (
        f"unsupported TIFF: {'/'.join(map(str, bits))}-bit {_TIFF_SAMPLE_FORMAT.get(sample_format, f'sample format {sample_format}')} "
        f"{_TIFF_PHOTOMETRIC.get(photometric, f'photometric {photometric}')}, samples a pixel: {first.first(SAMPLES_PER_PIXEL, 1)} "
        f"(compression {first.first(COMPRESSION, 1)})"
    )
