"""Another process holds the SQLite file's write lock: `label` waits as configured, then says so in one line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mobilabel.storage import open_database
from mobilabel.storage.database import Database, DatabaseLockedError
from mobilabel.storage.jobs import create_job
from tests.conftest import FLOWERS, REPO


def test_label_ends_with_one_line_naming_the_locked_file_and_writes_nothing(tmp_path: Path) -> None:
    db_file = tmp_path / "locked.db"
    url = f"sqlite:///{db_file}"
    open_database(url).dispose()  # migrated, as a first run leaves it
    holder = sqlite3.connect(db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a backup tool, or a second `mobilabel label`, writing
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO), "MOBILABEL_DATABASE_URL": url, "MOBILABEL_DB_LOCK_TIMEOUT_S": "0.5"}
        run = subprocess.run(
            [sys.executable, "-m", "mobilabel", "label", str(FLOWERS / "val" / "roses")], capture_output=True, env=env, cwd=REPO
        )
    finally:
        holder.rollback()
        holder.close()
    stderr = run.stderr.decode()
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert f"Error: the database {db_file} is locked: another process holds its write lock (waited 0.5 s" in stderr
    check = sqlite3.connect(db_file)
    assert check.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
    assert check.execute("SELECT count(*) FROM results").fetchone() == (0,)
    check.close()


def test_a_transaction_waits_then_raises_the_lock_error(tmp_path: Path) -> None:
    db_file = tmp_path / "locked.db"
    db = open_database(f"sqlite:///{db_file}")
    db.dispose()
    waiting = Database(f"sqlite:///{db_file}", lock_timeout_s=0.2)
    holder = sqlite3.connect(db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseLockedError, match="another process holds its write lock"):
            with waiting.transaction() as session:
                create_job(session, "/photos", None)
    finally:
        holder.rollback()
        holder.close()
    with waiting.transaction() as session:  # the lock released, the same database writes again
        assert create_job(session, "/photos", None).id == 1
    waiting.dispose()
