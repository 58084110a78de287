"""Two `mobilabel label` runs on one folder (or on a folder and one inside it) at once: the later waits for the
earlier, saying so, then labels only what it left; every image is labelled once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from mobilabel.storage import open_database
from mobilabel.storage.tables import Job, Result
from tests.conftest import FLOWERS, REPO
from tests.integration.conftest import wait_until


def test_a_second_run_waits_for_the_first_and_labels_only_what_it_left(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    open_database(postgres_url, auto_upgrade=True).dispose()
    env = {**os.environ, "MOBILABEL_BATCH_SIZE": "4", "MOBILABEL_HEARTBEAT_S": "0.5"}
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "same", "parent")}

    def start(name: str, folder: Path) -> subprocess.Popen[bytes]:
        with open(logs[name], "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "mobilabel", "label", str(folder)], cwd=REPO, env=env, stdout=log, stderr=log
            )

    # The first run holds the folder while the results table is locked (it cannot write its first batch),
    # so the others are sure to start while it runs, whatever the machine's speed.
    blocker = create_engine(postgres_url)
    with blocker.connect() as lock:
        lock.execute(text("LOCK TABLE results IN EXCLUSIVE MODE"))
        first = start("first", FLOWERS / "val" / "daisy")
        wait_until(
            lambda: lock.execute(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'results'::regclass")
            ).scalar(),
            120,
            "the first run to write its first batch",
        )
        same, parent = start("same", FLOWERS / "val" / "daisy"), start("parent", FLOWERS / "val")
        for name in ("same", "parent"):
            wait_until(lambda: "waiting: label " in logs[name].read_text(), 120, f"the {name} run to say it waits")  # noqa: B023
        lock.rollback()
    blocker.dispose()
    for process in (first, same, parent):
        assert process.wait(timeout=300) == 0, {name: path.read_text()[-1500:] for name, path in logs.items()}
    output = {name: path.read_text() for name, path in logs.items()}
    assert "21 images, 21 labelled, 0 failed, 0 skipped" in output["first"]
    assert (
        f"is labelling {FLOWERS / 'val' / 'daisy'}" in output["same"]
        and f"is labelling {FLOWERS / 'val' / 'daisy'}" in output["parent"]
    )
    # Whichever of the two went next, each labels only what no earlier run had.
    assert "nothing new to label: 21 images unchanged" in output["same"]
    assert "120 images, 99 labelled, 0 failed, 21 skipped (unchanged)" in output["parent"]
    db = open_database(postgres_url)
    with db.transaction() as session:
        rows = session.scalar(select(func.count()).select_from(Result))
        distinct = session.scalar(select(func.count(func.distinct(Result.image_path))))
        jobs = session.scalars(select(Job).order_by(Job.id)).all()
    db.dispose()
    assert rows == distinct == 120, "every image once"
    assert [j.status for j in jobs] == ["completed"] * 3
    assert sum(j.done for j in jobs) == 120, "no image labelled twice"
