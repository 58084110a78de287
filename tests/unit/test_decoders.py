"""The torchvision decoder (nvjpeg on a GPU; libjpeg-turbo here) against Pillow's, the reference."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from mobilabel.imaging import load_source
from mobilabel.models import Checkpoint, Classifier
from mobilabel.pipeline.decoders import plain_jpeg, upright
from mobilabel.pipeline.labeller import Labeller
from mobilabel.pipeline.paths import iter_images
from tests.bad_images import ORIENTATION, make_bad_input_folder
from tests.conftest import IMAGENET_WEIGHTS


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(Checkpoint.load(IMAGENET_WEIGHTS), engine="onnx", device="cpu")


def outcomes(classifier: Classifier, decoder: str, paths: list[Path]) -> dict[str, tuple[str, str | None, float | None, str | None]]:
    labeller = Labeller(classifier, batch_size=8, decoder=decoder)
    return {r.image_path: (r.status, r.label, r.confidence, r.error) for b in labeller.label(paths) for r in b.records}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_on_tensors_matches_pillow(tmp_path: Path, orientation: int) -> None:
    pixels = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(pixels).save(tmp_path / "tagged.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "tagged.png")))
    turned = upright(torch.from_numpy(pixels).permute(2, 0, 1), orientation).permute(1, 2, 0).numpy()
    assert np.array_equal(turned, expected)


def test_same_labels_as_pillow_on_the_validation_photos(classifier: Classifier, val_images: list[Path]) -> None:
    pillow = outcomes(classifier, "pillow", val_images)
    tensors = outcomes(classifier, "torchvision", val_images)
    assert {p: o[1] for p, o in tensors.items()} == {p: o[1] for p, o in pillow.items()}
    # Measured on all 609 flowers: at most 0.0053 apart (resizing rounds a few pixels differently).
    assert max(abs(tensors[p][2] - pillow[p][2]) for p in pillow) < 0.01  # type: ignore[operator]


def test_bad_input_gets_pillows_outcome_and_message(classifier: Classifier, val_images: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    make_bad_input_folder(folder, val_images[0])
    # Passes every header check, then fails to decode: the device decode must hand it to Pillow.
    raw = val_images[1].read_bytes()
    scan = raw.index(b"\xff\xda") + 20
    (folder / "garbled-scan.jpg").write_bytes(raw[:scan] + os.urandom(3000) + b"\xff\xd9")
    # What the GPU policy would send to nvjpeg (small, complete, RGB or grey JPEGs): the rest stays in the threads.
    assert plain_jpeg(load_source(folder / "garbled-scan.jpg"), 10**9, 512) is not None
    assert plain_jpeg(load_source(folder / "truncated.jpg"), 10**9, 512) is None  # no end marker
    assert plain_jpeg(load_source(folder / "cmyk.jpg"), 10**9, 512) is None
    assert plain_jpeg(load_source(folder / "plain.jpg"), 10**9, 100) is None  # large enough to decode reduced

    paths = sorted(iter_images(folder))
    pillow = outcomes(classifier, "pillow", paths)
    tensors = outcomes(classifier, "torchvision", paths)
    assert pillow[str(folder / "garbled-scan.jpg")][0] == "failed"
    for path, (status, label, _, error) in pillow.items():
        assert tensors[path][0] == status and tensors[path][3] == error, path
        assert tensors[path][1] == label, path


def test_an_unknown_decoder_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="MOBILABEL_DECODER"):
        Labeller(lambda: None, decoder="nvjpeg")  # type: ignore[arg-type,return-value]
