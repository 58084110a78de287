"""File names that are not UTF-8, on PostgreSQL and through real workers; chunks that fail on every attempt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mobilabel.broker import create_app
from mobilabel.config import load_settings
from mobilabel.scheduler.enqueue import enqueue_folder
from mobilabel.storage import open_database, versions
from mobilabel.storage.result_queries import ResultFilter, query_results
from tests.conftest import FLOWERS, REPO
from tests.integration.conftest import Cluster
from tests.odd_names import assert_every_path_column_round_trips, make_odd_folder


def test_every_path_column_round_trips_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    db = open_database(postgres_url, auto_upgrade=True)
    assert_every_path_column_round_trips(db, tmp_path)
    db.dispose()


def test_label_on_postgresql_stores_every_odd_name(postgres_url: str, tmp_path: Path, val_images: list[Path]) -> None:
    files = make_odd_folder(tmp_path / "odd", val_images[0])
    env = {**os.environ, "PYTHONPATH": str(REPO), "MOBILABEL_DATABASE_URL": postgres_url}
    open_database(postgres_url, auto_upgrade=True).dispose()
    labelled = subprocess.run(
        [sys.executable, "-m", "mobilabel", "label", str(tmp_path / "odd")], capture_output=True, env=env, cwd=REPO
    )
    assert labelled.returncode == 0 and b"Traceback" not in labelled.stderr, labelled.stderr.decode(errors="replace")
    assert f"{len(files)} images, {len(files)} labelled, 0 failed".encode() in labelled.stderr
    db = open_database(postgres_url)
    with db.transaction() as session:
        rows = query_results(session, ResultFilter())
    db.dispose()
    assert sorted(os.fsencode(r.image_path) for r in rows) == sorted(files)


def test_workers_label_odd_names_beside_normal_photos(cluster: Cluster, tmp_path: Path, val_images: list[Path]) -> None:
    folder = tmp_path / "odd"
    files = make_odd_folder(folder, val_images[0])
    for photo in val_images[1:5]:
        (folder / photo.name).write_bytes(photo.read_bytes())
    cluster.start_worker("w1")
    job = cluster.wait_for_job(cluster.enqueue(folder, chunk_size=4), 120)
    assert (job.total, job.done, job.failed) == (len(files) + 4, len(files) + 4, 0)
    db = cluster.database()
    with db.transaction() as session:
        rows = query_results(session, ResultFilter(job_id=job.id))
    db.dispose()
    assert {os.fsencode(r.image_path) for r in rows} >= set(files) and {r.status for r in rows} == {"ok"}


def test_a_chunk_that_fails_on_every_attempt_fails_its_images_and_the_job_completes(cluster: Cluster) -> None:
    """Pinned to a version whose checkpoint is damaged: every attempt raises; the chunk gives up, the job ends."""
    db = cluster.database()
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("damaged", "mobilenet_v2", 1.0, ["a"], {}, b"not a checkpoint"))
    worker = cluster.start_worker("w1", MOBILABEL_MAX_REDELIVERIES="1")
    settings = load_settings()
    job_id = enqueue_folder(db, create_app(settings), settings, FLOWERS / "val" / "roses", 8, "cpu", "damaged").id
    db.dispose()
    job = cluster.wait_for_job(job_id, 120)
    assert (job.total, job.done, job.failed) == (20, 0, 20)
    db = cluster.database()
    with db.transaction() as session:
        rows = query_results(session, ResultFilter(job_id=job_id))
    db.dispose()
    assert len(rows) == 20 and all(
        r.status == "failed" and (r.error or "").startswith("gave up after 2 attempts: ") for r in rows
    )
    assert worker.alive() and "chunk attempt 1 failed" in worker.log
