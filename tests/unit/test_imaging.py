"""Reading awkward image files into upright 8-bit RGB, or a clear reason why not."""

from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mobilabel.imaging import ImageReadError, label_min_side, read_picture, read_rgb, to_rgb8, train_min_side
from mobilabel.training.data import LabelledImage
from mobilabel.training.loader import make_loader
from tests.bad_images import ORIENTATION, TWO_MIB, exif_rotated, make_bad_input_folder, make_real_world_folder, png_bomb

LIMIT = 89_478_485


@pytest.fixture
def bad_folder(tmp_path: Path, val_images: list[Path]) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "bad"
    return folder, make_bad_input_folder(folder, val_images[0])


def test_every_file_reads_or_fails_with_its_reason(bad_folder: tuple[Path, dict[str, str]]) -> None:
    folder, expect = bad_folder
    for name, outcome in expect.items():
        if name == "unreadable.jpg" and os.geteuid() == 0:
            continue  # root reads anything; the CLI test drops that power to check it
        if outcome == "ok":
            image = read_rgb(folder / name, LIMIT)
            assert image.mode == "RGB", name
        else:
            with pytest.raises(ImageReadError, match=outcome):
                read_rgb(folder / name, LIMIT)


def test_sixteen_bit_images_are_scaled_not_clipped() -> None:
    gradient = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16)
    rgb = np.asarray(to_rgb8(Image.fromarray(gradient)))
    assert rgb[0, :, 0].tolist() == [0, 64, 128, 255]
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_transparent_pixels_become_white() -> None:
    image = Image.new("RGBA", (2, 1), (255, 0, 0, 255))
    image.putpixel((1, 0), (0, 0, 0, 0))
    assert np.asarray(to_rgb8(image)).tolist() == [[[255, 0, 0], [255, 255, 255]]]


def test_exif_orientation_makes_the_photo_upright(tmp_path: Path, val_images: list[Path]) -> None:
    photo = Image.open(val_images[0]).convert("RGB")
    exif_rotated(photo, tmp_path / "rotated.png")  # PNG: lossless, so pixels compare exactly
    stored = Image.open(tmp_path / "rotated.png")
    assert stored.size == (photo.height, photo.width)
    upright = read_rgb(tmp_path / "rotated.png", LIMIT)
    assert upright.size == photo.size
    assert np.array_equal(np.asarray(upright), np.asarray(photo))


def test_the_pixel_limit_is_checked_before_decoding(tmp_path: Path, val_images: list[Path]) -> None:
    with pytest.raises(ImageReadError, match="over the limit of 1,000"):
        read_rgb(val_images[0], 1_000)


@pytest.mark.parametrize("libjpeg", [True, False], ids=["libjpeg-turbo", "pillow"])
def test_phone_formats_large_metadata_and_jpeg_warnings(tmp_path: Path, val_images: list[Path], libjpeg: bool) -> None:
    folder = tmp_path / "real"
    for name, (outcome, warning) in make_real_world_folder(folder, val_images[0]).items():
        if outcome != "ok":
            with pytest.raises(ImageReadError, match=outcome):
                read_picture(folder / name, LIMIT, 512, libjpeg)
            continue
        picture = read_picture(folder / name, LIMIT, 512, libjpeg)
        assert picture.image.mode == "RGB" and picture.image.size == (500, 335), name
        assert (warning is None and picture.warning is None) or (warning and warning in (picture.warning or "")), name


def test_a_folder_is_said_to_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="is a folder, not an image file"):
        read_rgb(tmp_path, LIMIT)


def test_a_pixel_bomb_is_still_refused_when_its_metadata_is_over_the_bounds(tmp_path: Path) -> None:
    png_bomb(tmp_path / "bomb.png")
    data = (tmp_path / "bomb.png").read_bytes()
    text = zlib.compress(b"x" * TWO_MIB)
    chunk = struct.pack(">I", len(text) + 8) + b"zTXt" + b"Comment\0\0" + text
    chunk += struct.pack(">I", zlib.crc32(chunk[4:]) & 0xFFFFFFFF)
    iend = data.rindex(b"IEND") - 4
    (tmp_path / "bomb-with-text.png").write_bytes(data[:iend] + chunk + data[iend:])
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_rgb(tmp_path / "bomb-with-text.png", LIMIT)


def jpeg_eighths(side: int, min_side: int) -> int:
    """The smallest libjpeg-turbo scale M/8 (M = 1..8; returned as M) that keeps ``side`` >= ``min_side``."""
    return min([m for m in range(1, 9) if math.ceil(side * m / 8) >= min_side] or [8])


@pytest.mark.parametrize(
    ("width", "height", "orientation"),
    [
        (4032, 3024, 1),
        (4032, 3024, 6),
        (3024, 4032, 8),
        (2048, 1536, 1),
        (1100, 2000, 6),
        (1030, 1030, 3),
        (1023, 900, 1),
        (600, 400, 1),
        (8000, 6000, 6),
    ],
)
def test_reduced_decode_keeps_the_shorter_side_at_the_bound_at_the_smallest_scale(
    tmp_path: Path, width: int, height: int, orientation: int
) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.new("RGB", (width, height), (90, 140, 60)).save(tmp_path / "photo.jpg", exif=exif, quality=70)
    turned = orientation in (5, 6, 7, 8)
    for bound in (label_min_side(256), train_min_side(224), label_min_side(128)):
        scale = jpeg_eighths(min(width, height), bound)
        expected = (math.ceil(width * scale / 8), math.ceil(height * scale / 8))
        picture = read_picture(tmp_path / "photo.jpg", LIMIT, bound)
        decoded = picture.image
        assert decoded.size == (expected[::-1] if turned else expected), (bound, scale)
        assert min(decoded.size) >= min(bound, width, height)
        assert picture.reduced == (scale < 8)  # what lets a near tie be decoded again at full size
        # Pillow's draft picks its scale from whole multiples of the bound: never below it, never finer than libjpeg's choice.
        drafted = read_picture(tmp_path / "photo.jpg", LIMIT, bound, libjpeg=False)
        pillow = drafted.image
        assert min(pillow.size) >= min(bound, width, height) and min(pillow.size) >= min(decoded.size)
        assert drafted.reduced == (max(pillow.size) < max(width, height))
    assert not read_picture(tmp_path / "photo.jpg", LIMIT).reduced
    assert not read_picture(tmp_path / "photo.jpg", LIMIT, libjpeg=False).reduced
    assert train_min_side(224) == 792 and label_min_side(256) == 512


def test_the_pixel_limit_applies_to_the_declared_size_not_the_reduced_one(tmp_path: Path) -> None:
    Image.new("RGB", (4000, 3000)).save(tmp_path / "big.jpg")
    with pytest.raises(ImageReadError, match="12,000,000 pixels, over the limit of 10,000,000"):
        read_rgb(tmp_path / "big.jpg", 10_000_000, 512)


def test_training_reads_at_the_bound_random_resized_crop_needs(tmp_path: Path) -> None:
    Image.new("RGB", (4032, 3024), (90, 140, 60)).save(tmp_path / "phone.jpg", quality=70)
    sizes: list[tuple[int, int]] = []

    def record(image: Image.Image) -> torch.Tensor:
        sizes.append(image.size)
        return torch.zeros(3, 2, 2)

    loader = make_loader([LabelledImage(tmp_path / "phone.jpg", 0)], record, 1, shuffle=False, workers=0, max_pixels=LIMIT,
                         min_side=train_min_side(224))  # fmt: skip
    assert len(next(iter(loader))) == 1
    assert sizes == [(1512, 1134)]  # 3/8 scale: the smallest whose shorter side is at least 792
