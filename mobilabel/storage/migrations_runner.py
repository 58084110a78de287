"""Alembic, driven from code: the migration scripts ship inside the package.

Imported only to migrate or to tell a revision (``database.open_database``): a database already at the newest
migration is checked without Alembic (``database.schema_revision``, ``database.head_revision``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from .deadline import unbounded

_SCRIPTS = Path(__file__).with_name("migrations")


def _config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    """The newest migration as Alembic reads the scripts: what ``database.head_revision`` must agree with."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def is_known(revision: str) -> bool:
    """Whether this code has the migration ``revision`` (a database written by a newer mobilabel has one it lacks)."""
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:
        return False


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``, with no statement timeout: building an index on a big table may rightly take long."""
    with unbounded():
        command.upgrade(_config(engine), revision)
