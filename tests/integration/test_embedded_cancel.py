"""`mobilabel cancel` on a running `mobilabel label` job: the label process stops between batches."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from mobilabel.cli.main import cli
from mobilabel.storage import open_database
from mobilabel.storage.tables import Job, Result
from tests.conftest import FLOWERS, REPO
from tests.integration.conftest import wait_until


def test_cancel_stops_a_running_label_process_and_keeps_what_it_wrote(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = FLOWERS / "val" / "daisy"  # 21 photos: 6 batches of 4 or fewer
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    assert CliRunner().invoke(cli, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    db = open_database(postgres_url)
    # While this transaction holds the results table, the label process can write no batch:
    # the cancel is sure to arrive while its job is running, whatever the machine's speed.
    blocker = create_engine(postgres_url)
    with blocker.connect() as lock:
        lock.execute(text("LOCK TABLE results IN EXCLUSIVE MODE"))  # reads still pass
        env = {**os.environ, "MOBILABEL_BATCH_SIZE": "4"}
        labelling = subprocess.Popen(
            [sys.executable, "-m", "mobilabel", "label", str(folder)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def job_id() -> int | None:
            with db.transaction() as session:
                return session.scalar(select(Job.id).where(Job.status == "running"))

        job = wait_until(job_id, 120, "the label process to start its job")
        cancelled = CliRunner().invoke(cli, ["cancel", str(job)], catch_exceptions=False)
        assert cancelled.exit_code == 0, cancelled.output
        lock.rollback()  # releases the table: the label process writes its batch, then sees the cancel
    output, _ = labelling.communicate(timeout=300)
    blocker.dispose()

    assert labelling.returncode == 1 and "Traceback" not in output, output
    assert f"Error: job {job} was cancelled: stopped after 4 of 21 images to label" in output
    with db.transaction() as session:
        row = session.get(Job, job)
        assert row is not None and (row.status, row.done, row.failed, row.total) == ("cancelled", 4, 0, 21)
        assert session.scalar(select(func.count()).select_from(Result).where(Result.job_id == job)) == 4, "what it wrote stays"
    db.dispose()
