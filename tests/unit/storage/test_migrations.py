"""Existing databases upgrade: one made at every earlier revision reaches the schema the code declares,
on SQLite and PostgreSQL; one at the newest opens without Alembic; and the released order of the migrations stays
as it was released."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from mobilabel.storage import migrations_runner, open_database
from mobilabel.storage.database import Database, DatabaseError, head_revision, schema_revision
from mobilabel.storage.tables import Base
from tests.conftest import create_postgres_database, drop_postgres_database

MIGRATIONS = Path(migrations_runner.__file__).with_name("migrations")


def released_order() -> list[str]:
    """The revision ids from the first to the head, as alembic chains them."""
    return [script.revision for script in reversed(list(ScriptDirectory(str(MIGRATIONS)).walk_revisions()))]


def test_the_released_order_is_kept() -> None:
    # 0008 was released before 0007 (two branches merged). A database stamped 0007 has both; one stamped
    # 0008 has 0008 only. Swapping them by down_revision was tried on both dialects: a database at 0007
    # then fails to upgrade (0008's column added twice), one at 0008 silently never gets 0007's indexes.
    # The ids are names, not an order: new migrations go after the head.
    assert released_order()[:9] == ["0001", "0002", "0003", "0004", "0005", "0006", "0008", "0007", "0009"]


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def test_a_database_at_every_earlier_revision_upgrades_to_the_declared_schema(dialect: str, tmp_path: Path) -> None:
    order = released_order()
    for revision in order[:-1]:
        url = f"sqlite:///{tmp_path / f'at-{revision}.db'}" if dialect == "sqlite" else create_postgres_database()
        database = Database(url)
        try:
            migrations_runner.upgrade(database.engine, revision)
            assert schema_revision(database.engine) == revision
            migrations_runner.upgrade(database.engine)
            assert schema_revision(database.engine) == order[-1]
            with database.engine.connect() as connection:
                assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == [], f"upgraded from {revision}"
        finally:
            database.dispose()
            if dialect == "postgresql":
                drop_postgres_database(url)


def test_the_head_revision_is_the_newest_migration() -> None:
    # A database at head_revision() opens without Alembic: were it an older migration, newer ones would be skipped.
    assert head_revision() == migrations_runner.head_revision()


OPEN_AND_LIST = (
    "import sys\nfrom mobilabel.storage import open_database\nfrom mobilabel.storage.database import schema_revision\n"
    "db = open_database(sys.argv[1], auto_upgrade=True)\nprint(schema_revision(db.engine), 'alembic' in sys.modules)\n"
)


def open_in_a_process(url: str) -> list[str]:
    """The revision a fresh process's ``open_database(url)`` leaves, and whether it imported Alembic."""
    opened = subprocess.run([sys.executable, "-c", OPEN_AND_LIST, url], capture_output=True, text=True, timeout=120)
    assert opened.returncode == 0, opened.stderr
    return opened.stdout.split()


def test_only_a_database_to_migrate_imports_alembic(database_url: str) -> None:
    database = Database(database_url)
    try:
        migrations_runner.upgrade(database.engine, released_order()[-2])
    finally:
        database.dispose()
    assert open_in_a_process(database_url) == [head_revision(), "True"]  # one migration behind: upgraded
    assert open_in_a_process(database_url) == [head_revision(), "False"]  # at the newest: one query, no Alembic


def test_a_database_recording_two_migrations_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    open_database(url).dispose()
    database = Database(url)
    with database.transaction() as session:
        session.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0099')"))
    database.dispose()
    with pytest.raises(DatabaseError, match=f"several migrations at once \\({head_revision()}, 0099\\)"):
        open_database(url)
