"""Images and thumbnails by result id only: served from the allowed roots, never anything else."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from mobilabel.api.routes import images
from mobilabel.config import load_settings
from mobilabel.imaging import content_identity
from mobilabel.storage import open_database, versions
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.tables import Result
from tests.api_support import ClientFactory
from tests.bad_images import exif_rotated
from tests.conftest import FLOWERS

PHOTO = sorted((FLOWERS / "val" / "tulips").glob("*.jpg"))[0]


def store(paths: list[str]) -> dict[str, int]:
    """A result row for each path, as labelling would write it; returns each path's result id."""
    db = open_database(load_settings().database_url, auto_upgrade=True)
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, ["tulip"], {}, b"w"))
        fingerprints = {p: content_identity(Path(p)) if Path(p).is_file() else None for p in paths}
        write_results(session, [ResultRecord(p, fingerprints[p], ResultStatus.OK, "tulip", 0.9, []) for p in paths], "v1", None)
    with db.transaction() as session:
        ids = {r.image_path: r.id for r in session.query(Result)}
    db.dispose()
    return ids


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path the image endpoints open."""
    calls: list[Path] = []
    real_open = images.open_image

    def spy(path: Path, roots: Sequence[Path]) -> Path:
        calls.append(path)
        return real_open(path, roots)

    monkeypatch.setattr(images, "open_image", spy)
    return calls


def test_images_and_upright_cached_thumbnails(api: ClientFactory, tmp_path: Path, opened: list[Path]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(PHOTO, root / "plain.jpg")
    upright = Image.open(PHOTO)
    exif_rotated(upright, root / "rotated.jpg")
    ids = store([str(root / "plain.jpg"), str(root / "rotated.jpg")])
    client = api(MOBILABEL_ALLOWED_ROOTS=str(root))

    original = client.get(f"/api/results/{ids[str(root / 'plain.jpg')]}/image")
    assert original.status_code == 200 and original.content == PHOTO.read_bytes()
    assert original.headers["content-type"] == "image/jpeg" and "max-age" in original.headers["cache-control"]

    rotated_id = ids[str(root / "rotated.jpg")]
    thumb = client.get(f"/api/results/{rotated_id}/thumbnail", params={"size": 128})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    small = Image.open(io.BytesIO(thumb.content))
    assert max(small.size) == 128
    assert (small.width > small.height) == (upright.width > upright.height), "turned upright by its EXIF tag"
    cached = list((load_settings().home / "thumbnails").rglob("*.jpg"))
    assert len(cached) == 1

    again = client.get(f"/api/results/{rotated_id}/thumbnail", params={"size": 128})
    assert again.content == thumb.content and list((load_settings().home / "thumbnails").rglob("*.jpg")) == cached
    assert (
        client.get(
            f"/api/results/{rotated_id}/thumbnail", params={"size": 128}, headers={"If-None-Match": thumb.headers["etag"]}
        ).status_code
        == 304
    )
    assert "max-age=86400" in thumb.headers["cache-control"]
    content_id = client.get(f"/api/results/{rotated_id}").json()["content_id"]  # what a client builds the URL from
    assert content_id == f"{(root / 'rotated.jpg').stat().st_size}:{(root / 'rotated.jpg').stat().st_mtime_ns}"
    versioned = client.get(f"/api/results/{rotated_id}/thumbnail", params={"size": 128, "v": content_id})
    assert versioned.headers["cache-control"] == "private, max-age=31536000, immutable"
    os.utime(root / "rotated.jpg", ns=(1, 1))  # the file changed: a new fingerprint, a new thumbnail
    stale = client.get(f"/api/results/{rotated_id}/thumbnail", params={"size": 128, "v": content_id})
    assert stale.headers["cache-control"] == "no-cache" and stale.headers["etag"] != thumb.headers["etag"]
    changed = client.get(f"/api/results/{rotated_id}/thumbnail", params={"size": 128})
    assert (
        changed.headers["etag"] != thumb.headers["etag"] and len(list((load_settings().home / "thumbnails").rglob("*.jpg"))) == 2
    )
    assert client.get(f"/api/results/{rotated_id}/thumbnail", params={"size": 100}).status_code == 422


def test_no_roots_no_images(api: ClientFactory, tmp_path: Path, opened: list[Path]) -> None:
    ids = store([str(PHOTO)])
    client = api()
    for kind in ("image", "thumbnail"):
        answer = client.get(f"/api/results/{ids[str(PHOTO)]}/{kind}")
        assert answer.status_code == 403 and "MOBILABEL_ALLOWED_ROOTS" in answer.json()["detail"]
    assert opened == []


def test_traversal_in_every_form_is_404_and_opens_nothing(api: ClientFactory, tmp_path: Path, opened: list[Path]) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    shutil.copy(PHOTO, outside / "secret.jpg")
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "dir-link").symlink_to(outside, target_is_directory=True)
    stored: list[str] = [
        str(outside / "secret.jpg"),  # a stored path that left the roots
        str(root / "link.jpg"),  # a symlink inside the root pointing out
        str(root / "dir-link" / "secret.jpg"),  # through a symlinked folder
        str(root / ".." / "outside" / "secret.jpg"),  # .. in the stored path
        str(root / "missing.jpg"),  # inside, but gone
        str(root),  # a folder, not a file
    ]
    ids = store(stored)
    client = api(MOBILABEL_ALLOWED_ROOTS=str(root))
    requests = [f"/api/results/{ids[p]}/{kind}" for p in stored for kind in ("image", "thumbnail")]
    requests += [
        f"/api/results/{prefix}/{kind}"
        for kind in ("image", "thumbnail")
        for prefix in ("..%2f..%2f..%2fetc%2fpasswd", "%2e%2e", "-1", "1%00", "0x1", "%2Fetc%2Fpasswd", "1.0", "999999", " 1")
    ]
    requests += [
        "/api/results/../../etc/passwd",
        "/api/results//etc/passwd/image",
        f"/api/results/{outside / 'secret.jpg'}/image",
    ]
    for url in requests:
        answer = client.get(url)
        assert answer.status_code == 404, (url, answer.status_code, answer.text[:200])
        assert PHOTO.read_bytes()[:64] not in answer.content
    assert set(opened) == {root / "missing.jpg", root}, "only the missing file and the folder, inside the root, were looked at"
    thumbnails = load_settings().home / "thumbnails"
    assert not thumbnails.exists() or not any(thumbnails.rglob("*.jpg"))
