"""Workers meet what a folder holds besides photos (issue 22, case 4): special files and camera RAW get a row with
a reason, and whatever has no image's name is counted when the job is sent, never dropped without a word."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from mobilabel.broker import create_app
from mobilabel.config import load_settings
from mobilabel.scheduler.enqueue import enqueue_folder
from mobilabel.storage.result_queries import ResultFilter, query_results
from tests.integration.conftest import Cluster


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
    assert (job.total, job.done, job.failed) == (3, 1, 2)
    with db.transaction() as session:
        rows = {Path(r.image_path).name: r for r in query_results(session, ResultFilter(job_id=job.id))}
    db.dispose()
    assert rows["fifo.jpg"].error == "a FIFO (named pipe), not a regular file: not opened"
    assert rows["zero.jpg"].error == "a character device, not a regular file: not opened"
    assert rows["good.jpg"].status == "ok"
