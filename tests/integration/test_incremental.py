"""Incremental labelling on PostgreSQL, embedded and through real workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from mobilabel.storage import open_database
from mobilabel.storage.tables import Chunk
from tests.conftest import REPO
from tests.incremental import copy_photos, run_incremental_scenario, touch
from tests.integration.conftest import REDIS_URL, Cluster


def test_label_again_labels_only_what_changed_on_postgresql(
    postgres_url: str, tmp_path: Path, val_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    open_database(postgres_url, auto_upgrade=True).dispose()
    run_incremental_scenario(postgres_url, tmp_path / "photos", val_images, monkeypatch)


def test_enqueue_again_sends_only_what_changed(
    cluster: Cluster, redis_prefix: str, tmp_path: Path, val_images: list[Path]
) -> None:
    folder = tmp_path / "photos"
    copied = copy_photos(folder, val_images[:10])
    cluster.start_worker("w1")
    first = cluster.wait_for_job(cluster.enqueue(folder, chunk_size=4), 120)
    assert (first.total, first.done, first.skipped) == (10, 10, 0)

    client = redis.Redis.from_url(REDIS_URL)
    again = cluster.job(cluster.enqueue(folder, chunk_size=4))
    assert (again.status, again.total, again.done, again.failed, again.skipped) == ("completed", 10, 0, 0, 10)
    assert client.llen(f"{redis_prefix}cpu") == 0, "no message sent"
    client.close()

    copy_photos(folder / "new", val_images[10:13])
    touch(copied[0])
    changed = cluster.wait_for_job(cluster.enqueue(folder, chunk_size=4), 120)
    assert (changed.total, changed.done, changed.failed, changed.skipped) == (13, 4, 0, 9)
    db = cluster.database()
    with db.transaction() as session:
        chunks = {job: n for job, n in session.execute(select(Chunk.job_id, func.count()).group_by(Chunk.job_id))}
    db.dispose()
    assert chunks == {first.id: 3, changed.id: 1}, "the unchanged run made no chunk; the changed one only for its 4 images"

    status = subprocess.run(
        [sys.executable, "-m", "mobilabel", "status", str(again.id)],
        capture_output=True,
        text=True,
        env={**cluster.env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert f"job {again.id} completed: 10/10 images (0 labelled, 0 failed, 10 skipped (unchanged)); chunks: none" in status.stdout
