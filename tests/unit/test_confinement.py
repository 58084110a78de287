"""The one confinement check (mobilabel.confinement) and the non-blocking open under it, on a real tree
of files, links, FIFOs and devices; and a training run that would read outside the roots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mobilabel.config import load_settings
from mobilabel.confinement import PathRefused, check_pattern, confine, outside_roots
from mobilabel.files import NotRegularFileError, open_regular
from mobilabel.hashing import hash_bytes, hash_file
from mobilabel.storage import open_database
from mobilabel.training import TrainingOptions, train
from mobilabel.training.errors import TrainingError
from tests.conftest import FLOWERS
from tests.training_folders import copied_training_folder

PHOTO = next(FLOWERS.glob("val/roses/*.jpg"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "photos").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(PHOTO, root / "photos" / "in.jpg")
    shutil.copy(PHOTO, outside / "secret.jpg")
    (root / "link-in.jpg").symlink_to(root / "photos" / "in.jpg")
    (root / "link-out.jpg").symlink_to(outside / "secret.jpg")
    (root / "dir-out").symlink_to(outside, target_is_directory=True)
    (root / "zero.jpg").symlink_to("/dev/zero")
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    os.mkfifo(root / "fifo.jpg")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "kind", "status"),
    [
        ("root/photos/in.jpg", "file", 200),
        ("root/link-in.jpg", "file", 200),  # a link that stays inside
        ("root/photos", "folder", 200),
        ("root/photos/in.jpg", "folder", 422),
        ("root/photos", "file", 422),
        ("root/fifo.jpg", "file", 422),
        ("root/fifo.jpg", "folder", 422),
        ("root/missing.jpg", "file", 404),
        ("root/dangling.jpg", "file", 404),
        ("root/link-out.jpg", "file", 403),
        ("root/dir-out/secret.jpg", "file", 403),
        ("root/dir-out", "folder", 403),
        ("root/../outside/secret.jpg", "file", 403),
        ("outside/secret.jpg", "file", 403),
        ("outside/missing.jpg", "file", 403),
        ("root/zero.jpg", "file", 403),
        ("/dev/zero", "file", 403),
        ("/", "folder", 403),
        ("root/photos/in.jpg\0.png", "file", 400),
        ("s3://bucket/photos/in.jpg", "file", 403),  # no s3:// entry among the roots
        ("gs://bucket/photos/in.jpg", "file", 400),
        ("file:///etc/passwd", "file", 400),
        ("/" + "a" * 5000, "file", 400),
        ("relative/in.jpg", "file", 422),
    ],
)
def test_confine(tree: Path, name: str, kind: str, status: int) -> None:
    full = name if name.startswith(("/", "s3:", "gs:", "file:", "relative")) else str(tree / name)
    roots = [(tree / "root").resolve()]
    if status == 200:
        real = confine(full, roots, kind)  # type: ignore[arg-type]
        assert real == Path(os.path.realpath(full)) and not outside_roots(real, roots)
        return
    with pytest.raises(PathRefused) as refused:
        confine(full, roots, kind)  # type: ignore[arg-type]
    assert refused.value.status == status, str(refused.value)
    assert "\n" not in str(refused.value)


def test_no_roots_refuse_every_path_naming_the_setting(tree: Path) -> None:
    with pytest.raises(PathRefused, match="set MOBILABEL_ALLOWED_ROOTS") as refused:
        confine(str(tree / "root" / "photos" / "in.jpg"), [], "file")
    assert refused.value.status == 403


def test_an_outside_refusal_reads_the_same_whether_or_not_the_file_exists(tree: Path) -> None:
    roots = [(tree / "root").resolve()]
    messages = []
    for name in ("secret.jpg", "missing.jpg"):
        with pytest.raises(PathRefused) as refused:
            confine(str(tree / "outside" / name), roots)
        messages.append((refused.value.status, str(refused.value).replace(name, "NAME")))
    assert messages[0] == messages[1]


def test_patterns_are_checked_not_confined() -> None:
    assert check_pattern("/anywhere/2024/*") == "/anywhere/2024/*"
    assert check_pattern("s3://bucket/2024/*") == "s3://bucket/2024/*"
    for bad in ("/photos/\0*", "http://host/*"):
        with pytest.raises(PathRefused):
            check_pattern(bad)


def test_fifos_and_devices_are_refused_without_blocking_or_reading(tree: Path) -> None:
    # A blocking open of a FIFO with no writer never returns, and /dev/zero never ends: both raise at once.
    for path in (tree / "root" / "fifo.jpg", Path("/dev/zero"), tree / "root" / "zero.jpg", tree / "root" / "photos"):
        with pytest.raises(NotRegularFileError):
            hash_file(path)
        with pytest.raises((NotRegularFileError, IsADirectoryError)):
            open_regular(path)
    with open_regular(tree / "root" / "photos" / "in.jpg") as f:
        assert f.read() == PHOTO.read_bytes()
    assert hash_file(tree / "root" / "link-in.jpg") == hash_bytes(PHOTO.read_bytes())


def test_training_refuses_images_outside_the_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = copied_training_folder(tmp_path / "data", 3)
    elsewhere = copied_training_folder(tmp_path / "elsewhere", 2)
    (data / "train" / "daisy" / "more").symlink_to(elsewhere / "train" / "daisy", target_is_directory=True)
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", str(data))
    settings = load_settings()
    db = open_database(settings.database_url, auto_upgrade=True)
    with pytest.raises(
        TrainingError, match=r"^2 training images lie outside the allowed roots \(MOBILABEL_ALLOWED_ROOTS\), e\.g\. .*/more/"
    ):
        train(db, settings, data, TrainingOptions(epochs=1, batch_size=8))
    db.dispose()
