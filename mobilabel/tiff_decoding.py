"""TIFFs whose sample layout Pillow does not open (float or 32-bit RGB, signed or 64-bit samples, 16-bit YCbCr,
16-bit palettes, ...), decoded by tifffile and scaled to 8-bit RGB.

Scaling keeps the tonal range: unsigned samples by their bit depth's maximum, signed ones by their type's
maximum with negatives clipped to black (as Pillow reads signed grey), floats as they are when within
[0, 1] and otherwise stretched from their minimum to their maximum.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import tifffile

from .image_headers import TooManyPixelsError

_MINISWHITE, _MINISBLACK, _RGB, _PALETTE, _CMYK, _YCBCR = 0, 1, 2, 3, 5, 6


class UnsupportedLayoutError(ValueError):
    """A TIFF whose colour space (photometric interpretation) is not turned into RGB here."""


def read_tiff(f: BinaryIO, max_pixels: int) -> tuple[npt.NDArray[np.uint8], int]:
    """(The first image of the TIFF ``f`` as 8-bit RGB, H x W x 3; its EXIF orientation, 1-8).

    Raises ``TooManyPixelsError`` over ``max_pixels`` (from the header: nothing is decoded),
    ``UnsupportedLayoutError`` for a colour space not handled here, and tifffile's errors
    (``tifffile.TiffFileError``, ``ValueError``, ...) for a file it cannot decode.
    """
    f.seek(0)
    with tifffile.TiffFile(f) as tif:
        page = tif.pages.first
        width, height = int(page.imagewidth), int(page.imagelength)
        if width * height > max_pixels:
            raise TooManyPixelsError(width, height)
        samples = np.asarray(page.asarray())
        if samples.ndim == 3 and int(page.planarconfig) == 2:
            samples = np.moveaxis(samples, 0, -1)
        if samples.ndim == 2:
            samples = samples[:, :, None]
        photometric = int(page.photometric)
        bits = int(page.bitspersample)
        colormap = page.colormap
        orientation = int(page.tags.valueof(274, 1))
    if photometric == _PALETTE and colormap is not None:
        rgb = np.moveaxis(np.asarray(colormap)[:, samples[:, :, 0].astype(np.intp)], 0, -1) / 65535.0
    else:
        rgb = _to_rgb(_unit(samples, bits), photometric)
    return (np.clip(rgb, 0.0, 1.0) * 255.0).round().astype(np.uint8), orientation if orientation in range(1, 9) else 1


def _unit(samples: npt.NDArray[np.generic], bits: int) -> npt.NDArray[np.float64]:
    """Samples scaled to [0, 1] (see the module's docstring)."""
    if samples.dtype == np.bool_:
        return samples.astype(np.float64)
    if np.issubdtype(samples.dtype, np.unsignedinteger):
        return samples.astype(np.float64) / float((1 << min(bits, 64)) - 1)
    if np.issubdtype(samples.dtype, np.signedinteger):
        return np.clip(samples.astype(np.float64), 0, None) / float((1 << (samples.dtype.itemsize * 8 - 1)) - 1)
    if np.issubdtype(samples.dtype, np.complexfloating):
        samples = np.abs(samples)
    values = np.nan_to_num(samples.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if low >= 0.0 and high <= 1.0:
        return values
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _to_rgb(unit: npt.NDArray[np.float64], photometric: int) -> npt.NDArray[np.float64]:
    channels = unit.shape[2]
    if photometric in (_MINISWHITE, _MINISBLACK):
        grey = unit[:, :, 0] if photometric == _MINISBLACK else 1.0 - unit[:, :, 0]
        return np.repeat(grey[:, :, None], 3, axis=2)
    if photometric == _RGB and channels >= 3:
        return unit[:, :, :3]
    if photometric == _CMYK and channels >= 4:
        return (1.0 - unit[:, :, :3]) * (1.0 - unit[:, :, 3:4])
    if photometric == _YCBCR and channels >= 3:
        # ITU-R BT.601, full range, as JFIF and TIFF's default YCbCrCoefficients give.
        y, cb, cr = unit[:, :, 0], unit[:, :, 1] - 0.5, unit[:, :, 2] - 0.5
        return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=2)
    raise UnsupportedLayoutError(f"photometric {photometric} with {channels} samples a pixel")
