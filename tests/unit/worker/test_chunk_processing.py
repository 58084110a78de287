"""A chunk is counted exactly once, and a chunk delivered too often gives up with the reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mobilabel.config import load_settings
from mobilabel.hashing import hash_file
from mobilabel.storage import chunks as stored_chunks
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import open_database, versions
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.storage.tables import Chunk, Job, utcnow
from mobilabel.worker.chunk import process_chunk
from mobilabel.worker.runtime import WorkerRuntime


def one_chunk_job(runtime: WorkerRuntime, paths: list[str]) -> tuple[int, int]:
    with runtime.db.transaction() as session:
        job = stored_jobs.create_job(session, "/photos", None)
        (chunk_id,) = stored_chunks.add_chunks(session, job.id, 0, [paths], timedelta(seconds=60))
    return job.id, chunk_id


def test_a_redelivered_chunk_writes_and_counts_nothing_twice(val_images: list[Path]) -> None:
    open_database(load_settings().database_url).dispose()  # the embedded SQLite file, migrated
    runtime = WorkerRuntime(load_settings())
    job_id, chunk_id = one_chunk_job(runtime, [str(p) for p in val_images[:5]])
    first = process_chunk(runtime, chunk_id)
    again = process_chunk(runtime, chunk_id)
    assert (first.state, first.done, again.state) == ("done", 5, "skipped")
    with runtime.db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None and (job.status, job.done, job.failed) == ("completed", 5, 0)
        assert len(query_results(session, ResultFilter(job_id=job_id))) == 5


def test_a_second_job_over_the_same_images_leaves_the_first_its_results(val_images: list[Path]) -> None:
    open_database(load_settings().database_url).dispose()
    runtime = WorkerRuntime(load_settings())
    paths = [str(p) for p in val_images[:4]]
    jobs = [one_chunk_job(runtime, paths) for _ in range(2)]
    for _, chunk_id in jobs:
        assert process_chunk(runtime, chunk_id).done == 4
    with runtime.db.transaction() as session:
        for job_id, _ in jobs:
            rows = query_results(session, ResultFilter(job_id=job_id))
            assert sorted(r.image_path for r in rows) == paths
            assert [r.content_hash for r in rows] == [hash_file(p) for p in paths], "the hash of the bytes read"


def test_a_chunk_delivered_too_often_marks_its_images_failed(val_images: list[Path]) -> None:
    open_database(load_settings().database_url).dispose()
    runtime = WorkerRuntime(load_settings())
    paths = [str(p) for p in val_images[:3]]
    job_id, chunk_id = one_chunk_job(runtime, paths)
    with runtime.db.transaction() as session:
        chunk = session.get(Chunk, chunk_id)
        assert chunk is not None
        chunk.attempts = 1 + runtime.settings.max_redeliveries  # its workers died every time so far
    outcome = process_chunk(runtime, chunk_id)
    assert (outcome.state, outcome.done, outcome.failed) == ("failed", 0, 3)
    with runtime.db.transaction() as session:
        rows = query_results(session, ResultFilter(job_id=job_id))
        assert sorted(r.image_path for r in rows) == sorted(paths)
        assert all(r.status == "failed" and "gave up after 4 attempts" in (r.error or "") for r in rows)
        job = session.get(Job, job_id)
        assert job is not None and (job.status, job.done, job.failed) == ("completed", 0, 3)


def test_a_chunk_that_fails_on_every_attempt_ends_with_its_images_failed(
    val_images: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its job's pinned version cannot be loaded (a damaged checkpoint): no retry will change that."""
    monkeypatch.setenv("MOBILABEL_MAX_REDELIVERIES", "1")
    open_database(load_settings().database_url).dispose()
    runtime = WorkerRuntime(load_settings())
    with runtime.db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("damaged", "mobilenet_v2", 1.0, ["a"], {}, b"not a checkpoint"))
        job = stored_jobs.create_job(session, "/photos", "damaged")
        (chunk_id,) = stored_chunks.add_chunks(session, job.id, 0, [[str(p) for p in val_images[:3]]], timedelta(seconds=60))

    first = process_chunk(runtime, chunk_id)
    assert first.state == "retrying"
    with runtime.db.transaction() as session:
        chunk = session.get_one(Chunk, chunk_id)
        assert chunk.state == "running" and chunk.error and "checkpoint" in chunk.error.lower()
        assert chunk.deadline is not None and chunk.deadline <= utcnow(), "overdue at once: the next sweep re-sends it"

    last = process_chunk(runtime, chunk_id)
    assert (last.state, last.done, last.failed) == ("failed", 0, 3)
    with runtime.db.transaction() as session:
        rows = query_results(session, ResultFilter(job_id=job.id))
        assert len(rows) == 3 and all(r.status == "failed" for r in rows)
        assert all(r.error and r.error.startswith("gave up after 2 attempts: ") and "checkpoint" in r.error.lower() for r in rows)
        stored_job = session.get_one(Job, job.id)
        assert (stored_job.status, stored_job.done, stored_job.failed) == ("completed", 0, 3)
