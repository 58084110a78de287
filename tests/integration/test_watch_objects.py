"""`watch s3://bucket/prefix` on a real S3 server (SeaweedFS): the prefix is polled, listed with its ETag:size
fingerprints; an object added is labelled once, an object replaced is labelled again once, nothing else is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mobilabel.models import Classifier
from mobilabel.object_paths import source_path
from mobilabel.storage import Database, open_database
from mobilabel.storage.tables import Result
from mobilabel.watching.sources import PrefixSource
from mobilabel.watching.watcher import Check
from tests.conftest import FLOWERS
from tests.integration.conftest import wait_until
from tests.s3_support import S3Store
from tests.watching import imagenet_classifier, labelled, watcher_for

DAISY = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))
ROSES = sorted((FLOWERS / "val" / "roses").glob("*.jpg"))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classifier]:
    with imagenet_classifier(tmp_path_factory.mktemp("home")) as built:
        yield built


@pytest.fixture
def database() -> Iterator[Database]:
    db = open_database(os.environ["MOBILABEL_DATABASE_URL"])
    yield db
    db.dispose()


def test_an_object_added_is_labelled_once_and_one_replaced_once_again(
    s3: S3Store, database: Database, classifier: Classifier
) -> None:
    bucket = s3.new_bucket()
    client = s3.client()
    client.upload_file(str(DAISY[0]), bucket, "lib/a.jpg")
    client.upload_file(str(DAISY[1]), bucket, "lib/2026/b.jpg")
    client.upload_file(str(DAISY[2]), bucket, "lib-old/not-watched.jpg")
    prefix = source_path(f"s3://{bucket}/lib")
    uri = f"{prefix}/"
    watcher = watcher_for(database, classifier, prefix, PrefixSource(prefix))
    assert watcher.check() == Check(0, 2), "first seen: its fingerprint not yet seen stable"
    assert watcher.check().handed == 2
    assert labelled(database) == {f"{uri}a.jpg": 1, f"{uri}2026/b.jpg": 1}

    client.upload_file(str(DAISY[3]), bucket, "lib/2026/new.jpg")
    assert watcher.check() == Check(0, 1)
    assert watcher.check().handed == 1
    assert watcher.check() == Check(0, 0)

    client.upload_file(str(ROSES[0]), bucket, "lib/a.jpg")  # replaced: a new ETag
    assert watcher.check() == Check(0, 1)
    assert watcher.check().handed == 1
    assert watcher.check() == Check(0, 0)
    assert labelled(database) == {f"{uri}a.jpg": 2, f"{uri}2026/b.jpg": 1, f"{uri}2026/new.jpg": 1}
    etag = client.head_object(Bucket=bucket, Key="lib/a.jpg")["ETag"].strip('"')
    with database.transaction() as session:
        rows = session.execute(select(Result.image_path, Result.content_id)).all()
    assert len(rows) == 3, "one row per object"
    assert dict(rows)[f"{uri}a.jpg"] == f"{etag}:{ROSES[0].stat().st_size}", "the replacement's fingerprint"


def test_the_command_watches_a_prefix_and_stops_cleanly(s3: S3Store, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    client = s3.client()
    client.upload_file(str(DAISY[0]), bucket, "lib/a.jpg")
    log_path = tmp_path / "watch.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mobilabel", "watch", f"s3://{bucket}/lib", "--interval", "0.5"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    database = open_database(os.environ["MOBILABEL_DATABASE_URL"])
    try:
        wait_until(lambda: "watching" in log_path.read_text() or process.poll() is not None, 300, "watch to start")
        assert f"watching s3://{bucket}/lib (polling, every 0.5 s), labelling here" in log_path.read_text()
        client.upload_file(str(DAISY[1]), bucket, "lib/new.jpg")
        expected = {f"s3://{bucket}/lib/a.jpg": 1, f"s3://{bucket}/lib/new.jpg": 1}
        wait_until(lambda: labelled(database) == expected, 300, "both objects labelled")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, log_path.read_text()
        assert labelled(database) == expected, "nothing labelled twice by the checks that followed"
    finally:
        database.dispose()
        if process.poll() is None:
            process.kill()
    output = log_path.read_text()
    assert "stopped watching" in output and "Traceback" not in output, output
