"""Reading image files safely into 8-bit RGB, the same way for labelling and training.

Every failure becomes an ``ImageReadError`` with a message a user can act on;
nothing here lets one bad file take a batch down with it.
"""

from __future__ import annotations

import io
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pillow_heif
import simplejpeg  # type: ignore[import-untyped]  # ships no type information
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from . import object_store
from .errors import MobilabelError
from .files import BrokenLinkError, Confine, NotRegularFileError, RefusedPathError, open_regular, stat_path
from .hashing import hash_bytes, hash_stream
from .image_headers import TooManyPixelsError, head_frame, jpeg_frame, unsupported_reason
from .object_paths import ObjectPath
from .raw_decoding import UndevelopedError, develop
from .raw_previews import RAW_EXTENSIONS, largest_preview, raw_format
from .tiff_ifds import data_ends_early, is_tiff_like, read_directories

# What phones, cameras and browsers write, as well as the classic formats. The walk selects
# by these names; what decodes a file is decided by its content, whatever its extension.
# Camera RAW files (``raw_previews.RAW_EXTENSIONS``) are labelled from their embedded preview.
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".apng", ".bmp", ".dib", ".gif", ".tif", ".tiff",
    ".webp", ".heic", ".heif", ".hif", ".avif",
}) | RAW_EXTENSIONS  # fmt: skip

# A truncated file is reported, not silently padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# One pixel limit, ours (MOBILABEL_MAX_IMAGE_PIXELS), checked against every image's declared size before it is
# decoded (``_read``, ``plain_jpeg``); Pillow's own (a warning over 89 Mpx, an error over twice that) would
# refuse what a user allowed, or print a warning that names no file.
Image.MAX_IMAGE_PIXELS = None
# HEIC/HEIF (iPhones) through pillow-heif; Pillow reads AVIF itself.
pillow_heif.register_heif_opener()

# Files up to this size are read once into memory (hashed and decoded from there); larger ones
# are hashed as they stream and decoded from the file, so no one file is held whole.
MAX_IN_MEMORY_BYTES = 64 * 1024 * 1024
# The most pixels a bounded full-size decode holds (``read_picture``'s ``full_pixels``: the re-decode of a near
# tie, ``pipeline.labeller``): a 48-megapixel phone photo (144 MB as RGB) is decoded whole, a bigger JPEG at
# the largest DCT scale within it (a 182-megapixel scan at 1/2, 137 MB, not 546 MB at full size).
FULL_DECODE_PIXELS = 48_000_000

_WHITE = (255, 255, 255, 255)
_SIGNATURES = (b"\xff\xd8", b"\x89PNG", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")
# ISO base media (HEIF, AVIF) name their brand at byte 4; valid files of a kind we may lack a
# decoder for are not "damaged".
_ISO_BRAND = b"ftyp"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_METADATA_CHUNKS = frozenset({b"iCCP", b"iTXt", b"zTXt", b"tEXt"})
# libjpeg's warnings when the data stops before the last block (at a marker, or at the end of
# the file): it fills the rest with grey.
_JPEG_ENDS_EARLY = {
    "premature end of data segment": "image data ends early: the picture is incomplete",
    "premature end of jpeg file": "truncated file: the image data ends early, the picture is incomplete",
}
# libjpeg's warnings that mean the picture came out damaged (jerror.h: JWRN_HUFF_BAD_CODE,
# JWRN_ARITH_BAD_CODE, JWRN_MUST_RESYNC, JWRN_BOGUS_PROGRESSION); the rest (extraneous bytes,
# an odd JFIF revision, ...) leave it whole.
_JPEG_DAMAGED = ("bad huffman code", "bad arithmetic code", "instead of rst", "inconsistent progression")
# How libjpeg's recoverable warnings begin (jerror.h), as simplejpeg's strict mode raises them.
_LIBJPEG_WARNINGS = ("Corrupt JPEG data", "Invalid SOS parameters", "Premature end of JPEG file", "Warning")
_ORIENTATION = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "CMYK"})  # what Image.reduce takes


class ImageReadError(MobilabelError):
    """A file that could not be read as an image; the message says why."""


def label_min_side(resize_size: int) -> int:
    """The shorter side (px) a decode for labelling keeps: twice the resize target (512 for Resize(256)),
    so Resize still averages over 2x2 pixels or more; on 80 phone photos this gave the full decode's
    top-1 label on every one."""
    return 2 * resize_size


def train_min_side(crop_size: int) -> int:
    """The shorter side (px) a decode for training keeps: RandomResizedCrop may take 8% of the area, a
    square of side sqrt(0.08) of the shorter side, and that must still cover ``crop_size`` (792 for 224)."""
    return math.ceil(crop_size / math.sqrt(0.08))


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def content_identity(path: Path) -> str:
    """A cheap identity of a file's content: size and modification time (a path of any length); for an
    object (``ObjectPath``), ``ETAG:SIZE``, from its listing when it came from one, else from its metadata.

    Raises ``OSError`` for a file that cannot be stat'ed, ``object_store.ObjectStoreError`` for an object.
    """
    if isinstance(path, ObjectPath):
        return path.fingerprint or object_store.head(path)
    st = stat_path(path)
    return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass(frozen=True)
class ImageSource:
    """One file, read once: its bytes (``None`` for a file over ``MAX_IN_MEMORY_BYTES``,
    then read from ``path``), its fingerprint and its content hash (``hashing``: xxh3-128, hex)."""

    path: Path
    data: bytes | None
    content_id: str
    content_hash: str
    # ``load_source``'s check of the real path, made again when a file over the limit is opened again to decode it.
    confine: Confine | None = field(default=None, compare=False)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data) if self.data is not None else open_regular(self.path, self.confine)

    @property
    def is_jpeg(self) -> bool:
        """Whether the content is a JPEG (by its first bytes, whatever the file's name)."""
        return self.data is not None and self.data.startswith(b"\xff\xd8\xff")


@dataclass(frozen=True)
class Picture:
    """A decoded image (upright 8-bit RGB), what its decoder warned about it, if anything, and whether it was
    decoded at a reduced scale (``min_side``), smaller than the file's declared size."""

    image: Image.Image
    warning: str | None = None
    reduced: bool = False


def load_source(path: Path, confine: Confine | None = None) -> ImageSource:
    """Read ``path`` once, fingerprint and hash it; only a regular file is opened (``files.open_regular``),
    and no more than the size it had when opened is read. ``confine`` is asked about the real path of the
    file opened, before it is read (``files.open_regular``): the reason it returns refuses it.

    Raises ``ImageReadError`` for a folder, a FIFO, socket or device, a missing or unreadable file, or one ``confine`` refuses.
    An object (``ObjectPath``) is fetched whole into memory (``object_store.fetch``, retried within a bound).
    """
    if isinstance(path, ObjectPath):
        try:
            data, content_id = object_store.fetch(path, MAX_IN_MEMORY_BYTES)
        except object_store.ObjectStoreError as exc:
            raise ImageReadError(str(exc)) from exc
        return ImageSource(path, data, content_id, hash_bytes(data))
    try:
        with open_regular(path, confine) as f:
            st = os.fstat(f.fileno())
            content_id = f"{st.st_size}:{st.st_mtime_ns}"
            if st.st_size <= MAX_IN_MEMORY_BYTES:
                data = f.read(st.st_size)
                return ImageSource(path, data, content_id, hash_bytes(data), confine)
            return ImageSource(path, None, content_id, hash_stream(f, st.st_size), confine)
    except RefusedPathError as exc:
        raise ImageReadError(str(exc)) from exc
    except NotRegularFileError as exc:
        if exc.kind == "a folder":
            raise ImageReadError("is a folder, not an image file (label a folder with: mobilabel label FOLDER)") from exc
        raise ImageReadError(f"{exc.kind}, not a regular file: not opened") from exc
    except BrokenLinkError as exc:
        raise ImageReadError(str(exc)) from exc
    except PermissionError as exc:
        raise ImageReadError("permission denied") from exc
    except FileNotFoundError as exc:
        raise ImageReadError("file not found") from exc
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc.strerror or exc}") from exc


def read_rgb(source: Path | ImageSource, max_pixels: int, min_side: int = 0) -> Image.Image:
    """The image, upright (EXIF orientation applied), as 8-bit RGB; see ``read_picture``."""
    return read_picture(source, max_pixels, min_side).image


def read_picture(
    source: Path | ImageSource, max_pixels: int, min_side: int = 0, libjpeg: bool = True, full_pixels: int = 0
) -> Picture:
    """The image, upright (EXIF orientation applied), as 8-bit RGB, with any decoder warning.

    ``min_side`` > 0 lets a format that can decode at reduced size do so at the smallest scale
    whose shorter side is still at least ``min_side`` (JPEG, in the DCT domain: M/8 for
    M = 1..8 with libjpeg-turbo, 1/2, 1/4, 1/8 with Pillow's ``draft``); 0 decodes at full
    size. Images over ``max_pixels`` (their declared size) are refused from their header,
    before any pixel is decoded, so a decompression bomb costs nothing. A JPEG whose data ends early is refused; other libjpeg warnings that
    leave the picture whole are returned. JPEG pixels come from libjpeg-turbo (simplejpeg),
    or with ``libjpeg`` False from Pillow (the data is checked by libjpeg-turbo all the same);
    a file over ``MAX_IN_MEMORY_BYTES`` is left to Pillow alone. ``full_pixels`` > 0 bounds a full-size
    decode (``min_side`` 0): a JPEG (a RAW's preview too) over that many pixels is decoded at the largest
    DCT scale (1/2, 1/4, 1/8) within it (``bounded_min_side``; the picture is then ``reduced``), a RAW's sensor
    data developed at half size; other formats decode whole before any reduction, as their reduced decode does. Raises ``ImageReadError`` with the reason.
    """
    if not isinstance(source, ImageSource):
        source = load_source(source)
    try:
        return _read(source, max_pixels, min_side, libjpeg, full_pixels)
    except ValueError as exc:
        stripped = _png_without_metadata(source.data) if "PngImagePlugin" in str(exc) else None
        if stripped is None:
            raise ImageReadError(f"corrupt or truncated image: {exc}") from exc
        # Metadata over Pillow's safety bounds (MAX_TEXT_CHUNK, MAX_TEXT_MEMORY): the pixels are
        # fine, so read them without it; pixel data keeps every limit.
        picture = _read(
            ImageSource(source.path, stripped, source.content_id, source.content_hash), max_pixels, min_side, libjpeg, full_pixels
        )
        return Picture(picture.image, f"metadata ignored: {exc}", picture.reduced)


def bounded_min_side(width: int, height: int, full_pixels: int) -> int:
    """The ``min_side`` that decodes a ``width`` x ``height`` JPEG at the largest DCT scale 1/s (s = 1, 2, 4, 8)
    whose pixels stay within ``full_pixels`` (at 1/8 if none does): 0 (full size) when it fits whole.
    Pillow's ``draft`` takes the scale s <= (shorter side // min_side), so min_side = shorter side // s gives s."""
    if width * height <= full_pixels:
        return 0
    scale = next((s for s in (2, 4) if width * height <= full_pixels * s * s), 8)
    return min(width, height) // scale


def _read(source: ImageSource, max_pixels: int, min_side: int, libjpeg: bool, full_pixels: int = 0) -> Picture:
    """``read_picture`` on a loaded file; raises ``ValueError`` for metadata over Pillow's bounds."""
    with source.open() as f:
        raw = raw_format(source.path.name, f.read(16))
        if raw is not None:
            return _read_raw(source, raw, f, max_pixels, min_side, libjpeg, full_pixels)
    try:
        with Image.open(source.open()) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise _over_limit(width, height, max_pixels)
            if min_side == 0 and full_pixels > 0 and image.format in ("JPEG", "MPO"):
                min_side = bounded_min_side(width, height, full_pixels)
            warning = None
            if image.format in ("JPEG", "MPO") and source.data is not None:
                # MPO (a camera's multi-picture file) is read as its primary frame: the JPEG it starts with.
                plain = libjpeg and image.mode in ("RGB", "L")
                pixels, warning = _libjpeg(source.data, min_side if plain else -1)
                if pixels is not None:
                    reduced = pixels.shape[0] * pixels.shape[1] < width * height
                    return Picture(
                        _upright(Image.fromarray(pixels, "RGB"), image.getexif().get(_ORIENTATION, 1)), warning, reduced
                    )
            if min_side > 0:
                image.draft(None, (min_side, min_side))  # JPEG only; other formats decode at full size
            if image.format in ("JPEG", "MPO"):
                _unsuspended(image, source)
            image.load()
            reduced = image.size != (width, height)
            if min_side > 0 and image.format not in ("JPEG", "MPO") and min(image.size) >= 2 * min_side:
                # A big scan in a format without reduced decoding: reduced by a whole factor (box filter) at once,
                # to a shorter side still at least ``min_side``, so the copies that follow (RGB, the tensor) stay small.
                small = (image if image.mode in _REDUCIBLE_MODES else to_rgb8(image)).reduce(min(image.size) // min_side)
                return Picture(to_rgb8(_upright(small, image.getexif().get(_ORIENTATION, 1))), warning, True)
            ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of an upright photo
            return Picture(to_rgb8(image), warning, reduced)
    except (ImageReadError, ValueError):
        raise
    except UnidentifiedImageError as exc:
        tiff = _read_tiff(source, max_pixels, min_side)
        if tiff is not None:
            return tiff
        raise ImageReadError(_unidentified_reason(source)) from exc
    except MemoryError as exc:
        raise ImageReadError("out of memory while decoding") from exc
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError...
        raise ImageReadError(_unsupported(source) or f"corrupt or truncated image: {exc}") from exc


def _unsuspended(image: ImageFile.ImageFile, source: ImageSource) -> None:
    """Have Pillow hand an arithmetic-coded JPEG (SOF9-SOF15) to libjpeg whole: libjpeg's arithmetic decoder cannot
    suspend for more data (jdarith.c), and Pillow feeds its decoder 64 KiB at a time, so any such file over
    that failed as "broken data stream", taken for damage. Others keep Pillow's pieces."""
    if source.data is not None:
        frame, size = jpeg_frame(source.data), len(source.data)
    else:
        with source.open() as f:
            frame, size = head_frame(f), os.fstat(f.fileno()).st_size
    if frame is not None and frame.arithmetic:
        image.decodermaxblock = max(image.decodermaxblock, size)


def _over_limit(width: int, height: int, max_pixels: int) -> ImageReadError:
    return ImageReadError(
        f"image is {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
        "(MOBILABEL_MAX_IMAGE_PIXELS); refused as a possible decompression bomb"
    )


def _read_tiff(source: ImageSource, max_pixels: int, min_side: int) -> Picture | None:
    """A TIFF Pillow would not open, decoded by tifffile (``tiff_decoding``); None if it is no TIFF or
    tifffile cannot decode it either (its reason is then the file's layout, or damage)."""
    from .tiff_decoding import read_tiff  # here: tifffile loads only for the rare TIFF that Pillow cannot open

    with source.open() as f:
        if not is_tiff_like(f.read(4)):
            return None
        try:
            pixels, orientation = read_tiff(f, max_pixels)
        except TooManyPixelsError as exc:
            raise _over_limit(exc.width, exc.height, max_pixels) from exc
        except MemoryError as exc:
            raise ImageReadError("out of memory while decoding") from exc
        except Exception as exc:  # tifffile's errors: an unknown compression or sample layout, or damaged data
            directories = read_directories(f)
            if directories and data_ends_early(f, directories[0]):
                raise ImageReadError("truncated file: the image data ends early, the picture is incomplete") from exc
            return None
    image = Image.fromarray(pixels, "RGB")
    if min_side > 0 and min(image.size) >= 2 * min_side:
        return Picture(_upright(image.reduce(min(image.size) // min_side), orientation), None, True)
    return Picture(_upright(image, orientation))


def _read_raw(
    source: ImageSource, raw: str, f: BinaryIO, max_pixels: int, min_side: int, libjpeg: bool, full_pixels: int = 0
) -> Picture:
    """A camera RAW file (format ``raw``, open as ``f``) decoded from its largest usable embedded JPEG, else
    its sensor data developed by LibRaw (``raw_decoding``)."""
    preview, largest = largest_preview(f)
    if preview is None:
        try:
            pixels, half = develop(f, max_pixels, min_side, full_pixels)
        except TooManyPixelsError as exc:
            raise _over_limit(exc.width, exc.height, max_pixels) from exc
        except MemoryError as exc:
            raise ImageReadError("out of memory while decoding") from exc
        except UndevelopedError as exc:
            found = f"; the largest embedded JPEG is {largest.process}, {largest.width}x{largest.height}" if largest else ""
            raise ImageReadError(
                f"camera RAW ({raw}): no usable preview{found}, and LibRaw cannot read its sensor data ({exc})"
            ) from exc
        return Picture(Image.fromarray(pixels, "RGB"), None, half)
    try:
        picture = _read(ImageSource(source.path.with_suffix(".jpg"), preview.data, source.content_id, source.content_hash),
                        max_pixels, min_side, libjpeg, full_pixels)  # fmt: skip
    except ImageReadError as exc:
        raise ImageReadError(f"camera RAW ({raw}): its preview cannot be read: {exc}") from exc
    with Image.open(io.BytesIO(preview.data)) as header:
        own = header.getexif().get(_ORIENTATION)
    # The preview's own EXIF orientation was applied; the RAW's is for previews without one.
    image = picture.image if own is not None else _upright(picture.image, preview.orientation)
    return Picture(image, picture.warning, picture.reduced)


def check_jpeg(data: bytes) -> str | None:
    """libjpeg-turbo's warning about JPEG ``data`` that still decodes whole, or None; raises
    ``ImageReadError`` when the data ends early or is damaged. For decoders that would print
    libjpeg's warnings or not report them (nvjpeg)."""
    return _libjpeg(data, -1)[1]


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """``image`` turned as EXIF ``orientation`` (1-8) says, as ``ImageOps.exif_transpose`` does."""
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return image if method is None else image.transpose(method)


def _libjpeg(data: bytes, min_side: int) -> tuple[npt.NDArray[np.uint8] | None, str | None]:
    """(RGB pixels, warning) from libjpeg-turbo (simplejpeg), decoded at the smallest scale M/8 whose
    shorter side is at least ``min_side`` (0: full size). ``min_side`` -1 only checks the data, at
    the smallest scale (the entropy decoding, where the warnings arise, is the same at any scale).

    Strict mode hands libjpeg's warnings back, to attribute to the file rather than print.
    Raises ``ImageReadError`` when the data ends early; pixels are None for what simplejpeg
    cannot take (CMYK, ...), left to Pillow, and when only checking.
    """
    side = 1 if min_side < 0 else min_side
    scale = {"min_height": side, "min_width": side} if side > 0 else {}
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True, **scale)
        return (None if min_side < 0 else pixels), None
    except ValueError as exc:
        message = str(exc)
    for early, reason in _JPEG_ENDS_EARLY.items():
        if early in message.lower():
            raise ImageReadError(reason)
    if any(damage in message.lower() for damage in _JPEG_DAMAGED):
        raise ImageReadError(f"corrupt image data: libjpeg: {message}")
    if not message.startswith(_LIBJPEG_WARNINGS):
        return None, None  # not a warning (an unsupported colour space, ...): Pillow decides
    warning = f"libjpeg: {message}"
    if min_side < 0:
        return None, warning
    return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=False, **scale), warning


def _png_without_metadata(data: bytes | None) -> bytes | None:
    """The PNG ``data`` with its text and ICC profile chunks left out, or None if it is not a PNG."""
    if data is None or not data.startswith(_PNG_SIGNATURE):
        return None
    kept = [_PNG_SIGNATURE]
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        end = offset + 12 + length
        if data[offset + 4 : offset + 8] not in _PNG_METADATA_CHUNKS:
            kept.append(data[offset:end])
        offset = end
    return b"".join(kept)


def to_rgb8(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, keeping the tonal range.

    16-bit images are scaled down (Pillow's own conversion would clip them to
    white); transparent images are composited onto white.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(image, dtype=np.int64)
        if mode in _SIXTEEN_BIT_MODES or values.max(initial=0) > 255:
            values = values // 257  # 65535 -> 255
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        floats = np.asarray(image, dtype=np.float64)
        if floats.max(initial=0.0) <= 1.0:
            floats = floats * 255.0
        return Image.fromarray(np.clip(floats, 0, 255).round().astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _unidentified_reason(source: ImageSource) -> str:
    with source.open() as f:
        head = f.read(16)
    if not head:
        return "empty file (0 bytes)"
    if head[4:8] == _ISO_BRAND:
        brand = head[8:12].decode("ascii", "replace").strip()
        return f"an ISO media file (brand {brand!r}) that holds no image this build can decode"
    if head.startswith(_SIGNATURES):
        return _unsupported(source, layout=True) or "corrupt image: the header is damaged"
    return "not an image: the content is not a format that can be read"


def _unsupported(source: ImageSource, layout: bool = False) -> str | None:
    """Why a valid file that failed to open (``layout``) or decode is not decoded here
    (``image_headers.unsupported_reason``), or None."""
    with source.open() as f:
        return unsupported_reason(f, layout)
