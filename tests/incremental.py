"""Incremental labelling as a user meets it: label, label again unchanged, change a few files, force."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mobilabel.cli.main import cli
from mobilabel.models import Checkpoint, Classifier, Preprocessing, build_model
from mobilabel.pipeline.decoders import Reader
from mobilabel.storage import open_database
from mobilabel.storage.tables import Job


def label(folder: Path, *options: str) -> str:
    result = CliRunner().invoke(cli, ["label", *options, str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def copy_photos(folder: Path, photos: list[Path]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(photo, folder / photo.name)) for photo in photos]


def touch(path: Path) -> None:
    """A new modification time, as an edit leaves (size unchanged: the fingerprint still differs)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def run_incremental_scenario(database_url: str, folder: Path, photos: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """12 photos and an unreadable file; the database at ``database_url`` is migrated and empty."""
    copied = copy_photos(folder, photos[:12])
    (folder / "broken.jpg").write_bytes(b"not a photo")
    assert "13 images, 12 labelled, 1 failed, 0 skipped (unchanged)" in label(folder)

    with monkeypatch.context() as spies:

        def never(*_: object, **__: object) -> None:
            raise AssertionError("a re-run with nothing changed built a model or read a file")

        for owner, name in ((Classifier, "load"), (Reader, "load")):  # every file is read through Reader.load
            spies.setattr(owner, name, never)
        (folder / "broken.jpg").unlink()  # a failed row is retried, so this run has nothing else to read
        output = label(folder)
    assert "nothing new to label: 12 images unchanged for model version" in output
    assert "--force labels all again" in output

    copy_photos(folder / "new", photos[12:15])
    touch(copied[0])
    assert "15 images, 4 labelled, 0 failed, 11 skipped (unchanged)" in label(folder)

    (folder / "broken.jpg").write_bytes(b"still not a photo")
    assert "16 images, 0 labelled, 1 failed, 15 skipped (unchanged)" in label(folder), "failed rows are retried"
    assert "16 images, 15 labelled, 1 failed, 0 skipped (unchanged)" in label(folder, "--force")

    torch.manual_seed(0)
    small = build_model("mobilenet_v2", 5, 0.35).eval()
    checkpoint = Checkpoint.from_model(small, "mobilenet_v2", 0.35, list("abcde"), Preprocessing(), metrics={})
    checkpoint.save(folder.parent / "other.pt")
    assert "16 images, 15 labelled, 1 failed, 0 skipped (unchanged)" in label(
        folder, "--model", str(folder.parent / "other.pt")
    ), "a new model version labels everything again"

    db = open_database(database_url)
    with db.transaction() as session:
        counts = [(j.total, j.done, j.failed, j.skipped, j.status) for j in session.query(Job).order_by(Job.id)]
    db.dispose()
    assert counts == [
        (13, 12, 1, 0, "completed"),
        (12, 0, 0, 12, "completed"),
        (15, 4, 0, 11, "completed"),
        (16, 0, 1, 15, "completed"),
        (16, 15, 1, 0, "completed"),
        (16, 15, 1, 0, "completed"),
    ]
