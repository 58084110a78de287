"""Decoders: how an image file becomes a model input (the pixels of its centre crop).

Each decoder follows one small protocol (``Decoder``): a file read once, and the classifier
whose input it must become. A named policy (MOBILABEL_DECODER) picks the decoder per file,
by its content:

- ``torchvision`` (the default): JPEGs are decoded in the decode threads by libjpeg-turbo
  (simplejpeg) at the smallest DCT scale that keeps the shorter side at least twice the resize
  target (``imaging.label_min_side``), then resized and cropped there with torchvision's
  kernels; other formats are decoded by Pillow. On a GPU, small JPEGs (under 1/2 scale) are
  decoded a batch at a time by nvjpeg there and transformed there. The CPU never runs
  torchvision's batch decode: it would hold a batch of full-size photos in one lane, and its
  libjpeg prints warnings to the terminal instead of returning them, where we store them with the result.
  A classifier from a version's stored ONNX file does the same, or in a slim install (no torch) the
  same resize and crop in numpy, pixel for pixel (``Preprocessing.eval_thread_pixels``).
- ``pillow``: Pillow for every file, as the tutorial does (JPEGs reduced with ``Image.draft``).

Every path applies the same checks and error messages (``imaging.read_picture``): libjpeg's
warnings are attributed to the file (a JPEG whose data ends early is failed, the others
kept as a warning on its row), never printed.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PIL import Image

from ..confinement import Confinement
from ..imaging import (
    FULL_DECODE_PIXELS,
    ImageReadError,
    ImageSource,
    check_jpeg,
    label_min_side,
    load_source,
    read_picture,
)
from ..models.classifier import Batch, Classifier
from ..models.preprocessing import Preprocessing

if TYPE_CHECKING:
    import torch

_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Decoded:
    """One file on its way to the model: its pixels (uint8, H x W x 3: numpy, or a tensor from torchvision's
    kernels), an error, or JPEG bytes still to decode on a GPU.

    ``content_hash`` is xxh3-128 of the file's bytes (hex); ``warning`` what a decoder
    reported about a file it still decoded whole; ``reduced`` whether its pixels were decoded at
    a reduced scale (``label_min_side``), which a full-size decode may tip the other way in a near tie.
    """

    path: Path
    content_id: str | None
    preprocessing: Preprocessing
    tensor: Batch | None = None
    error: str | None = None
    encoded: torch.Tensor | None = None
    orientation: int = 1
    content_hash: str | None = None  # mobilabel.hashing of the file's bytes; None if they could not be read
    warning: str | None = None
    reduced: bool = False

    @property
    def undecoded(self) -> bool:
        """Read and hashed only (``Reader.unread``): its result is to be copied from another of the same content."""
        return self.tensor is None and self.encoded is None and self.error is None


class Decoder(Protocol):
    """Turns one file into the input of ``classifier`` (its centre crop at the model's size), or says why not."""

    def decode(self, source: ImageSource, classifier: Classifier) -> Decoded: ...


class ThreadDecoder:
    """Decodes, turns upright, resizes and crops in the decode thread, at reduced size (``label_min_side``),
    or with ``reduce`` False at full size.

    By default JPEG pixels come from libjpeg-turbo (simplejpeg) and are resized and cropped with
    torchvision's kernels (the same transforms, measured several times faster than Pillow's on the
    flowers); ``pillow`` does both with Pillow, as the tutorial does.
    """

    def __init__(self, max_pixels: int, pillow: bool = False, reduce: bool = True, full_pixels: int = 0) -> None:
        """``full_pixels`` > 0 bounds a full-size decode (``imaging.read_picture``): a bigger JPEG is decoded at a reduced scale."""
        self.max_pixels = max_pixels
        self.pillow = pillow
        self.reduce = reduce
        self.full_pixels = full_pixels

    def decode(self, source: ImageSource, classifier: Classifier) -> Decoded:
        preprocessing = classifier.preprocessing
        found = Decoded(source.path, source.content_id, preprocessing, content_hash=source.content_hash)
        min_side = label_min_side(preprocessing.resize_size) if self.reduce else 0
        try:
            picture = read_picture(source, self.max_pixels, min_side, libjpeg=not self.pillow, full_pixels=self.full_pixels)
            tensor = classifier.pixels(picture.image) if self.pillow else classifier.thread_pixels(picture.image)
            return replace(found, tensor=tensor, warning=picture.warning, reduced=picture.reduced)
        except ImageReadError as exc:
            return replace(found, error=str(exc))
        except Exception as exc:  # a transform failing on one odd image must not sink the batch
            return replace(found, error=f"cannot transform image: {exc}")


class DeviceJpegDecoder:
    """Leaves a plain JPEG's bytes for ``finish_on_device``: decoded a batch at a time on the model's device."""

    def __init__(self, orientation: int) -> None:
        self.orientation = orientation

    def decode(self, source: ImageSource, classifier: Classifier) -> Decoded:
        import torch

        found = Decoded(source.path, source.content_id, classifier.preprocessing, content_hash=source.content_hash)
        try:
            # nvjpeg would fill a picture whose data ends early with grey, without a word.
            warning = check_jpeg(source.data or b"")
        except ImageReadError as exc:
            return replace(found, error=str(exc))
        encoded = torch.frombuffer(bytearray(source.data or b""), dtype=torch.uint8)
        return replace(found, encoded=encoded, orientation=self.orientation, warning=warning)


# A policy: the decoder for one file (its content read) and classifier.
DecoderChoice = Callable[[ImageSource, Classifier], Decoder]


def _pillow_everywhere(max_pixels: int) -> DecoderChoice:
    pillow = ThreadDecoder(max_pixels, pillow=True)
    return lambda source, classifier: pillow


def _torchvision(max_pixels: int) -> DecoderChoice:
    threads = ThreadDecoder(max_pixels)

    def choose(source: ImageSource, classifier: Classifier) -> Decoder:
        # On the CPU, libjpeg-turbo in the decode threads at reduced size beats one batch decode in
        # a lane at full size, and holds no batch of full-size photos (memory stays bounded on phone-size photos).
        if source.is_jpeg and classifier.engine.device.startswith("cuda"):
            small = plain_jpeg(source, max_pixels, label_min_side(classifier.preprocessing.resize_size))
            if small is not None:
                return DeviceJpegDecoder(small)
        return threads

    return choose


# MOBILABEL_DECODER's values, the default first.
DECODERS: dict[str, Callable[[int], DecoderChoice]] = {"torchvision": _torchvision, "pillow": _pillow_everywhere}


class Reader:
    """Runs in the decode threads: reads one file once, hashes it, and hands it to the decoder the policy picks.

    Any failure is returned as an error in the ``Decoded``, never raised.
    """

    def __init__(self, max_pixels: int, allowed_roots: Sequence[Path] = (), decoder: str = "torchvision") -> None:
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {', '.join(DECODERS)} (MOBILABEL_DECODER)")
        self.max_pixels = max_pixels
        self.allowed_roots = tuple(allowed_roots)
        self.job_roots: tuple[Path, ...] = ()  # ``within``
        self.choose = DECODERS[decoder](max_pixels)
        self.fallback = ThreadDecoder(max_pixels)
        # For a near tie a reduced decode left (``Labeller.refine``): Pillow at full size, as the tutorial
        # decodes (its very pixels), and the leaner full decode in peak memory than libjpeg-turbo with
        # torchvision's resize (docs/benchmarks/recorded.md, Decoding). Bounded: a JPEG over
        # FULL_DECODE_PIXELS (a big scan) at the largest DCT scale within it, so memory stays that of a phone photo.
        self.full = ThreadDecoder(max_pixels, pillow=True, reduce=False, full_pixels=FULL_DECODE_PIXELS)

    def within(self, roots: Sequence[Path]) -> Reader:
        """This reader, opening only files that also lie under ``roots``: those of the process that created
        the job (the server, for a job created over HTTP), which a worker holds to as well as to its own."""
        narrowed = copy.copy(self)
        narrowed.job_roots = tuple(roots)
        return narrowed

    def refusal(self, path: Path) -> str | None:
        """Why ``path`` (links resolved) may not be opened, or None: it lies outside this process's roots or the job's."""
        return Confinement(self.allowed_roots, self.job_roots).refusal(path)

    def read(self, path: Path, classifier: Classifier, decoder: Decoder | None = None) -> Decoded:
        """The file as ``classifier``'s input (or JPEG bytes for the device), or its error; ``decoder``
        overrides the policy's choice."""
        source = self.load(path, classifier)
        return source if isinstance(source, Decoded) else self.decode(source, classifier, decoder)

    def load(self, path: Path, classifier: Classifier) -> ImageSource | Decoded:
        """The file read once and hashed, or (a ``Decoded``) why it could not be: every file is read here.

        The roots are checked on the path before it is opened (the same answer whatever lies outside), and on
        the real path of the file opened (``files.open_regular``), so a link swapped in between is refused too."""
        preprocessing = classifier.preprocessing
        if (refused := self.refusal(path)) is not None:
            return Decoded(path, None, preprocessing, error=refused)
        try:
            return load_source(path, self.refusal if self.allowed_roots or self.job_roots else None)
        except ImageReadError as exc:
            return Decoded(path, None, preprocessing, error=str(exc))

    def decode(self, source: ImageSource, classifier: Classifier, decoder: Decoder | None = None) -> Decoded:
        """A file ``load`` read, as ``classifier``'s input, by ``decoder`` or the policy's choice."""
        return (decoder or self.choose(source, classifier)).decode(source, classifier)

    @staticmethod
    def unread(source: ImageSource, classifier: Classifier) -> Decoded:
        """A file ``load`` read that is not decoded: its result will be a copy of its content's (``Decoded.undecoded``)."""
        return Decoded(source.path, source.content_id, classifier.preprocessing, content_hash=source.content_hash)


def plain_jpeg(source: ImageSource, max_pixels: int, min_side: int) -> int | None:
    """The EXIF orientation of a complete RGB or grey JPEG within the pixel limit whose shorter side is
    under twice ``min_side`` (no 1/2-scale decode possible: little to gain in the threads), or None."""
    data = source.data
    # A truncated file is left to the threads, which refuse it; nvjpeg might fill it with grey.
    if data is None or data.rstrip(b"\0")[-2:] != b"\xff\xd9":
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.format != "JPEG" or image.mode not in ("RGB", "L") or width * height > max_pixels:
                return None
            if min(width, height) >= 2 * min_side:
                return None
            orientation = image.getexif().get(_ORIENTATION, 1)
    except Exception:  # the threads will say what is wrong with it
        return None
    return orientation if orientation in range(1, 9) else 1


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

    A file that fails here goes through the decode threads' path instead, which decodes it or says why not.
    """
    pending = [i for i, item in enumerate(batch) if item.encoded is not None]
    finished = list(batch)
    if not pending or classifier.device_pixels is None:  # device_pixels: on a GPU, where DeviceJpegDecoder is chosen
        return finished
    device_pixels = classifier.device_pixels
    images = _decode_jpegs([batch[i].encoded for i in pending], classifier.engine.device)  # type: ignore[misc]
    for i, image in zip(pending, images, strict=True):
        item = batch[i]
        try:
            if image is None:
                raise RuntimeError("not decodable on the device")
            finished[i] = replace(item, encoded=None, tensor=device_pixels(upright(image, item.orientation)))
        except RuntimeError:
            finished[i] = reader.read(item.path, classifier, reader.fallback)
    return finished


def _decode_jpegs(data: list[torch.Tensor], device: str) -> list[torch.Tensor | None]:
    from torchvision.io import ImageReadMode, decode_jpeg

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
