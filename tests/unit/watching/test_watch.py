"""`watch` on SQLite: new and changed photos labelled once each, whole, across restarts; Ctrl-C stops cleanly.

The watcher's checks are driven one at a time here (``Watcher.check``), so what each check sees is certain;
the command itself runs once as a process, with real filesystem events, synchronised on the database row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mobilabel.cli.main import cli
from mobilabel.hashing import hash_bytes
from mobilabel.models import Classifier
from mobilabel.storage import Database, open_database
from mobilabel.storage.tables import Result
from mobilabel.watching.events import follow_folder
from mobilabel.watching.sources import FolderSource
from mobilabel.watching.watcher import Check
from tests.integration.conftest import wait_until
from tests.watching import copy, imagenet_classifier, labelled, run_restart_scenario, watcher_for


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classifier]:
    with imagenet_classifier(tmp_path_factory.mktemp("home")) as built:
        yield built


@pytest.fixture
def database() -> Iterator[Database]:
    db = open_database(os.environ["MOBILABEL_DATABASE_URL"])
    yield db
    db.dispose()


def test_a_new_photo_is_labelled_once_after_a_check_shows_it_whole(
    tmp_path: Path, val_images: list[Path], database: Database, classifier: Classifier
) -> None:
    folder = tmp_path / "library"
    for photo in val_images[:2]:
        copy(photo, folder)
    (folder / "broken.jpg").write_bytes(b"not a photo")
    watcher = watcher_for(database, classifier, folder)
    assert watcher.check() == Check(0, 3), "first seen: not yet known to be whole"
    assert watcher.check().handed == 3
    assert set(labelled(database)) == {str(folder / p.name) for p in val_images[:2]}

    new = copy(val_images[2], folder / "2026", "new.jpg")
    assert watcher.check() == Check(0, 1)
    assert watcher.check().handed == 1
    assert labelled(database)[str(new)] == 1
    assert watcher.check() == Check(0, 0), "nothing relabelled, and the failed file is not retried until it changes"

    (folder / "broken.jpg").write_bytes(b"still not a photo, longer")
    watcher.check()
    assert watcher.check().handed == 1, "a failed file that changes is tried again"


def test_a_half_written_file_is_not_labelled_until_complete(
    tmp_path: Path, val_images: list[Path], database: Database, classifier: Classifier
) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    data = val_images[0].read_bytes()
    target = folder / "arriving.jpg"
    watcher = watcher_for(database, classifier, folder)
    with open(target, "wb") as writer:
        for part in (data[:1000], data[1000 : len(data) // 2], data[len(data) // 2 :]):
            writer.write(part)
            writer.flush()
            assert watcher.check() == Check(0, 1), "growing between checks: not whole"
    assert watcher.check().handed == 1, "unchanged across a check: whole"
    with database.transaction() as session:
        row = session.scalars(select(Result).where(Result.image_path == str(target))).one()
    assert row.status == "ok" and row.content_hash == hash_bytes(data)


def test_checks_close_together_do_not_make_a_file_whole(
    tmp_path: Path, val_images: list[Path], database: Database, classifier: Classifier
) -> None:
    """Events may start checks milliseconds apart: a file counts as whole only once unchanged for the settle time
    (the interval), however many checks saw it meanwhile."""
    folder = tmp_path / "library"
    now = [100.0]
    copy(val_images[0], folder)
    watcher = watcher_for(database, classifier, folder, settle_s=2.0, clock=lambda: now[0])
    assert watcher.check() == Check(0, 1)
    assert watcher.check() == Check(0, 1), "the same moment: not yet known to be whole"
    now[0] = 101.9
    assert watcher.check() == Check(0, 1)
    now[0] = 102.0
    assert watcher.check().handed == 1


def test_with_close_events_a_file_open_for_writing_waits_for_its_close(
    tmp_path: Path, val_images: list[Path], database: Database, classifier: Classifier
) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    data = val_images[0].read_bytes()
    target = folder / "arriving.jpg"
    followed = follow_folder(folder, threading.Event())
    assert followed is not None, "inotify on this Linux machine"
    observer, tracker = followed
    assert tracker.closes_reported
    try:
        watcher = watcher_for(database, classifier, folder, FolderSource(folder, tracker))
        with open(target, "wb") as writer:
            writer.write(data[: len(data) // 2])
            writer.flush()
            wait_until(lambda: tracker.writing(str(target)), 30, "the write event")
            assert watcher.check() == Check(0, 1)
            assert watcher.check() == Check(0, 1), "unchanged across a check, but still open for writing"
            writer.write(data[len(data) // 2 :])
        wait_until(lambda: not tracker.writing(str(target)), 30, "the close event")
        assert watcher.check().handed == 1, "closed: whole at once, without another check"
    finally:
        observer.stop()
        observer.join()
    with database.transaction() as session:
        row = session.scalars(select(Result).where(Result.image_path == str(target))).one()
    assert row.status == "ok" and row.content_hash == hash_bytes(data)


def test_a_restart_catches_up_exactly_once(
    tmp_path: Path, val_images: list[Path], database: Database, classifier: Classifier
) -> None:
    run_restart_scenario(database, classifier, tmp_path / "library", val_images)


def test_the_command_labels_a_new_photo_and_stops_cleanly_on_ctrl_c(tmp_path: Path, val_images: list[Path]) -> None:
    folder = tmp_path / "library"
    copy(val_images[0], folder)
    log_path = tmp_path / "watch.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mobilabel", "watch", str(folder)], stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
    try:
        wait_until(lambda: "watching" in log_path.read_text() or process.poll() is not None, 300, "watch to start")
        assert "(filesystem events, every 2 s), labelling here" in log_path.read_text()
        new = copy(val_images[1], folder, "new.jpg")
        database = open_database(os.environ["MOBILABEL_DATABASE_URL"])
        try:
            wait_until(lambda: set(labelled(database)) == {str(folder / val_images[0].name), str(new)}, 300, "the new row")
        finally:
            database.dispose()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    output = log_path.read_text()
    assert "stopped watching" in output and "Traceback" not in output, output


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("s3://bucket/a/../b", "Error: 's3://bucket/a/../b' is not a plain object key"),
        ("/no/such/folder", "Error: folder not found: /no/such/folder"),
    ],
)
def test_a_source_it_cannot_watch_is_one_error_line(source: str, error: str) -> None:
    result = CliRunner().invoke(cli, ["watch", source])
    assert result.exit_code == 1 and result.output.startswith(error) and result.output.count("\n") == 1, result.output
