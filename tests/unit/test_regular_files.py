"""``files.open_regular``: the one way a file named by a user or a walk is opened (issue 22, cases 4 and 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mobilabel.files import PATH_MAX, BrokenLinkError, NotRegularFileError, open_directory, open_regular, stat_path
from mobilabel.hashing import hash_bytes, hash_file


def test_only_regular_files_are_opened_and_never_by_blocking(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8 bytes")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "link").symlink_to(tmp_path / "photo.jpg")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with open_regular(tmp_path / "link") as f:
        assert f.read() == b"\xff\xd8 bytes"
    for name, kind in (("fifo", "a FIFO (named pipe)"), ("zero", "a character device"), (".", "a folder")):
        with pytest.raises(NotRegularFileError) as refused:
            open_regular(tmp_path / name)
        assert refused.value.kind == kind
    with pytest.raises(BrokenLinkError):
        open_regular(tmp_path / "dangling")
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "gone")
    # Hashing (corrections, the walk's large files) goes through it too: a FIFO is refused, not waited on.
    with pytest.raises(NotRegularFileError):
        hash_file(tmp_path / "fifo")
    assert hash_file(tmp_path / "photo.jpg") == hash_bytes(b"\xff\xd8 bytes")


def test_paths_longer_than_path_max_are_reached_a_folder_at_a_time(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    depth = 0
    while len(str(tmp_path)) + 256 * depth <= PATH_MAX:
        os.mkdir("x" * 255, dir_fd=fd)
        inner = os.open("x" * 255, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd, depth = inner, depth + 1
    with open(os.open("deep.png", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as out:
        out.write(b"deep")
    os.close(fd)
    deep = tmp_path.joinpath(*["x" * 255] * depth)
    with pytest.raises(OSError, match="File name too long"):
        (deep / "deep.png").stat()
    assert stat_path(deep / "deep.png").st_size == 4
    with open_regular(deep / "deep.png") as f:
        assert f.read() == b"deep"
    listing = open_directory(deep)
    try:
        assert [entry.name for entry in os.scandir(listing)] == ["deep.png"]
    finally:
        os.close(listing)
