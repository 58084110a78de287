"""File names a database cannot store as they are: bytes that are not UTF-8, beside look-alikes that are."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from mobilabel.storage import Database, versions
from mobilabel.storage import chunks as stored_chunks
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.corrections import CorrectionRecord, list_corrections, save_corrections
from mobilabel.storage.pathcodec import to_stored
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.tables import Job, TrainingRun

# Latin-1 as an old camera writes it, bytes no encoding knows, an escape-like backslash, and the
# codec's own prefix: each beside a valid UTF-8 name that looks like its stored form.
NON_UTF8_NAMES = (b"caf\xe9.jpg", b"\xff\xfe photo.jpg", b"back\\slash \xe9.jpg", b"bytes:\xe9.jpg")
LOOK_ALIKES = ("caf\\xe9.jpg", "caf\u00e9.jpg", "bytes:caf\\xe9.jpg")


def make_odd_folder(folder: Path, photo: Path) -> list[bytes]:
    """``folder`` holding ``photo`` under each odd name, each look-alike and a plain name; returns every file's path as bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [*NON_UTF8_NAMES, *(n.encode() for n in LOOK_ALIKES), b"plain.jpg"]
    paths = [os.fsencode(folder) + b"/" + name for name in names]
    for path in paths:
        shutil.copyfile(photo, path)
    return paths


def assert_every_path_column_round_trips(db: Database, folder: Path) -> None:
    """Results, chunks, corrections, job roots and training runs give back the exact bytes they were given."""
    odd_dir = os.fsdecode(os.fsencode(folder) + b"/d\xe9j\xe0")
    paths = [os.fsdecode(os.fsencode(folder) + b"/" + n) for n in (*NON_UTF8_NAMES, *(n.encode() for n in LOOK_ALIKES))]
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v1", "mobilenet_v2", 1.0, ["a"], {}, b"weights"))
        job = stored_jobs.create_job(session, odd_dir, "v1")
        (chunk_id,) = stored_chunks.add_chunks(session, job.id, 0, [paths], timedelta(seconds=60))
        write_results(session, [ResultRecord(p, "1:1", ResultStatus.OK, "a", 0.5) for p in paths], "v1", job.id)
        save_corrections(session, [CorrectionRecord(p, "a", content_hash=f"{i:032x}") for i, p in enumerate(paths)])
        run = stored_runs.create_run(session, odd_dir, {}, False, False, "cli")
    with db.transaction() as session:
        claimed = stored_chunks.claim_chunk(session, chunk_id, "test", timedelta(seconds=60))
        assert claimed is not None and [os.fsencode(p) for p in claimed.paths] == [os.fsencode(p) for p in paths]
        rows = query_results(session, ResultFilter(job_id=job.id))
        assert sorted(os.fsencode(r.image_path) for r in rows) == sorted(os.fsencode(p) for p in paths)
        assert sorted(os.fsencode(c.image_path) for c in list_corrections(session)) == sorted(os.fsencode(p) for p in paths)
        assert os.fsencode(session.get_one(Job, job.id).root) == os.fsencode(odd_dir)
        assert os.fsencode(session.get_one(TrainingRun, run.id).data_dir) == os.fsencode(odd_dir)
        assert stored_chunks.ok_count(session, job.id, paths) == len(paths)
        assert stored_jobs.recent_roots(session, job.created_at) == [(odd_dir, None)]
        # The database holds text only: each odd name as bytes:..., the look-alikes as they are.
        stored = set(session.scalars(text("SELECT image_path FROM results")))
    assert stored == {to_stored(p) for p in paths} and len(stored) == len(paths)
    assert {s for s in stored if s.startswith("bytes:")} == {to_stored(p) for p in paths[: len(NON_UTF8_NAMES)]}
