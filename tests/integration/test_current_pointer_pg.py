"""The maintained current row against the rule (tests/unit/storage/test_current_pointer.py), on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from mobilabel.storage import Database, versions
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.tables import Result
from tests.unit.storage.test_current_pointer import *  # noqa: F403 (the same tests, collected here too)
from tests.unit.storage.test_current_pointer import rule_current_ids


@pytest.fixture
def db_url(postgres_url: str) -> str:  # replaces the SQLite file of the unit module
    return postgres_url


def test_two_versions_writing_the_same_images_at_once_leave_one_current_row_each(db: Database) -> None:
    """PostgreSQL runs writers side by side: each round two threads write the same new images
    with two versions, started together; every image must end with exactly the rule's row."""
    with db.transaction() as session:
        for version_id in ("v0", "v1"):
            versions.register_version(session, versions.VersionRecord(version_id, "m", 1.0, ["daisy"], {}, version_id.encode()))
    rounds, images = 20, 40
    for round_number in range(rounds):
        paths = [f"/p/{round_number}/{i}.jpg" for i in range(images)]
        start = threading.Barrier(2)

        def writer(version_id: str, order: list[str], start: threading.Barrier = start) -> None:
            records = [ResultRecord(p, "1:1", ResultStatus.OK, "daisy", 0.5, [], content_hash="h") for p in order]
            start.wait()
            with db.transaction() as session:
                write_results(session, records, version_id, None)

        threads = [threading.Thread(target=writer, args=("v0", paths)), threading.Thread(target=writer, args=("v1", paths[::-1]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with db.transaction() as session:
        flagged = set(session.scalars(select(Result.id).where(Result.is_current)))
        assert flagged == set(session.scalars(rule_current_ids()))
        assert len(flagged) == rounds * images


def test_a_batch_of_25000_paths_is_written_in_one_transaction(db: Database) -> None:
    """A lock per path ran such a batch out of PostgreSQL's shared lock table (max_locks_per_transaction);
    the writer holds a lock per bucket of paths instead."""
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v0", "m", 1.0, ["daisy"], {}, b"v0"))
    records = [
        ResultRecord(f"/big/{i:05d}.jpg", "1:1", ResultStatus.OK, "daisy", 0.5, [], content_hash="h") for i in range(25_000)
    ]
    with db.transaction() as session:
        write_results(session, records, "v0", None)
    with db.transaction() as session:
        assert len(session.scalars(select(Result.id).where(Result.is_current)).all()) == 25_000
