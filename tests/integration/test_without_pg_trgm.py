"""PostgreSQL without pg_trgm (a role that may not create extensions): migrations still run, and
path patterns anywhere in the path are matched, only without the trigram index."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from mobilabel.storage import open_database
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.versions import VersionRecord, register_version
from tests.conftest import POSTGRES_ADMIN_URL, create_postgres_database, drop_postgres_database


@pytest.fixture
def unprivileged_url() -> Iterator[str]:
    """A new database whose only user may create tables in its schema but not extensions."""
    url = create_postgres_database()
    name, role = url.rsplit("/", 1)[1], f"mobilabel_noext_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'GRANT CONNECT ON DATABASE "{name}" TO "{role}"'))
    owner = create_engine(url, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        connection.execute(text(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
    owner.dispose()
    yield url.replace("postgres@", f"{role}@", 1)
    drop_postgres_database(url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def test_migrations_and_path_patterns_without_pg_trgm(unprivileged_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        db = open_database(unprivileged_url, auto_upgrade=True)
    assert "pg_trgm" in caplog.text and "without an index" in caplog.text
    with db.transaction() as session:
        assert session.scalar(text("select count(*) from pg_extension where extname = 'pg_trgm'")) == 0
        register_version(session, VersionRecord("v1", "mobilenet_v2", 1.0, ["daisy"], {}, b"v1"))
        paths = ["/photos/2024/a.jpg", "/photos/2025/b.jpg", "/other/2024/c.jpg"]
        write_results(session, [ResultRecord(p, "1:1", ResultStatus.OK, "daisy", 0.9, []) for p in paths], "v1", None)
    with db.transaction() as session:
        found = [r.image_path for r in query_results(session, ResultFilter(path_pattern="*/2024/*"))]
    db.dispose()
    assert found == ["/other/2024/c.jpg", "/photos/2024/a.jpg"]
