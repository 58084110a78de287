"""Storage: migrations, upserts and SQLite's concurrency settings, on both dialects."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from mobilabel.storage import DatabaseError, jobs, open_database, versions
from mobilabel.storage.jobs import add_to_counters
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.tables import Base, Job, Result


def migrated(url: str):  # type: ignore[no-untyped-def]
    return open_database(url, auto_upgrade=True)


def add_version(db, version_id: str = "v1") -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord(version_id, "mobilenet_v2", 1.0, ["a", "b"], {}, b"weights"))


def test_migrations_build_exactly_the_tables_the_code_declares(database_url: str) -> None:
    db = migrated(database_url)
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    db.dispose()


@pytest.mark.integration
def test_a_server_database_is_never_migrated_behind_the_users_back(postgres_url: str) -> None:
    with pytest.raises(DatabaseError, match="run `mobilabel db upgrade`"):
        open_database(postgres_url)


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(DatabaseError, match="cannot connect to the database postgresql\\+psycopg://u:\\*\\*\\*@127.0.0.1:9"):
        open_database("postgresql://u:secret@127.0.0.1:9/x")


def test_writing_a_batch_again_updates_instead_of_duplicating(database_url: str) -> None:
    db = migrated(database_url)
    add_version(db)
    with db.transaction() as session:
        job = jobs.create_job(session, "/photos", "v1")
    first = [
        ResultRecord("/photos/a.jpg", "1:1", ResultStatus.OK, "a", 0.9, [{"label": "a", "confidence": 0.9}]),
        ResultRecord("/photos/b.jpg", "1:1", ResultStatus.FAILED, error="bad"),
    ]
    with db.transaction() as session:
        write_results(session, first, "v1", job.id)
        add_to_counters(session, job.id, 1, 1)
    again = [ResultRecord("/photos/b.jpg", "2:2", ResultStatus.OK, "b", 0.7, [])]
    with db.transaction() as session:
        write_results(session, again, "v1", job.id)
    with db.transaction() as session:
        rows = {r.image_path: r for r in query_results(session, ResultFilter())}
        assert len(rows) == 2
        assert (rows["/photos/b.jpg"].status, rows["/photos/b.jpg"].label, rows["/photos/b.jpg"].content_id) == (
            ResultStatus.OK,
            "b",
            "2:2",
        )
        assert rows["/photos/a.jpg"].top_k == [{"label": "a", "confidence": 0.9}]
        stored_job = session.get(Job, job.id)
        assert stored_job is not None and (stored_job.done, stored_job.failed) == (1, 1)
    db.dispose()


def test_path_patterns_treat_percent_and_underscore_literally(database_url: str) -> None:
    db = migrated(database_url)
    add_version(db)
    names = ["/p/100%_x.jpg", "/p/100ab.jpg", "/p/1000x.jpg"]
    with db.transaction() as session:
        write_results(session, [ResultRecord(n, None, ResultStatus.OK, "a", 0.5) for n in names], "v1", None)
    with db.transaction() as session:
        assert [r.image_path for r in query_results(session, ResultFilter(path_pattern="100%_*"))] == ["/p/100%_x.jpg"]
        assert len(query_results(session, ResultFilter(path_pattern="/p/*.jpg"))) == 3
    db.dispose()


def test_only_one_version_is_active(database_url: str) -> None:
    db = migrated(database_url)
    add_version(db, "v1")
    add_version(db, "v2")
    with db.transaction() as session:
        versions.activate_version(session, "v1")
        versions.activate_version(session, "v2")
        assert versions.active_version_id(session) == "v2"
        with pytest.raises(versions.UnknownVersionError):
            versions.activate_version(session, "v3")
    db.dispose()


def test_sqlite_readers_never_block_the_writer(tmp_path: Path) -> None:
    db = migrated(f"sqlite:///{tmp_path / 'wal.db'}")
    add_version(db)
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    reader = sqlite3.connect(tmp_path / "wal.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM results").fetchone() == (0,)
    # The reader holds an open read transaction; without WAL the writer's commit would wait for it.
    with db.transaction() as session:
        write_results(session, [ResultRecord("/a.jpg", None, ResultStatus.OK, "a", 0.5)], "v1", None)
    assert reader.execute("SELECT count(*) FROM results").fetchone() == (0,), "the reader keeps its snapshot"
    reader.execute("COMMIT")
    reader.close()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Result)) == 1
    db.dispose()


def test_a_path_pattern_from_the_root_matches_under_that_folder_any_other_anywhere(database_url: str) -> None:
    db = migrated(database_url)
    add_version(db)
    names = {
        "a": "/photos/2024/a.jpg",
        "b": "/photos/2024/sub/b.jpg",
        "c": "/backup/photos/2024/c.jpg",
        "d": "/photos/2024x/d.jpg",
        "e": "/photos/2024/caf\udce9.jpg",  # not UTF-8: stored as bytes:/photos/2024/caf\xe9.jpg
    }
    with db.transaction() as session:
        write_results(session, [ResultRecord(n, None, ResultStatus.OK, "a", 0.5) for n in names.values()], "v1", None)

    def matching(pattern: str) -> set[str]:
        with db.transaction() as session:
            found = {r.image_path for r in query_results(session, ResultFilter(path_pattern=pattern))}
        return {key for key, name in names.items() if name in found}

    # A folder's range is of one stored form: a name that is not UTF-8 is under "bytes:/photos/2024/".
    assert matching("/photos/2024/*") == {"a", "b"}
    assert matching("bytes:/photos/2024/*") == {"e"}
    assert matching("/photos/2024/a.jpg") == {"a"}
    assert matching("/photos/2024") == set()
    assert matching("/photos/2024?/*") == {"d"}
    assert matching("*/photos/2024/*") == {"a", "b", "c", "e"}
    assert matching("photos/2024/*") == {"a", "b", "c", "e"}
    assert matching("2024/?.jpg") == {"a", "c"}
    assert matching("/photos/2024/caf\udce9.jpg") == {"e"}
    db.dispose()
