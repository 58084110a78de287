"""Photos as a phone writes them, made from the shared flowers: the decoders' tests and bench/phone.py use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

_ORIENTATION = 0x0112


def phone_photo(source: Path, target: Path, seed: int, orientation: int, size: tuple[int, int] = (4032, 3024)) -> None:
    """``source`` upscaled to ``size`` (width, height; 12 megapixels by default) with mild noise (+-6), saved at
    JPEG quality 90, as a phone writes it; with ``orientation`` 6, stored on its side with the EXIF tag that turns it upright."""
    pixels = np.asarray(Image.open(source).convert("RGB").resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = Image.fromarray(np.clip(pixels + np.random.default_rng(seed).integers(-6, 7, pixels.shape), 0, 255).astype(np.uint8))
    exif = Image.Exif()
    if orientation == 6:
        exif[_ORIENTATION] = 6
        noisy = noisy.transpose(Image.Transpose.ROTATE_90)
    noisy.save(target, "JPEG", quality=90, exif=exif)
