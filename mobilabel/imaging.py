"""Reading image files safely into 8-bit RGB, the same way for labelling and training.

Every failure becomes an ``ImageReadError`` with a message a user can act on;
nothing here lets one bad file take a batch down with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import MobilabelError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})

# A truncated file is reported, not silently padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

_WHITE = (255, 255, 255, 255)
_SIGNATURES = (b"\xff\xd8", b"\x89PNG", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


class ImageReadError(MobilabelError):
    """A file that could not be read as an image; the message says why."""


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def content_identity(path: Path) -> str:
    """A cheap identity of a file's content: size and modification time."""
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def read_rgb(path: Path, max_pixels: int) -> Image.Image:
    """The image at ``path``, upright (EXIF orientation applied), as 8-bit RGB.

    Images over ``max_pixels`` are refused from their header, before any pixel is
    decoded, so a decompression bomb costs nothing.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageReadError(
                    f"image is {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
                    "(MOBILABEL_MAX_IMAGE_PIXELS); refused as a possible decompression bomb"
                )
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of an upright photo
            return to_rgb8(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"refused as a possible decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(_unidentified_reason(path)) from exc
    except PermissionError as exc:
        raise ImageReadError("permission denied") from exc
    except FileNotFoundError as exc:
        raise ImageReadError("file not found") from exc
    except MemoryError as exc:
        raise ImageReadError("out of memory while decoding") from exc
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError...
        raise ImageReadError(f"corrupt or truncated image: {exc}") from exc


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
        values = np.asarray(image, dtype=np.float64)
        if values.max(initial=0.0) <= 1.0:
            values = values * 255.0
        return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _unidentified_reason(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    if not head:
        return "empty file (0 bytes)"
    if head.startswith(_SIGNATURES):
        return "corrupt image: the header is damaged"
    return "not an image: the content is not a format that can be read"
