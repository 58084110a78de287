"""A folder of awkward inputs, made from real photos: what a user's folder really holds."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, PngImagePlugin

ORIENTATION = 0x0112


def png_bomb(path: Path, side: int = 30_000) -> None:
    """A valid 1-bit PNG of side x side pixels (900 Mpx) that is only ~100 KB on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes((side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def exif_rotated(photo: Image.Image, path: Path) -> None:
    """The photo stored on its side with an EXIF tag (6: rotate 90 clockwise) that turns it upright."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    photo.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)


def make_bad_input_folder(folder: Path, photo_path: Path) -> dict[str, str]:
    """Fill ``folder``; returns each file's relative path and what labelling it must give:
    ``ok``, or a fragment of the failure's reason."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.open(photo_path).convert("RGB")
    raw = photo_path.read_bytes()
    expect: dict[str, str] = {}

    def put(name: str, outcome: str) -> Path:
        expect[name] = outcome
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        return folder / name

    shutil.copy(photo_path, put("plain.jpg", "ok"))
    put("zero-byte.jpg", "empty file").write_bytes(b"")
    put("text.jpg", "not an image").write_text("this is not a photo\n")
    put("truncated.jpg", "truncated").write_bytes(raw[: len(raw) // 2])
    put("corrupt.jpg", "corrupt").write_bytes(raw[:200] + os.urandom(4000))
    png_bomb(put("bomb.png", "decompression bomb"))
    photo.convert("L").save(put("grayscale.jpg", "ok"))
    photo.convert("CMYK").save(put("cmyk.jpg", "ok"))
    gradient = (np.linspace(0, 65535, 256, dtype=np.uint32)[None, :].repeat(128, 0)).astype(np.uint16)
    Image.fromarray(gradient).save(put("sixteen-bit.png", "ok"))
    photo.convert("P", palette=Image.Palette.ADAPTIVE).save(put("palette.png", "ok"))
    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(put("alpha.png", "ok"))
    photo.convert("LA").save(put("gray-alpha.png", "ok"))
    exif_rotated(photo, put("rotated.jpg", "ok"))
    shutil.copy(photo_path, put("nested/deeper/UPPER CASE.JPG", "ok"))
    shutil.copy(photo_path, put("odd names/ünïcødé 日本 'quote\" 100%_x.JpEg", "ok"))
    shutil.copy(photo_path, put("-leading-dash.jpeg", "ok"))
    unreadable = put("unreadable.jpg", "permission denied")
    shutil.copy(photo_path, unreadable)
    unreadable.chmod(0)
    (folder / "notes.txt").write_text("not an image name: never picked up\n")
    (folder / "nested" / "loop").symlink_to("..", target_is_directory=True)
    return expect


# Large enough to pass Pillow's metadata bounds (PngImagePlugin.MAX_TEXT_CHUNK is 1 MiB).
TWO_MIB = 2 * 1024 * 1024


def make_real_world_folder(folder: Path, photo_path: Path) -> dict[str, tuple[str, str | None]]:
    """Fill ``folder`` with what phones, cameras and odd tools leave; returns each file's relative
    path and (``ok`` or a fragment of the failure's reason, a fragment of the row's warning or None)."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.open(photo_path).convert("RGB")
    raw = photo_path.read_bytes()
    expect: dict[str, tuple[str, str | None]] = {}

    def put(name: str, outcome: str, warning: str | None = None) -> Path:
        expect[name] = (outcome, warning)
        return folder / name

    heic = pillow_heif.from_pillow(photo)
    heic.save(put("IMG_0001.HEIC", "ok"), quality=80)
    heic.save(put("heic-named.jpg", "ok"), quality=80, format="HEIF")  # content decides, not the name
    photo.save(put("photo.avif", "ok"), quality=60)
    shutil.copy(photo_path, put("download.jfif", "ok"))
    photo.save(put("camera.mpo", "ok"), format="MPO", save_all=True, append_images=[photo.rotate(180)])
    # A valid ISO media file (an MP4's header) under an image name: not "damaged".
    (folder / "clip.heic").write_bytes(struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 512, b"isom", b"mp41"))
    expect["clip.heic"] = ("holds no image this build can decode", None)

    icc = np.random.default_rng(0).integers(0, 256, TWO_MIB, dtype=np.uint8).tobytes()
    photo.save(put("big-icc.png", "ok", "metadata ignored"), icc_profile=icc)
    itxt = PngImagePlugin.PngInfo()
    itxt.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta/>" * (TWO_MIB // 12 + 1), zip=True)
    photo.save(put("big-itxt.png", "ok", "metadata ignored"), pnginfo=itxt)
    ztxt = PngImagePlugin.PngInfo()
    ztxt.add_text("Comment", "z" * TWO_MIB, zip=True)
    photo.save(put("big-ztxt.png", "ok", "metadata ignored"), pnginfo=ztxt)

    end = raw.rindex(b"\xff\xd9")
    # Cut short with an end marker appended, as interrupted copies leave them.
    put("cut-short.jpg", "image data ends early: the picture is incomplete").write_bytes(raw[: len(raw) // 2] + b"\xff\xd9")
    # Stray bytes before the end marker: the picture is whole, the warning is kept.
    put("extraneous.jpg", "ok", "extraneous bytes before marker").write_bytes(raw[:end] + b"\x00\x00\x00" + raw[end:])
    (folder / "notes.txt").write_text("not an image name: counted as skipped\n")
    return expect
