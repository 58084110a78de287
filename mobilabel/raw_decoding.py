"""Camera RAW sensor data developed by LibRaw (rawpy), for RAW files without a usable embedded preview.

Slower than a preview and held whole in memory while developed, so used only where no preview is usable.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import rawpy

from .image_headers import TooManyPixelsError


class UndevelopedError(ValueError):
    """LibRaw could not read the file's sensor data; the message is LibRaw's."""


def develop(f: BinaryIO, max_pixels: int, min_side: int, full_pixels: int = 0) -> tuple[npt.NDArray[np.uint8], bool]:
    """(The RAW file ``f``'s sensor data demosaiced, upright, 8-bit sRGB with the camera's white balance, H x W x 3;
    whether it was developed at half size).

    Half size (each 2x2 block of the colour filter array one pixel, no interpolation: a quarter of the memory)
    is used when its shorter side stays at least ``min_side`` (0: full size), and at full size (``min_side`` 0) when
    the sensor has more than ``full_pixels`` (> 0: ``imaging.read_picture``'s bound). Raises ``TooManyPixelsError``
    over ``max_pixels`` (from the header, before developing) and ``UndevelopedError``.
    """
    f.seek(0)
    try:
        with rawpy.imread(f) as raw:
            width, height = int(raw.sizes.width), int(raw.sizes.height)
            if width * height > max_pixels:
                raise TooManyPixelsError(width, height)
            half = min(width, height) // 2 >= min_side if min_side > 0 else 0 < full_pixels < width * height
            pixels = raw.postprocess(half_size=half, output_bps=8, use_camera_wb=True)
    except rawpy.LibRawError as exc:
        message = exc.args[0] if exc.args else exc.__class__.__name__
        raise UndevelopedError(message.decode(errors="replace") if isinstance(message, bytes) else str(message)) from exc
    return np.ascontiguousarray(pixels, dtype=np.uint8), half
