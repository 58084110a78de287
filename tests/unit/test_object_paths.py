"""Object URIs as paths, and their confinement to the allowed ``s3://`` entries (no store needed: each
refusal here is decided before the store is asked)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mobilabel.config import SettingsError, load_settings
from mobilabel.confinement import PathRefused, confine, outside_roots
from mobilabel.object_paths import ObjectPath, ObjectUriError, parse_uri, source_path
from mobilabel.storage.pathcodec import to_stored
from mobilabel.storage.paths import absolute_path
from tests.conftest import FLOWERS


def test_a_uri_reads_as_a_path_and_writes_as_itself() -> None:
    photo = parse_uri("s3://bucket/2024/May/IMG_1.JPG")
    assert (str(photo), os.fspath(photo), to_stored(photo)) == ("s3://bucket/2024/May/IMG_1.JPG",) * 3
    assert (photo.bucket, photo.key, photo.name, photo.suffix) == ("bucket", "2024/May/IMG_1.JPG", "IMG_1.JPG", ".JPG")
    assert str(photo.parent) == "s3://bucket/2024/May" and isinstance(photo.parent, ObjectPath)
    assert absolute_path(photo) == "s3://bucket/2024/May/IMG_1.JPG"
    # Never equal to the local path it is made of.
    assert photo != Path("/bucket/2024/May/IMG_1.JPG")
    assert source_path(photo) is photo and source_path("/local/x.jpg") == Path("/local/x.jpg")


def test_a_prefix_is_a_whole_part() -> None:
    root = parse_uri("s3://bucket/photos/")
    assert str(root) == "s3://bucket/photos" == str(parse_uri("s3://bucket/photos"))
    assert parse_uri("s3://bucket/photos/a/b.jpg").under(root)
    assert parse_uri("s3://bucket/photos").under(root)
    for outside in ("s3://bucket/photos-old/a.jpg", "s3://bucket/photo", "s3://other/photos/a.jpg", "s3://bucket"):
        assert not parse_uri(outside).under(root), outside
    assert parse_uri("s3://bucket/anything.jpg").under(parse_uri("s3://bucket"))


@pytest.mark.parametrize(
    "bad", ["s3://", "s3:///key", "s3://b/a/../c", "s3://b/./a", "s3://b/a//c", "s3://b/a\0.jpg", "gs://b/a", "http://b/a"]
)
def test_keys_that_could_climb_or_name_nothing_are_refused(bad: str) -> None:
    with pytest.raises(ObjectUriError):
        parse_uri(bad)


def test_confinement_of_uris() -> None:
    roots = [parse_uri("s3://photos/family"), FLOWERS.resolve()]
    assert outside_roots(parse_uri("s3://photos/family-old/a.jpg"), roots)
    assert outside_roots(parse_uri("s3://secrets/family/a.jpg"), roots)
    assert not outside_roots(parse_uri("s3://photos/family/2024/a.jpg"), roots)
    assert outside_roots(parse_uri("s3://photos/family/a.jpg"), [FLOWERS.resolve()])  # folders never allow objects
    assert confine("s3://photos/family/2024", roots, "folder") == parse_uri("s3://photos/family/2024")
    cases = {
        "s3://photos/family/../secret/a.jpg": 400,
        "s3://photos/family//a.jpg": 400,
        "s3://secrets/a.jpg": 403,
        "s3://photos/family-old/a.jpg": 403,
        "ftp://photos/family/a.jpg": 400,
    }
    for name, status in cases.items():
        with pytest.raises(PathRefused) as refused:
            confine(name, roots, "file")
        assert refused.value.status == status, name
    with pytest.raises(PathRefused) as none_set:
        confine("s3://photos/family/a.jpg", [], "folder")
    assert none_set.value.status == 403 and "MOBILABEL_ALLOWED_ROOTS" in str(none_set.value)


def test_allowed_roots_are_comma_separated_folders_and_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", f"s3://photos/family/, {FLOWERS / 'val'}")
    assert load_settings().allowed_roots == (parse_uri("s3://photos/family"), (FLOWERS / "val").resolve())
    # The older `:`-separated list of folders still works.
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", f"{FLOWERS / 'val'}:{FLOWERS / 'train'}")
    assert load_settings().allowed_roots == ((FLOWERS / "val").resolve(), (FLOWERS / "train").resolve())
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", "s3://photos/../x")
    with pytest.raises(SettingsError, match="MOBILABEL_ALLOWED_ROOTS="):
        load_settings()
