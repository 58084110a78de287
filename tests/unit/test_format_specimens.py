"""Valid files of every kind the formats' specifications define (issue 22, case 8): each is labelled, or refused
with a reason that names what is unsupported; "damaged" is said only of files that are (the same files cut short)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mobilabel.cli.main import cli
from mobilabel.hashing import hash_bytes
from mobilabel.image_headers import DECODED_JPEG_PROCESSES, PNG_DEPTHS, jpeg_frame
from mobilabel.imaging import ImageReadError, ImageSource, read_picture
from tests.api_support import ClientFactory
from tests.format_specimens import SOF_MARKERS, arithmetic_jpeg, jpeg_with_frame, png_of, sof_precisions, tiff_of

DAMAGED = ("damaged", "corrupt", "truncated", "ends early")


def outcome(data: bytes, name: str) -> str:
    """ "ok", or the reason reading ``data`` (as a file called ``name``) failed."""
    try:
        read_picture(ImageSource(Path(name), data, "1:1", hash_bytes(data)), 89_478_485, 512)
    except ImageReadError as exc:
        return str(exc)
    return "ok"


@pytest.fixture(scope="module")
def baseline(val_images: list[Path]) -> bytes:
    out = io.BytesIO()
    Image.open(val_images[0]).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.mark.parametrize(("marker", "precision"), [(m, p) for m in SOF_MARKERS for p in sof_precisions(m)])
def test_every_jpeg_process_and_precision_is_labelled_or_named(baseline: bytes, marker: int, precision: int) -> None:
    data = jpeg_with_frame(baseline, marker, precision)
    found = outcome(data, "photo.jpg")
    if marker in (0xC0, 0xC1) and precision == 8:
        assert found == "ok"  # SOF1 at 8 bits codes exactly as baseline: the assembled file is valid
    elif marker in DECODED_JPEG_PROCESSES and precision == 8:
        # The baseline scan under a progressive or arithmetic-coded header is damage (real arithmetic-coded data:
        # test_arithmetic_coded_jpegs_are_labelled_by_every_decoder).
        assert found == "ok" or any(word in found for word in DAMAGED), found
    else:
        process = f"{precision}-bit"
        assert found.startswith(f"unsupported JPEG: {process} ") and found.endswith(f"(SOF{marker - 0xC0})"), found
        assert not any(word in found for word in DAMAGED), found


def test_progressive_jpegs_are_labelled_and_cut_ones_are_damaged(val_images: list[Path]) -> None:
    out = io.BytesIO()
    Image.open(val_images[0]).convert("RGB").save(out, "JPEG", progressive=True)
    assert outcome(out.getvalue(), "p.jpg") == "ok"
    cut = outcome(out.getvalue()[:400], "p.jpg")
    assert any(word in cut for word in DAMAGED) and "unsupported" not in cut, cut
    twelve = jpeg_with_frame(out.getvalue().replace(b"\xff\xc2", b"\xff\xc0", 1), 0xC3, 12)[:300]
    assert outcome(twelve, "l.jpg") == "unsupported JPEG: 12-bit lossless (SOF3)"  # named from its header, even cut


@pytest.mark.parametrize(("colour_type", "depth"), [(c, d) for c, depths in PNG_DEPTHS.items() for d in depths])
def test_every_png_colour_type_and_bit_depth_is_labelled(colour_type: int, depth: int) -> None:
    data = png_of(colour_type, depth)
    assert outcome(data, "a.png") == "ok"
    cut = outcome(data[: len(data) - 40], "a.png")
    assert any(word in cut for word in DAMAGED), cut


def test_a_png_of_a_depth_its_colour_type_does_not_allow_is_named_invalid() -> None:
    data = png_of(0, 4).replace(b"IHDR", b"IHDR", 1)
    data = data[:24] + bytes([4, 2]) + data[26:]  # RGB at 4 bits: not in the specification's table
    assert outcome(data, "a.png").startswith("invalid PNG: colour type 2 with bit depth 4 is not allowed")


# TIFF 6.0: Photometric (and its samples a pixel) x SampleFormat x BitsPerSample, uncompressed.
PHOTOMETRIC_SAMPLES = {0: 1, 1: 1, 2: 3, 3: 1, 5: 4, 6: 3, 8: 3}
TIFF_CASES = [
    (photometric, sample_format, bits)
    for photometric in PHOTOMETRIC_SAMPLES
    for sample_format in (1, 2, 3)
    for bits in (1, 2, 4, 8, 16, 32, 64)
    if (sample_format != 3 or bits >= 16) and (photometric != 3 or (sample_format == 1 and bits <= 16))
]
_DTYPES = {1: "<u", 2: "<i", 3: "<f"}


def tiff_specimen(photometric: int, sample_format: int, bits: int, width: int = 32, height: int = 24) -> bytes:
    samples = PHOTOMETRIC_SAMPLES[photometric]
    ramp = np.linspace(0, 1, width * samples * height).reshape(height, width * samples)
    if bits < 8:
        pixels = np.random.default_rng(0).integers(0, 256, (width * samples * bits + 7) // 8 * height, dtype=np.uint8).tobytes()
    else:
        dtype = np.dtype(f"{_DTYPES[sample_format]}{bits // 8}")
        pixels = (ramp if sample_format == 3 else ramp * (np.iinfo(dtype).max // 2)).astype(dtype).tobytes()
    tags = {
        0x100: (4, [width]), 0x101: (4, [height]), 0x102: (3, [bits] * samples), 0x103: (3, [1]), 0x106: (3, [photometric]),
        0x115: (3, [samples]), 0x116: (4, [height]), 0x153: (3, [sample_format] * samples),
    }  # fmt: skip
    if photometric == 6:
        tags[0x212] = (3, [1, 1])  # YCbCrSubSampling: none (the default is 2x2)
    if photometric == 3:
        tags[0x140] = (3, list(np.linspace(0, 65535, 1 << bits).astype(int)) * 3)  # ColorMap: a grey ramp
    return tiff_of(tags, pixels)


@pytest.mark.parametrize(("photometric", "sample_format", "bits"), TIFF_CASES)
def test_every_tiff_sample_layout_is_labelled_or_named(photometric: int, sample_format: int, bits: int) -> None:
    found = outcome(tiff_specimen(photometric, sample_format, bits), "scan.tif")
    if found != "ok":
        assert found.startswith(f"unsupported TIFF: {bits}-bit "), found
        assert not any(word in found for word in DAMAGED), found


def test_scanner_and_scientific_tiffs_are_labelled_and_cut_ones_are_damaged() -> None:
    # Pillow's layouts, then those tifffile decodes and this scales to 8 bits: float, 32- and 64-bit, signed, 16-bit YCbCr.
    for layout in ((1, 1, 16), (2, 1, 16), (2, 1, 8), (1, 3, 32), (5, 1, 8), (6, 1, 8), (1, 1, 1),
                   (2, 3, 32), (2, 3, 16), (2, 1, 32), (2, 2, 16), (5, 1, 16), (6, 1, 16), (1, 3, 64), (3, 1, 16)):  # fmt: skip
        data = tiff_specimen(*layout)
        picture = read_picture(ImageSource(Path("scan.tif"), data, "1:1", hash_bytes(data)), 89_478_485)
        low, high = np.asarray(picture.image).min(), np.asarray(picture.image).max()
        assert picture.image.size == (32, 24) and high - low > 64, (layout, low, high)  # the ramp kept its range
    for layout in ((2, 1, 16), (2, 3, 32), (5, 1, 32)):
        cut = outcome(tiff_specimen(*layout)[:-300], "scan.tif")
        assert any(word in cut for word in DAMAGED) and "unsupported" not in cut, (layout, cut)


def test_predict_names_an_unsupported_jpeg_and_label_stores_the_reason(tmp_path: Path, baseline: bytes) -> None:
    (tmp_path / "float.tif").write_bytes(tiff_specimen(2, 3, 32))  # RGB float32: labelled
    (tmp_path / "twelve.jpg").write_bytes(jpeg_with_frame(baseline, 0xC1, 12))
    (tmp_path / "lossless.jpg").write_bytes(jpeg_with_frame(baseline, 0xC7, 16))
    predicted = CliRunner().invoke(cli, ["predict", str(tmp_path / "twelve.jpg")])
    assert predicted.exit_code == 1 and "failed: unsupported JPEG: 12-bit extended sequential (SOF1)" in predicted.output
    labelled = CliRunner().invoke(cli, ["label", str(tmp_path)])
    assert "3 images, 1 labelled, 2 failed" in " ".join(labelled.output.split()), labelled.output
    assert "unsupported JPEG: 16-bit differential lossless (SOF7)" in labelled.output and "damaged" not in labelled.output


@pytest.mark.parametrize("progressive", [False, True], ids=["SOF9", "SOF10"])
def test_arithmetic_coded_jpegs_are_labelled_by_every_decoder(
    tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch, progressive: bool
) -> None:
    """Real arithmetic-coded data (coded by tests.format_specimens from a photo, no encoder here writing it): libjpeg
    decodes it only from data given whole, and Pillow fed it 64 KiB at a time, so a photo over that failed
    "broken data stream" (taken for damage) wherever Pillow decodes: MOBILABEL_DECODER=pillow, the near-tie re-decode."""
    photo = Image.open(val_images[0]).convert("RGB")
    photo = photo.crop((0, 0, photo.width // 8 * 8, photo.height // 8 * 8))
    data = arithmetic_jpeg(photo, progressive)
    frame = jpeg_frame(data)
    assert frame is not None and frame.arithmetic and frame.marker == (0xCA if progressive else 0xC9)
    assert len(data) > 65536  # over one of Pillow's pieces
    source = ImageSource(Path("arith.jpg"), data, "1:1", hash_bytes(data))
    for libjpeg in (True, False):
        picture = read_picture(source, 89_478_485, 0, libjpeg=libjpeg)
        error = np.abs(np.asarray(picture.image, dtype=int) - np.asarray(photo, dtype=int))
        assert picture.image.size == photo.size and error.max() <= 8, (libjpeg, error.max())  # quantised by 1s: YCbCr rounding
    cut = outcome(data[: len(data) // 2], "arith.jpg")
    assert any(word in cut for word in DAMAGED) and "unsupported" not in cut, cut
    (tmp_path / "arith.jpg").write_bytes(data)
    monkeypatch.setenv("MOBILABEL_DECODER", "pillow")
    monkeypatch.setenv("MOBILABEL_REFINE_MARGIN", "1")  # every photo re-decoded by Pillow too
    labelled = CliRunner().invoke(cli, ["label", str(tmp_path)])
    assert labelled.exit_code == 0 and "1 image, 1 labelled" in " ".join(labelled.output.split()), labelled.output


def test_the_api_names_an_unsupported_jpeg_and_labels_an_arithmetic_one(
    api: ClientFactory, baseline: bytes, val_images: list[Path]
) -> None:
    """Case 8 through POST /api/predict: the same reasons as `predict`, per file."""
    photo = Image.open(val_images[0]).convert("RGB")
    arithmetic = arithmetic_jpeg(photo.crop((0, 0, photo.width // 8 * 8, photo.height // 8 * 8)))
    uploads = {
        "twelve.jpg": jpeg_with_frame(baseline, 0xC1, 12),
        "arith.jpg": arithmetic,
        "cut.jpg": arithmetic[: len(arithmetic) // 2],
        "float.tif": tiff_specimen(2, 3, 32),
    }
    answer = api().post("/api/predict", files=[("files", (name, data, "image/jpeg")) for name, data in uploads.items()])
    assert answer.status_code == 200, answer.text
    found = {p["filename"]: p for p in answer.json()["predictions"]}
    assert found["twelve.jpg"]["error"] == "unsupported JPEG: 12-bit extended sequential (SOF1)"
    assert found["arith.jpg"]["error"] is None and found["arith.jpg"]["label"]
    assert found["float.tif"]["error"] is None and found["float.tif"]["label"]
    cut = found["cut.jpg"]["error"] or ""
    assert any(word in cut for word in DAMAGED) and "unsupported" not in cut, cut
