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
