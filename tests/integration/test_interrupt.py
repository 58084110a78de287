"""Ctrl-C during `mobilabel label`: it stops after the batch being written, says what was kept and how to resume,
and running it again labels only the rest."""

from __future__ import annotations

import os
import signal
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


def test_ctrl_c_stops_after_the_batch_it_writes_and_label_resumes(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = FLOWERS / "val" / "daisy"  # 21 photos: 6 batches of 4 or fewer
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    assert CliRunner().invoke(cli, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    db = open_database(postgres_url)
    env = {**os.environ, "MOBILABEL_BATCH_SIZE": "4"}
    # While this transaction holds the results table, the label process can write no batch: the
    # Ctrl-C is sure to arrive while its first batch is being written, whatever the machine's speed.
    blocker = create_engine(postgres_url)
    with blocker.connect() as lock:
        lock.execute(text("LOCK TABLE results IN EXCLUSIVE MODE"))
        labelling = subprocess.Popen(
            [sys.executable, "-m", "mobilabel", "label", str(folder)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def waiting_on_the_lock() -> bool:
            return bool(
                lock.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'results'::regclass")).scalar()
            )

        wait_until(waiting_on_the_lock, 120, "the label process to write its first batch")
        labelling.send_signal(signal.SIGINT)
        lock.rollback()
    output, _ = labelling.communicate(timeout=120)
    blocker.dispose()
    with db.transaction() as session:
        job = session.scalar(select(Job).order_by(Job.id.desc()).limit(1))
        assert job is not None
        rows = session.scalar(select(func.count()).select_from(Result))
    assert labelling.returncode == 1 and "Traceback" not in output and "Aborted" not in output, output
    assert (job.status, job.done, rows) == ("cancelled", 4, 4), "stopped after the batch it was writing; that batch is kept"
    assert f"Error: interrupted: job {job.id} stopped after 4 of 21 images to label; those 4 are kept" in output
    assert f"`mobilabel label {folder}` labels the rest" in output

    again = subprocess.run(
        [sys.executable, "-m", "mobilabel", "label", str(folder)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert "21 images, 17 labelled, 0 failed, 4 skipped (unchanged)" in again.stderr
    with db.transaction() as session:
        assert (
            session.scalar(select(func.count(func.distinct(Result.image_path))))
            == session.scalar(select(func.count()).select_from(Result))
            == 21
        )
    db.dispose()
