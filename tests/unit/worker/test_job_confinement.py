"""A worker holds the files of a job to the allowed roots of the process that created it (issue 22, case 1):
a job created over HTTP cannot make a worker without roots of its own read outside the server's."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from mobilabel.config import load_settings
from mobilabel.imaging import ImageReadError, load_source
from mobilabel.storage import chunks as stored_chunks
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import open_database
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.worker.chunk import process_chunk
from mobilabel.worker.runtime import WorkerRuntime

JOB_ROOTS_REFUSED = "path is outside the allowed roots of the server that created the job (its MOBILABEL_ALLOWED_ROOTS); not read"


def photos_and_a_way_out(tmp_path: Path, val_images: list[Path]) -> tuple[Path, Path]:
    """(allowed, outside): allowed/ holds a photo and a link to one in outside/."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    shutil.copy(val_images[0], allowed / "good.jpg")
    shutil.copy(val_images[1], outside / "secret.jpg")
    (allowed / "linked.jpg").symlink_to(outside / "secret.jpg")
    return allowed, outside


def test_a_worker_without_roots_holds_a_job_to_its_creators_roots(
    database_url: str, tmp_path: Path, val_images: list[Path]
) -> None:
    allowed, outside = photos_and_a_way_out(tmp_path, val_images)
    open_database(database_url, auto_upgrade=True).dispose()
    runtime = WorkerRuntime(load_settings())
    assert runtime.settings.allowed_roots == ()  # the worker would open anything on its own
    paths = [str(allowed / "good.jpg"), str(allowed / "linked.jpg"), str(outside / "secret.jpg")]
    with runtime.db.transaction() as session:
        job = stored_jobs.create_job(session, str(allowed), None, allowed_roots=(allowed,))
        (chunk_id,) = stored_chunks.add_chunks(session, job.id, 0, [paths], timedelta(seconds=60))
    outcome = process_chunk(runtime, chunk_id)
    assert (outcome.done, outcome.failed) == (1, 2)
    with runtime.db.transaction() as session:
        rows = {Path(r.image_path).name: r for r in query_results(session, ResultFilter(job_id=job.id))}
    runtime.db.dispose()
    assert rows["good.jpg"].status == "ok"
    for name in ("linked.jpg", "secret.jpg"):
        assert (rows[name].status, rows[name].error, rows[name].content_hash) == ("failed", JOB_ROOTS_REFUSED, None)


def test_the_roots_are_checked_on_the_file_opened_not_only_on_the_name(tmp_path: Path, val_images: list[Path]) -> None:
    """A link swapped in after every earlier check: the real path of what was opened is what is held to the roots."""
    allowed, outside = photos_and_a_way_out(tmp_path, val_images)
    asked: list[Path] = []

    def confine(real: Path) -> str | None:
        asked.append(real)
        return None if real.is_relative_to(allowed) else "outside"

    assert load_source(allowed / "good.jpg", confine).data == (allowed / "good.jpg").read_bytes()
    try:
        load_source(allowed / "linked.jpg", confine)
    except ImageReadError as exc:
        assert str(exc) == "outside"
    else:
        raise AssertionError("a link out of the roots was read")
    assert asked == [allowed / "good.jpg", outside / "secret.jpg"]
