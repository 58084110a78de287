"""What a command's click context holds: the settings, and the one database handle of the command."""

from __future__ import annotations

import getpass

import click

from ..config import Settings
from ..storage import Database, open_database
from ..storage.ownership import reap_orphans

_DATABASE = "mobilabel.database"


def command_database(auto_upgrade: bool | None = None) -> Database:
    """The running command's database: opened (and its schema checked) on first use, disposed when the
    command ends, whether it succeeds or fails. Raises DatabaseError when it cannot be used."""
    root = click.get_current_context().find_root()
    database: Database | None = root.meta.get(_DATABASE)
    if database is None:
        settings: Settings = root.obj
        database = open_database(settings.database_url, auto_upgrade, settings.db_lock_timeout_s, settings.db_patience_s)
        root.call_on_close(database.dispose)
        root.meta[_DATABASE] = database
    return database


def reap_orphans_now(database: Database) -> None:
    """Fail the jobs and runs whose owner went silent (``ownership.reap_orphans``): done by every command that
    shows jobs or runs, so none shows `running` with nothing behind it."""
    settings: Settings = click.get_current_context().find_root().obj
    with database.transaction() as session:
        reap_orphans(session, settings.heartbeat_s)


def reviewer_name(settings: Settings, given: str | None) -> str:
    """Who answers from this shell: ``given`` (--reviewer), else ``MOBILABEL_REVIEWER``, else the OS user."""
    for name in (given, settings.reviewer):
        if name and name.strip():
            return name.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment nor the password database (a bare container)
        return "unknown"
