"""Thumbnails of result images: decoded at reduced size (Pillow's ``draft``, JPEG DCT scaling),
turned upright, cached on disk under a key of result id, file fingerprint and size, so a
changed file gets a new one and an unchanged one is never decoded twice."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps

from ...imaging import ImageReadError, load_source, to_rgb8
from ...object_paths import ObjectPath

THUMBNAIL_SIZES = (128, 256, 512)
_QUALITY = 85


def thumbnail_path(cache_dir: Path, result_id: int, fingerprint: str, size: int) -> Path:
    """Where the thumbnail of this result, in this state of its file, is cached."""
    return cache_dir / f"{result_id // 1000:04d}" / f"{result_id}-{fingerprint.replace(':', '-')}-{size}.jpg"


def make_thumbnail(source: Path, target: Path, size: int, max_pixels: int) -> None:
    """Write a JPEG of ``source`` that fits in ``size`` x ``size``, upright, to ``target``.

    Raises ``ImageReadError`` when the file cannot be read or is over ``max_pixels``.
    """
    try:
        with Image.open(_readable(source)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageReadError(
                    f"image is {width}x{height}, over the limit of {max_pixels:,} pixels (MOBILABEL_MAX_IMAGE_PIXELS)"
                )
            # draft() picks the smallest DCT scale at least this size: a 12-megapixel JPEG decodes at 1/8.
            image.draft("RGB", (size, size))
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((size, size), Image.Resampling.LANCZOS)
            small = to_rgb8(upright)
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(f"cannot read image: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    small.save(partial, "JPEG", quality=_QUALITY)
    partial.replace(target)  # atomic: a concurrent reader sees the whole file or none


def _readable(source: Path) -> Path | BinaryIO:
    """The file, or an object's bytes fetched whole (no more than ``MAX_IN_MEMORY_BYTES``) to decode from memory."""
    if isinstance(source, ObjectPath):
        return io.BytesIO(load_source(source).data or b"")
    return source
