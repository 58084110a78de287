"""Files assembled from the formats' specifications, for what no encoder here writes: JPEG frame headers of
every coding process and precision (ITU T.81), TIFFs of any sample layout (TIFF 6.0), PNGs of any colour type
and bit depth (PNG 1.2), and camera RAW files (a DNG with a JPEG preview, TIFF-based RAWs without one)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
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


# ITU T.81 table D.2: the QM coder's probability estimation, per state: (Qe, next state after an LPS, after an MPS,
# whether an LPS switches the MPS sense). The last row is a fixed estimate of 1/2 for sign bits (ITU T.851, table 5).
_QE_STATES = [
    (0x5A1D, 1, 1, 1), (0x2586, 14, 2, 0), (0x1114, 16, 3, 0), (0x080B, 18, 4, 0), (0x03D8, 20, 5, 0),
    (0x01DA, 23, 6, 0), (0x00E5, 25, 7, 0), (0x006F, 28, 8, 0), (0x0036, 30, 9, 0), (0x001A, 33, 10, 0),
    (0x000D, 35, 11, 0), (0x0006, 9, 12, 0), (0x0003, 10, 13, 0), (0x0001, 12, 13, 0), (0x5A7F, 15, 15, 1),
    (0x3F25, 36, 16, 0), (0x2CF2, 38, 17, 0), (0x207C, 39, 18, 0), (0x17B9, 40, 19, 0), (0x1182, 42, 20, 0),
    (0x0CEF, 43, 21, 0), (0x09A1, 45, 22, 0), (0x072F, 46, 23, 0), (0x055C, 48, 24, 0), (0x0406, 49, 25, 0),
    (0x0303, 51, 26, 0), (0x0240, 52, 27, 0), (0x01B1, 54, 28, 0), (0x0144, 56, 29, 0), (0x00F5, 57, 30, 0),
    (0x00B7, 59, 31, 0), (0x008A, 60, 32, 0), (0x0068, 62, 33, 0), (0x004E, 63, 34, 0), (0x003B, 32, 35, 0),
    (0x002C, 33, 9, 0), (0x5AE1, 37, 37, 1), (0x484C, 64, 38, 0), (0x3A0D, 65, 39, 0), (0x2EF1, 67, 40, 0),
    (0x261F, 68, 41, 0), (0x1F33, 69, 42, 0), (0x19A8, 70, 43, 0), (0x1518, 72, 44, 0), (0x1177, 73, 45, 0),
    (0x0E74, 74, 46, 0), (0x0BFB, 75, 47, 0), (0x09F8, 77, 48, 0), (0x0861, 78, 49, 0), (0x0706, 79, 50, 0),
    (0x05CD, 48, 51, 0), (0x04DE, 50, 52, 0), (0x040F, 50, 53, 0), (0x0363, 51, 54, 0), (0x02D4, 52, 55, 0),
    (0x025C, 53, 56, 0), (0x01F8, 54, 57, 0), (0x01A4, 55, 58, 0), (0x0160, 56, 59, 0), (0x0125, 57, 60, 0),
    (0x00F6, 58, 61, 0), (0x00CB, 59, 62, 0), (0x00AB, 61, 63, 0), (0x008F, 61, 32, 0), (0x5B12, 65, 65, 1),
    (0x4D04, 80, 66, 0), (0x412C, 81, 67, 0), (0x37D8, 82, 68, 0), (0x2FE8, 83, 69, 0), (0x293C, 84, 70, 0),
    (0x2379, 86, 71, 0), (0x1EDF, 87, 72, 0), (0x1AA9, 87, 73, 0), (0x174E, 72, 74, 0), (0x1424, 72, 75, 0),
    (0x119C, 74, 76, 0), (0x0F6B, 74, 77, 0), (0x0D51, 75, 78, 0), (0x0BB6, 77, 79, 0), (0x0A40, 77, 48, 0),
    (0x5832, 80, 81, 1), (0x4D1C, 88, 82, 0), (0x438E, 89, 83, 0), (0x3BDD, 90, 84, 0), (0x34EE, 91, 85, 0),
    (0x2EAE, 92, 86, 0), (0x299A, 93, 87, 0), (0x2516, 86, 71, 0), (0x5570, 88, 89, 1), (0x4CA9, 95, 90, 0),
    (0x44D9, 96, 91, 0), (0x3E22, 97, 92, 0), (0x3824, 99, 93, 0), (0x32B4, 99, 94, 0), (0x2E17, 93, 86, 0),
    (0x56A8, 95, 96, 1), (0x4F46, 101, 97, 0), (0x47E5, 102, 98, 0), (0x41CF, 103, 99, 0), (0x3C3D, 104, 100, 0),
    (0x375E, 99, 93, 0), (0x5231, 105, 102, 0), (0x4C0F, 106, 103, 0), (0x4639, 107, 104, 0), (0x415E, 103, 99, 0),
    (0x5627, 105, 106, 1), (0x50E7, 108, 107, 0), (0x4B85, 109, 103, 0), (0x5597, 110, 109, 0), (0x504F, 111, 107, 0),
    (0x5A10, 110, 111, 1), (0x5522, 112, 109, 0), (0x59EB, 112, 111, 1), (0x5A1D, 113, 113, 0),
]  # fmt: skip
_FIXED = 113  # the state of the fixed 1/2 estimate
# ITU T.81 F.1.4.4.2: the defaults with no DAC marker: DC conditioning bounds L=0, U=1; AC conditioning Kx=5.
_DC_L, _DC_U, _AC_K = 0, 1, 5


class _QMCoder:
    """The arithmetic (QM) encoder of ITU T.81 annex D: ``code`` one decision in a statistics bin (a state index
    with the MPS sense in its top bit), then ``flush`` the scan's last bytes (D.1.8). Output bytes are stuffed."""

    def __init__(self) -> None:
        self.c, self.a, self.ct = 0, 0x10000, 11
        self.pending: int | None = None  # the last byte, which a carry may still increment
        self.ffs = 0  # 0xFF bytes after it, which a carry would turn into 0x00
        self.out = bytearray()

    def code(self, bins: list[int], at: int, decision: int) -> None:
        state = bins[at]
        qe, after_lps, after_mps, switch = _QE_STATES[state & 0x7F]
        self.a -= qe
        if decision != state >> 7:  # the less probable symbol: the lower interval, unless it is now the larger one
            if self.a >= qe:
                self.c += self.a
                self.a = qe
            bins[at] = ((state & 0x80) ^ (switch << 7)) | after_lps
        else:
            if self.a >= 0x8000:
                return
            if self.a < qe:  # conditional exchange (D.1.5)
                self.c += self.a
                self.a = qe
            bins[at] = (state & 0x80) | after_mps
        while self.a < 0x8000:  # renormalise (D.1.6), a byte out every 8 shifts
            self.a <<= 1
            self.c <<= 1
            self.ct -= 1
            if self.ct == 0:
                self._byte_out()
                self.c &= 0x7FFFF
                self.ct = 8

    def _byte_out(self) -> None:
        byte = self.c >> 19
        if byte > 0xFF:  # a carry: into the pending byte, and the 0xFF bytes after it become 0x00
            if self.pending is not None:
                self._emit(self.pending + 1)
            self.out += b"\x00" * self.ffs
            self.ffs = 0
            self.pending = byte & 0xFF
        elif byte == 0xFF:
            self.ffs += 1
        else:
            if self.pending is not None:
                self._emit(self.pending)
            for _ in range(self.ffs):
                self._emit(0xFF)
            self.ffs = 0
            self.pending = byte

    def _emit(self, byte: int) -> None:
        self.out.append(byte)
        if byte == 0xFF:
            self.out.append(0x00)  # stuffed: not a marker

    def flush(self) -> bytes:
        """The scan's coded bytes: C set to the value in the final interval with the most trailing zeros (D.1.8)."""
        low = (self.a - 1 + self.c) & 0xFFFF0000
        self.c = low + 0x8000 if low < self.c else low
        self.c <<= self.ct
        if self.c & 0xF8000000:
            if self.pending is not None:
                self._emit(self.pending + 1)
            self.out += b"\x00" * self.ffs
        else:
            if self.pending is not None:
                self._emit(self.pending)
            for _ in range(self.ffs):
                self._emit(0xFF)
        if self.c & 0x7FFF800:  # the rest of C, but bytes of zeros at the end (a decoder reads zeros past the end)
            self._emit((self.c >> 19) & 0xFF)
            if self.c & 0x7F800:
                self._emit((self.c >> 11) & 0xFF)
        return bytes(self.out)


def _zigzag() -> list[int]:
    """ITU T.81 figure A.6: the zig-zag sequence, as natural (row-major) indices of an 8x8 block."""
    order = []
    for diagonal in range(15):
        rows = range(max(0, diagonal - 7), min(diagonal, 7) + 1)
        order += [r * 8 + diagonal - r for r in (rows if diagonal % 2 else reversed(rows))]
    return order


ZIGZAG = _zigzag()


def _magnitude(coder: _QMCoder, bins: list[int], v: int, chain: Callable[[int], int]) -> None:
    """Figures F.8 and F.9 for |value| - 1 = ``v``: its magnitude category, a 1 per doubling in bins ``chain(0)``,
    ``chain(1)``... (table F.4 for DC, F.5 for AC) ended by a 0, then its bits below the top in that last bin + 14."""
    i = m = 0
    if v:
        coder.code(bins, chain(0), 1)
        m, rest, i = 1, v >> 1, 1
        while rest:
            coder.code(bins, chain(i), 1)
            m, rest, i = m << 1, rest >> 1, i + 1
    coder.code(bins, chain(i), 0)
    bits = chain(i) + 14
    m >>= 1
    while m:
        coder.code(bins, bits, 1 if m & v else 0)
        m >>= 1


class _DcCoder:
    """Figure F.4 with the conditioning of F.1.4.4.1: one component's DC differences."""

    def __init__(self) -> None:
        self.last = 0
        self.context = 0

    def code(self, coder: _QMCoder, bins: list[int], dc: int) -> None:
        diff, self.last = dc - self.last, dc
        s0 = self.context
        if diff == 0:
            coder.code(bins, s0, 0)
            self.context = 0
            return
        coder.code(bins, s0, 1)
        coder.code(bins, s0 + 1, 0 if diff > 0 else 1)
        self.context = 4 if diff > 0 else 8
        v = abs(diff) - 1
        sign_bin = s0 + (2 if diff > 0 else 3)  # SP or SN, then X1 = 20, X2 = 21...
        _magnitude(coder, bins, v, lambda i: sign_bin if i == 0 else 19 + i)
        m = 1 << (v.bit_length() - 1) if v else 0  # what F.1.4.4.1.2 conditions on
        if m < (1 << _DC_L) >> 1:
            self.context = 0
        elif m > (1 << _DC_U) >> 1:
            self.context += 8


def _code_ac(coder: _QMCoder, bins: list[int], zz: list[int], start: int) -> None:
    """Figure F.5: coefficients ``start``..63 of one block (zig-zag order ``zz``), each bin 3k on for index k."""
    end = max((k for k in range(start, 64) if zz[k]), default=start - 1)
    k = start - 1
    while k < end:
        at = 3 * k
        coder.code(bins, at, 0)  # not the end of the block
        k += 1
        while zz[k] == 0:
            coder.code(bins, at + 1, 0)
            at += 3
            k += 1
        coder.code(bins, at + 1, 1)
        coder.code([_FIXED], 0, 0 if zz[k] > 0 else 1)
        x1, x2 = at + 2, 189 if k <= _AC_K else 217  # X1 = SE + 2 (as SN/SP), then X2, X3... from 189 or 217
        _magnitude(coder, bins, abs(zz[k]) - 1, lambda i, x1=x1, x2=x2: x1 if i < 2 else x2 + i - 2)
    if k < 63:
        coder.code(bins, 3 * k, 1)  # end of block


def arithmetic_jpeg(image: Image.Image, progressive: bool = False) -> bytes:
    """``image`` (RGB, sides multiples of 8) as an arithmetic-coded JPEG, coded here since no encoder here writes
    one (libjpeg-turbo's can, behind options Pillow does not offer): SOF9 (extended sequential), or with
    ``progressive`` SOF10 (a DC scan, then each component's AC scan). YCbCr at full resolution, quantised by 1s."""
    width, height = image.size
    planes = np.asarray(image.convert("YCbCr"), dtype=np.float64).transpose(2, 0, 1) - 128
    n = np.arange(8)
    dct = np.sqrt(2 / 8) * np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / 16)
    dct[0] /= np.sqrt(2)  # orthonormal DCT-II: T.81's FDCT (A.3.3)
    blocks = [
        [
            [int(x) for x in np.rint(dct @ plane[r : r + 8, c : c + 8] @ dct.T).reshape(64)[ZIGZAG]]
            for r in range(0, height, 8)
            for c in range(0, width, 8)
        ]
        for plane in planes
    ]
    ids = (1, 2, 3)
    header = b"\xff\xd8" + b"\xff\xdb" + struct.pack(">HB", 67, 0) + bytes([1] * 64)
    marker = 0xCA if progressive else 0xC9
    header += bytes([0xFF, marker]) + struct.pack(">HBHHB", 8 + 3 * 3, 8, height, width, 3)
    header += b"".join(bytes([i, 0x11, 0]) for i in ids)

    def scan(components: list[int], ss: int, se: int) -> bytes:
        sos = b"\xff\xda" + struct.pack(">HB", 6 + 2 * len(components), len(components))
        sos += b"".join(bytes([ids[c], 0x00]) for c in components) + bytes([ss, se, 0])
        coder, dc_bins, ac_bins = _QMCoder(), [0] * 64, [0] * 256
        dcs = {c: _DcCoder() for c in components}
        for b in range(len(blocks[0])):
            for c in components:
                zz = blocks[c][b]
                if ss == 0:
                    dcs[c].code(coder, dc_bins, zz[0])
                if se > 0:
                    _code_ac(coder, ac_bins, zz, max(ss, 1))
        return sos + coder.flush()

    if progressive:
        body = scan([0, 1, 2], 0, 0) + b"".join(scan([c], 1, 63) for c in range(3))
    else:
        body = scan([0, 1, 2], 0, 63)
    return header + body + b"\xff\xd9"
