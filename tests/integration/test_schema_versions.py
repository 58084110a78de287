"""A database from a newer mobilabel is one clear line naming both revisions; SQLite files are copied aside before
a migration."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from mobilabel.storage import Database, migrations_runner, open_database
from tests.conftest import FLOWERS


def mobilabel(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mobilabel", *arguments], capture_output=True, text=True, timeout=300)


def test_a_database_newer_than_the_code_is_one_clear_line(database_url: str) -> None:
    open_database(database_url, auto_upgrade=True).dispose()
    db = Database(database_url)
    with db.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    db.dispose()
    head = migrations_runner.head_revision()
    for command in (["label", str(FLOWERS / "val" / "roses")], ["db", "upgrade"], ["jobs"]):
        ran = mobilabel(*command)
        lines = ran.stderr.strip().splitlines()
        assert ran.returncode == 1 and len(lines) == 1, (command, ran.stderr)
        assert (
            lines[0].startswith("Error: ")
            and "0099" in lines[0]
            and f"up to {head}" in lines[0]
            and "newer mobilabel" in lines[0]
        )
    db = Database(database_url)
    with db.transaction() as session:
        assert session.scalar(text("SELECT version_num FROM alembic_version")) == "0099", "nothing was changed"
    db.dispose()


def test_a_sqlite_file_is_copied_aside_before_a_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    migrations_runner.upgrade(db.engine, "0011")
    db.dispose()
    ran = mobilabel("jobs")
    head = migrations_runner.head_revision()
    backup = tmp_path / f"old.db.before-{head}.bak"
    assert ran.returncode == 0, ran.stderr
    assert str(backup) in ran.stderr
    with sqlite3.connect(backup) as copy:
        assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == ("0011",)
    with sqlite3.connect(path) as migrated:
        assert migrated.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
