"""Workers meet what a folder holds besides photos (issue 22, case 4): special files and camera RAW get a row with
a reason, and whatever has no image's name is counted when the job is sent, never dropped without a word."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from mobilabel.broker import create_app
from mobilabel.config import load_settings
from mobilabel.scheduler.enqueue import enqueue_folder
from mobilabel.storage.result_queries import ResultFilter, query_results
from tests.api_support import ClientFactory
from tests.integration.conftest import Cluster, wait_until
from tests.training_folders import copied_training_folder
from tests.unit.worker.test_job_confinement import JOB_ROOTS_REFUSED, RUN_ROOTS


def test_workers_give_special_files_a_reason_and_enqueue_counts_the_rest(
    cluster: Cluster, tmp_path: Path, val_images: list[Path]
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(val_images[0], folder / "good.jpg")
    os.mkfifo(folder / "fifo.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "dangling").symlink_to(folder / "gone")
    (folder / "notes.txt").write_text("not a photo")
    cluster.start_worker("w1")
    settings = load_settings()
    db = cluster.database()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(folder / "listener"))
        sent = enqueue_folder(db, create_app(settings), settings, folder, 2, "cpu")
    assert sent.passed_over == {"not an image": 1, "a socket, not a regular file": 1, "broken symbolic link": 1}
    job = cluster.wait_for_job(sent.id, 120)
    assert job.passed_over == sent.passed_over
    assert (job.total, job.done, job.failed) == (3, 1, 2)
    with db.transaction() as session:
        rows = {Path(r.image_path).name: r for r in query_results(session, ResultFilter(job_id=job.id))}
    db.dispose()
    assert rows["fifo.jpg"].error == "a FIFO (named pipe), not a regular file: not opened"
    assert rows["zero.jpg"].error == "a character device, not a regular file: not opened"
    assert rows["good.jpg"].status == "ok"


def test_a_job_created_over_http_holds_the_worker_to_the_servers_roots(
    api: ClientFactory,
    cluster: Cluster,
    tmp_path: Path,
    val_images: list[Path],
) -> None:
    """The worker has no roots of its own; the server's still apply to every file it opens, also to a photo
    swapped for a link out of the roots after the job was sent, and the walk's counts reach the job."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    for i, name in enumerate(("good.jpg", "swapped.jpg")):
        shutil.copy(val_images[i], allowed / name)
    shutil.copy(val_images[2], outside / "secret.jpg")
    (allowed / "linked.jpg").symlink_to(outside / "secret.jpg")
    (allowed / "notes.txt").write_text("not a photo")
    assert "MOBILABEL_ALLOWED_ROOTS" not in cluster.env
    client = api(MOBILABEL_ALLOWED_ROOTS=str(allowed))
    created = client.post("/api/jobs", json={"folder": str(allowed), "chunk_size": 2})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    (allowed / "swapped.jpg").unlink()
    (allowed / "swapped.jpg").symlink_to(outside / "secret.jpg")
    cluster.start_worker("w1")
    cluster.wait_for_job(job_id, 120)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert (job["total"], job["done"], job["failed"], job["passed_over"]) == (3, 1, 2, {"not an image": 1})
    rows = {Path(r["image_path"]).name: r for r in client.get("/api/results", params={"job": job_id}).json()["items"]}
    assert rows["good.jpg"]["status"] == "ok"
    for name in ("linked.jpg", "swapped.jpg"):
        assert rows[name]["error"] == JOB_ROOTS_REFUSED, rows[name]
    status = subprocess.run(
        [sys.executable, "-m", "mobilabel", "status", str(job_id)], env=cluster.env, capture_output=True, text=True, check=True
    )
    assert "(1 labelled, 2 failed, 0 skipped (unchanged), 1 skipped: not an image)" in status.stdout


def test_a_training_run_created_over_http_holds_the_worker_to_the_servers_roots(
    api: ClientFactory, cluster: Cluster, tmp_path: Path, val_images: list[Path]
) -> None:
    """The worker has no roots of its own; the run records the server's, and the worker refuses an image a link
    leads out of them to, before reading any, with whose roots it lies outside."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    data = copied_training_folder(allowed / "data")
    outside.mkdir()
    shutil.copy(val_images[0], outside / "secret.jpg")
    (data / "train" / "daisy" / "secret.jpg").symlink_to(outside / "secret.jpg")
    assert "MOBILABEL_ALLOWED_ROOTS" not in cluster.env
    client = api(MOBILABEL_ALLOWED_ROOTS=str(allowed))
    created = client.post("/api/training-runs", json={"data_dir": str(data), "epochs": 1, "batch_size": 8})
    assert created.status_code == 202, created.text
    run_id = created.json()["id"]
    cluster.start_worker("w1")

    def ended() -> dict[str, object] | None:
        run: dict[str, object] = client.get(f"/api/training-runs/{run_id}").json()
        return run if run["status"] in ("completed", "failed") else None

    run = wait_until(ended, 300, f"training run {run_id} to end")
    assert isinstance(run, dict) and run["status"] == "failed", run
    secret = data / "train" / "daisy" / "secret.jpg"
    assert run["error"] == f"TrainingError: 1 training image lies outside {RUN_ROOTS}, e.g. {secret}; not trained on"
