"""The file walk and decoders against what a disk, a camera or an attacker holds (issue 22, cases 4-8):
special files, images over Pillow's pixel limit, paths over PATH_MAX, camera RAW, and valid files of kinds
no decoder here takes. Every input is made by the test."""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from mobilabel.cli.main import cli
from mobilabel.files import PATH_MAX
from mobilabel.hashing import hash_bytes
from mobilabel.imaging import ImageReadError, ImageSource, read_picture
from tests.api_support import ClientFactory
from tests.format_specimens import dng_of_sensor_data, dng_with_preview, raw_without_preview


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def rows() -> dict[str, dict[str, str]]:
    return {r["image_path"]: r for r in csv.DictReader(io.StringIO(run("results", "--format", "csv").output))}


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "special" / "listener"
    path.parent.mkdir(exist_ok=True)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        yield path


def test_predict_answers_the_photo_and_gives_each_special_file_a_reason(tmp_path: Path, val_images: list[Path]) -> None:
    shutil.copy(val_images[0], tmp_path / "good.jpg")
    os.mkfifo(tmp_path / "fifo.jpg")  # no writer: opening it for reading the usual way blocks forever
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")  # read whole, it never ends
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    answered = run("predict", *(str(tmp_path / n) for n in ("good.jpg", "fifo.jpg", "zero.jpg", "dangling.jpg")))
    assert answered.exit_code == 1
    lines = dict(line.split("\t", 1) for line in answered.output.splitlines())
    assert "failed" not in lines[str(tmp_path / "good.jpg")]
    assert lines[str(tmp_path / "fifo.jpg")] == "failed: a FIFO (named pipe), not a regular file: not opened"
    assert lines[str(tmp_path / "zero.jpg")] == "failed: a character device, not a regular file: not opened"
    assert lines[str(tmp_path / "dangling.jpg")] == "failed: a broken symbolic link: its target does not exist"


def test_label_labels_fails_or_counts_every_entry_it_meets(tmp_path: Path, val_images: list[Path], unix_socket: Path) -> None:
    folder = unix_socket.parent
    shutil.copy(val_images[0], folder / "good.jpg")
    (folder / "notes.txt").write_text("not a photo")
    os.mkfifo(folder / "fifo.jpg")
    os.mkfifo(folder / "pipe")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "null").symlink_to("/dev/null")
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    (folder / "dangling").symlink_to(folder / "gone")
    (folder / "again").symlink_to(folder, target_is_directory=True)
    labelled = run("label", str(folder))
    assert labelled.exit_code == 0, labelled.output
    # One line however long, where the output is no terminal (``cli.output.messages``).
    (summary,) = [line for line in labelled.output.splitlines() if line.startswith("job ")]
    assert " s (" in summary and ", model version " in summary, summary
    assert "4 images, 1 labelled, 3 failed, 0 skipped (unchanged), 1 skipped: not an image" in summary
    for passed_over in (
        "1 skipped: a FIFO (named pipe), not a regular file", "1 skipped: a character device, not a regular file",
        "1 skipped: a socket, not a regular file", "1 skipped: broken symbolic link", "1 skipped: link to a folder already walked",
    ):  # fmt: skip
        assert passed_over in summary, summary
    stored = rows()
    assert stored.keys() == {str(folder / n) for n in ("good.jpg", "fifo.jpg", "zero.jpg", "dangling.jpg")}
    assert stored[str(folder / "good.jpg")]["status"] == "ok"
    assert stored[str(folder / "fifo.jpg")]["error"] == "a FIFO (named pipe), not a regular file: not opened"
    assert stored[str(folder / "zero.jpg")]["error"] == "a character device, not a regular file: not opened"
    assert stored[str(folder / "dangling.jpg")]["error"] == "a broken symbolic link: its target does not exist"


def photo_deeper_than_path_max(root: Path, photo: Path) -> str:
    """A copy of ``photo`` under ``root`` whose whole path is over PATH_MAX: made a folder at a time relative to the
    last (mkdir with dir_fd), as no whole path this long can be used. Returns that path."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    depth = 0
    try:
        while len(str(root)) + depth * 201 <= PATH_MAX + 200:
            os.mkdir("d" * 200, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
            depth += 1
        with open(os.open("photo.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as out:
            out.write(photo.read_bytes())
    finally:
        os.close(fd)
    path = str(root / "/".join(["d" * 200] * depth) / "photo.jpg")
    assert len(os.fsencode(path)) > PATH_MAX
    return path


def test_a_photo_under_a_path_longer_than_path_max_is_labelled(tmp_path: Path, val_images: list[Path]) -> None:
    photo = photo_deeper_than_path_max(tmp_path, val_images[0])
    labelled = run("label", str(tmp_path))
    assert "1 image, 1 labelled, 0 failed" in " ".join(labelled.output.split()), labelled.output
    assert rows()[photo]["status"] == "ok"
    predicted = run("predict", photo)
    assert predicted.exit_code == 0 and predicted.output.startswith(photo + "\t") and "failed" not in predicted.output


def test_a_job_created_over_http_labels_a_photo_under_a_path_longer_than_path_max(
    tmp_path: Path, val_images: list[Path], api: ClientFactory
) -> None:
    photo = photo_deeper_than_path_max(tmp_path, val_images[0])
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path))
    created = client.post("/api/jobs", json={"folder": str(tmp_path)})
    assert created.status_code == 202, created.text
    client.app.state.runner.wait_idle(timeout=120)  # type: ignore[attr-defined]
    job = client.get(f"/api/jobs/{created.json()['id']}").json()
    assert (job["status"], job["total"], job["done"], job["failed"]) == ("completed", 1, 1, 0), job
    (row,) = client.get("/api/results", params={"job": job["id"]}).json()["items"]
    assert (row["image_path"], row["status"]) == (photo, "ok")


def big_scan(path: Path, width: int, height: int) -> Path:
    """A grey scan of ``width`` x ``height`` pixels that compresses to little (a flat image with one edge)."""
    scan = Image.new("L", (width, height), 200)
    scan.paste(60, (0, 0, width // 2, height))
    scan.save(path, quality=80)
    return path


def test_our_pixel_limit_is_the_only_one_and_the_one_quoted(tmp_path: Path, api: ClientFactory) -> None:
    (tmp_path / "scans").mkdir()
    scan = big_scan(tmp_path / "scans" / "scan.jpg", 14_000, 13_000)  # over twice Pillow's own limit (178,956,970)
    refused = run("predict", str(scan))
    assert refused.exit_code == 1
    assert "14000x13000 = 182,000,000 pixels, over the limit of 89,478,485 (MOBILABEL_MAX_IMAGE_PIXELS)" in refused.output
    allowed = {"MOBILABEL_MAX_IMAGE_PIXELS": "400000000"}
    predicted = run("predict", str(scan), env=allowed)
    assert predicted.exit_code == 0 and "failed" not in predicted.output and "178956970" not in predicted.output, predicted.output
    for decoder in ("torchvision", "pillow"):
        labelled = run("label", "--force", str(scan.parent), env={**allowed, "MOBILABEL_DECODER": decoder})
        assert "1 image, 1 labelled, 0 failed" in " ".join(labelled.output.split()), (decoder, labelled.output)
    client = api(MOBILABEL_MAX_IMAGE_PIXELS="400000000")
    answer = client.post("/api/predict", files=[("files", ("scan.jpg", scan.read_bytes(), "image/jpeg"))])
    assert answer.status_code == 200 and answer.json()["predictions"][0]["label"], answer.text


def test_no_decompression_bomb_warning_is_printed_and_big_scans_decode_small(tmp_path: Path) -> None:
    scan = tmp_path / "scan.png"
    Image.new("L", (10_000, 10_000), 90).save(scan)  # 100 Mpx: over Pillow's warning threshold
    data = scan.read_bytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        picture = read_picture(ImageSource(scan, data, "1:1", hash_bytes(data)), 200_000_000, 512)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    # PNG has no reduced decoding: the pixels are reduced as soon as decoded, so no full-size RGB copy is made.
    assert picture.reduced and 512 <= min(picture.image.size) < 1024
    with pytest.raises(ImageReadError, match=r"10000x10000 = 100,000,000 pixels, over the limit of 50,000,000 \(MOBILABEL_MAX"):
        read_picture(scan, 50_000_000)


def test_camera_raw_is_labelled_from_its_preview_and_predict_and_label_agree(tmp_path: Path, val_images: list[Path]) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    photo = Image.open(val_images[0]).convert("RGB")
    (folder / "IMG_0001.DNG").write_bytes(dng_with_preview(photo))
    (folder / "DSC_0002.NEF").write_bytes(raw_without_preview(photo))
    # Other brands: the same structure under their names, or a file of their name that holds no picture at all.
    (folder / "IMG_0003.CR2").write_bytes(dng_with_preview(photo))
    for name in ("DSC_0004.ARW", "DSCF0005.RAF", "P0006.ORF", "P0007.RW2", "IMG_0008.CR3"):
        (folder / name).write_bytes(os.urandom(4096))
    labelled = run("label", str(folder))
    assert "8 images, 2 labelled, 6 failed" in " ".join(labelled.output.split()), labelled.output
    assert "not an image" not in labelled.output
    stored = {Path(p).name: r for p, r in rows().items()}
    no_sensor_data = "no usable preview, and LibRaw cannot read its sensor data (Unsupported file format or not RAW file)"
    assert stored["DSC_0002.NEF"]["error"] == f"camera RAW (NEF): {no_sensor_data}"
    for name, brand in (
        ("DSC_0004.ARW", "ARW"),
        ("DSCF0005.RAF", "RAF"),
        ("P0006.ORF", "ORF"),
        ("P0007.RW2", "RW2"),
        ("IMG_0008.CR3", "CR3"),
    ):
        assert stored[name]["error"] == f"camera RAW ({brand}): {no_sensor_data}", stored[name]
    jpeg = tmp_path / "preview.jpg"
    photo.save(jpeg, quality=90)
    for name in ("IMG_0001.DNG", "IMG_0003.CR2"):
        predicted = run("predict", str(folder / name)).output.split("\t")
        assert stored[name]["status"] == "ok" and predicted[1] == stored[name]["label"]
        assert float(predicted[2]) == pytest.approx(float(stored[name]["confidence"]), abs=1e-4)
        # The label is the embedded preview's: the same as the JPEG the camera would have written.
        assert predicted[1:] == run("predict", str(jpeg)).output.split("\t")[1:]
    refused = run("predict", str(folder / "DSC_0002.NEF"))
    assert refused.exit_code == 1 and f"camera RAW (NEF): {no_sensor_data}" in refused.output


def test_camera_raw_without_a_preview_is_developed_from_its_sensor_data(tmp_path: Path, val_images: list[Path]) -> None:
    photo = Image.open(val_images[0]).convert("RGB")
    (tmp_path / "IMG_0009.DNG").write_bytes(dng_of_sensor_data(photo))
    developed = run("predict", "--top-k", "5", str(tmp_path / "IMG_0009.DNG"))
    assert developed.exit_code == 0, developed.output
    # LibRaw's demosaicing (at half size) and tone curve differ from the JPEG's: the photo's label is among its five best.
    assert run("predict", str(val_images[0])).output.split("\t")[1] in developed.output.split("\t")[1::2]
    data = (tmp_path / "IMG_0009.DNG").read_bytes()
    picture = read_picture(ImageSource(tmp_path / "IMG_0009.DNG", data, "1:1", hash_bytes(data)), 89_478_485, 64)
    assert picture.reduced and picture.image.size == (photo.width // 2, photo.height // 2)
    # Asked for full size within a pixel budget it exceeds (the near-tie re-decode's): developed at half size too.
    bounded = read_picture(
        ImageSource(tmp_path / "IMG_0009.DNG", data, "1:1", hash_bytes(data)), 89_478_485, 0, full_pixels=1_000
    )
    assert bounded.reduced and bounded.image.size == (photo.width // 2, photo.height // 2)
    whole = read_picture(ImageSource(tmp_path / "IMG_0009.DNG", data, "1:1", hash_bytes(data)), 89_478_485, 0)
    assert not whole.reduced and whole.image.width == photo.width  # the sensor's even rows: 334 of the photo's 335
    with pytest.raises(ImageReadError, match=r"over the limit of 1,000 \(MOBILABEL_MAX_IMAGE_PIXELS\)"):
        read_picture(ImageSource(tmp_path / "IMG_0009.DNG", data, "1:1", hash_bytes(data)), 1_000)


def test_a_raw_preview_is_turned_upright_by_the_raw_files_orientation(tmp_path: Path, val_images: list[Path]) -> None:
    photo = Image.open(val_images[0]).convert("RGB")
    data = dng_with_preview(photo, orientation=6)
    picture = read_picture(ImageSource(tmp_path / "a.dng", data, "1:1", hash_bytes(data)), 89_478_485)
    assert picture.image.size == (photo.height, photo.width)


def test_the_api_labels_a_raw_upload_as_predict_does(tmp_path: Path, val_images: list[Path], api: ClientFactory) -> None:
    photo = Image.open(val_images[0]).convert("RGB")
    dng = tmp_path / "IMG_0001.DNG"
    dng.write_bytes(dng_with_preview(photo))
    client = api()
    answer = client.post("/api/predict", files=[("files", (dng.name, dng.read_bytes(), "image/x-adobe-dng"))])
    assert answer.status_code == 200, answer.text
    predicted = run("predict", str(dng)).output.split("\t")
    assert answer.json()["predictions"][0]["label"] == predicted[1]


def test_a_job_created_over_http_fails_or_counts_every_special_entry(
    tmp_path: Path, val_images: list[Path], api: ClientFactory, unix_socket: Path
) -> None:
    """Case 4 through the API (the server labels the job itself, no broker): the same rows and counts as `label`,
    on the job as GET /api/jobs/{id} and `mobilabel jobs` show it; the server never blocks on the FIFO."""
    folder = unix_socket.parent
    shutil.copy(val_images[0], folder / "good.jpg")
    (folder / "notes.txt").write_text("not a photo")
    os.mkfifo(folder / "fifo.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "dangling").symlink_to(folder / "gone")
    client = api(MOBILABEL_ALLOWED_ROOTS=str(folder))
    created = client.post("/api/jobs", json={"folder": str(folder)})
    assert created.status_code == 202, created.text
    client.app.state.runner.wait_idle(timeout=120)  # type: ignore[attr-defined]
    job = client.get(f"/api/jobs/{created.json()['id']}").json()
    counts = {"not an image": 1, "a socket, not a regular file": 1, "broken symbolic link": 1}
    assert (job["status"], job["total"], job["done"], job["failed"], job["passed_over"]) == ("completed", 3, 1, 2, counts)
    stored = {Path(p).name: r for p, r in rows().items()}
    assert stored["fifo.jpg"]["error"] == "a FIFO (named pipe), not a regular file: not opened"
    # A link to /dev/zero resolves outside the roots: refused for that before its kind is asked.
    assert stored["zero.jpg"]["error"] == "path is outside the allowed roots (MOBILABEL_ALLOWED_ROOTS); not read"
    assert stored["good.jpg"]["status"] == "ok"
    listed = run("jobs", "--format", "csv").output
    assert "not an image" in listed and "a socket, not a regular file" in listed, listed
