"""Decoders: how an image file becomes a model input (the pixels of its centre crop).

``pillow`` decodes, resizes and crops each file in a decode thread, with Pillow, as the
tutorial does; it reads every format. ``torchvision`` (the default) only reads bytes and
checks headers in the threads; the batch's JPEGs are then decoded together on the
model's device (nvjpeg on a GPU, libjpeg-turbo on the CPU) and resized and cropped
there with torchvision's kernels, so a GPU is not left waiting on a few CPU cores. The
transforms are the same, their rounding differs on a few pixels: on the 609 flowers
both give the same labels (ImageNet and a trained flowers model) with confidences
within 0.006, and on 2 CPU cores `mobilabel label` runs 10% faster (bench/). Whatever it
cannot take (other formats, CMYK, a truncated file, a decode error) goes through
Pillow, so every file meets the same checks and error messages.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from ..hashing import hash_bytes, hash_file
from ..imaging import ImageReadError, content_identity, read_rgb
from ..models import Classifier, Preprocessing
from .paths import outside_roots

DECODERS = ("torchvision", "pillow")

_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_ORIENTATION = 0x0112
# Larger files go through Pillow, which streams them instead of holding the bytes twice.
_MAX_ENCODED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Decoded:
    """One file on its way to the model: its pixels (uint8, H x W x 3), an error, or JPEG bytes still to decode."""

    path: Path
    content_id: str | None
    preprocessing: Preprocessing
    tensor: torch.Tensor | None = None
    error: str | None = None
    encoded: torch.Tensor | None = None
    orientation: int = 1
    content_hash: str | None = None  # mobilabel.hashing of the file's bytes; None if they could not be read


class Reader:
    """Runs in the decode threads: checks and reads one file for the chosen decoder.

    Any failure is returned as an error in the ``Decoded``, never raised.
    """

    def __init__(self, max_pixels: int, allowed_roots: Sequence[Path] = (), decoder: str = "torchvision") -> None:
        self.max_pixels = max_pixels
        self.allowed_roots = tuple(allowed_roots)
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {', '.join(DECODERS)} (MOBILABEL_DECODER)")
        self.decoder = decoder

    def read(self, path: Path, classifier: Classifier) -> Decoded:
        """JPEG bytes for the device (torchvision decoder, a plain complete JPEG), else Pillow's pixels or error."""
        if self.decoder == "torchvision" and not outside_roots(path, self.allowed_roots):
            try:
                content_id = content_identity(path)
                jpeg = plain_jpeg(path, self.max_pixels)
            except OSError:
                jpeg = None
            if jpeg is not None:
                encoded, orientation = jpeg
                return Decoded(
                    path, content_id, classifier.checkpoint.preprocessing, encoded=encoded, orientation=orientation,
                    content_hash=hash_bytes(encoded.numpy()),
                )
        return self.with_pillow(path, classifier)

    def with_pillow(self, path: Path, classifier: Classifier) -> Decoded:
        preprocessing = classifier.checkpoint.preprocessing
        if outside_roots(path, self.allowed_roots):
            return Decoded(path, None, preprocessing, error="path is outside the allowed roots (MOBILABEL_ALLOWED_ROOTS); not opened")
        try:
            content_id = content_identity(path)
        except OSError as exc:
            return Decoded(path, None, preprocessing, error=f"cannot stat file: {exc.strerror or exc}")
        try:
            content_hash: str | None = hash_file(path)
        except OSError:
            content_hash = None  # read_rgb says why it cannot be read
        try:
            pixels = classifier.pixels(read_rgb(path, self.max_pixels))
            return Decoded(path, content_id, preprocessing, tensor=pixels, content_hash=content_hash)
        except ImageReadError as exc:
            return Decoded(path, content_id, preprocessing, error=str(exc), content_hash=content_hash)
        except Exception as exc:  # a transform failing on one odd image must not sink the batch
            return Decoded(path, content_id, preprocessing, error=f"cannot transform image: {exc}", content_hash=content_hash)


def plain_jpeg(path: Path, max_pixels: int) -> tuple[torch.Tensor, int] | None:
    """(bytes, EXIF orientation) of a complete RGB or grey JPEG within the pixel limit, or None for anything else."""
    with open(path, "rb") as f:
        if f.read(2) != _JPEG_START:
            return None
        data = _JPEG_START + f.read(_MAX_ENCODED_BYTES)
    # A truncated file is left to Pillow, which refuses it; nvjpeg might fill it with grey.
    if len(data) > _MAX_ENCODED_BYTES or data.rstrip(b"\0")[-2:] != _JPEG_END:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.format != "JPEG" or image.mode not in ("RGB", "L") or width * height > max_pixels:
                return None
            orientation = image.getexif().get(_ORIENTATION, 1)
    except Exception:  # Pillow will say what is wrong with it
        return None
    return torch.frombuffer(bytearray(data), dtype=torch.uint8), orientation if orientation in range(1, 9) else 1


def upright(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation (1-8) to a (C, H, W) image, as Pillow's ``exif_transpose`` does."""
    if orientation in (5, 6, 7, 8):
        image = image.transpose(-2, -1)  # 5: transpose; the rest are a transpose and a flip
    if orientation in (2, 3, 6, 7):
        image = image.flip(-1)
    if orientation in (3, 4, 7, 8):
        image = image.flip(-2)
    return image


def finish_on_device(batch: Sequence[Decoded], classifier: Classifier, reader: Reader) -> list[Decoded]:
    """Decode the batch's JPEG bytes in one call on the classifier's device and transform them there.

    A file that fails here goes through Pillow instead, which decodes it or says why not.
    """
    pending = [i for i, item in enumerate(batch) if item.encoded is not None]
    finished = list(batch)
    if not pending:
        return finished
    images = _decode_jpegs([batch[i].encoded for i in pending], classifier.engine.device)  # type: ignore[misc]
    for i, image in zip(pending, images, strict=True):
        item = batch[i]
        try:
            if image is None:
                raise RuntimeError("not decodable on the device")
            finished[i] = replace(item, encoded=None, tensor=classifier.tensor_pixels(upright(image, item.orientation)))
        except RuntimeError:
            finished[i] = reader.with_pillow(item.path, classifier)
    return finished


def _decode_jpegs(data: list[torch.Tensor], device: str) -> list[torch.Tensor | None]:
    with warnings.catch_warnings():
        # torchvision 0.29 marks its decoders deprecated in favour of TorchCodec, which is
        # not on our machines; they remain the batched nvjpeg path torchvision ships.
        warnings.simplefilter("ignore")
        try:
            return list(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
        except RuntimeError:
            pass  # the batch call returns nothing if one image fails: find which, one by one
        decoded: list[torch.Tensor | None] = []
        for one in data:
            try:
                decoded.append(decode_jpeg(one, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                decoded.append(None)
        return decoded
