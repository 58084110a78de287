"""Existing databases upgrade: one made at every earlier revision reaches the schema the code declares,
on SQLite and PostgreSQL; and the released order of the migrations stays as it was released."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mobilabel.storage import migrations_runner
from mobilabel.storage.database import Database
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
            assert migrations_runner.current_revision(database.engine) == revision
            migrations_runner.upgrade(database.engine)
            assert migrations_runner.current_revision(database.engine) == order[-1]
            with database.engine.connect() as connection:
                assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == [], f"upgraded from {revision}"
        finally:
            database.dispose()
            if dialect == "postgresql":
                drop_postgres_database(url)
