"""PostgreSQL going away under the embedded `label`, the server's own runner and a training worker: the work rides
out an outage within MOBILABEL_DB_PATIENCE_S, stops with one line past it, and nothing is left `running` with no
process behind it (its owner's heartbeats stop, and the next look fails it with the reason)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, func, select, text

from mobilabel.storage import open_database
from mobilabel.storage.tables import Job, Result
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS, REPO
from tests.integration.conftest import Cluster, wait_until
from tests.integration.test_training_workers import small_training_folder
from tests.tcp_proxy import TcpProxy

FOLDER = FLOWERS / "val" / "daisy"  # 21 photos


@contextmanager
def proxied(url: str) -> Iterator[tuple[TcpProxy, str]]:
    proxy = TcpProxy("127.0.0.1", 5432)
    try:
        yield proxy, url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    finally:
        proxy.close()


@contextmanager
def results_locked(url: str) -> Iterator[Connection]:
    """Hold the results table (reads pass): whoever writes a batch waits, so an outage is sure to catch a write."""
    engine = create_engine(url)
    try:
        with engine.connect() as lock:
            lock.execute(text("LOCK TABLE results IN EXCLUSIVE MODE"))
            yield lock
    finally:
        engine.dispose()


def someone_waits(lock: Connection) -> bool:
    return bool(lock.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'results'::regclass")).scalar())


def label(env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "mobilabel", "label", str(FOLDER)]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def counts(url: str) -> tuple[int, int, list[tuple[int, str]]]:
    """(result rows, distinct image paths, [(job id, status)])."""
    db = open_database(url)
    with db.transaction() as session:
        rows = session.scalar(select(func.count()).select_from(Result)) or 0
        distinct = session.scalar(select(func.count(func.distinct(Result.image_path)))) or 0
        jobs = [(j.id, j.status) for j in session.scalars(select(Job).order_by(Job.id))]
    db.dispose()
    return rows, distinct, jobs


@pytest.fixture
def outage_env(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    open_database(postgres_url, auto_upgrade=True).dispose()
    env = {"MOBILABEL_DATABASE_URL": postgres_url, "MOBILABEL_BATCH_SIZE": "4", "MOBILABEL_HEARTBEAT_S": "0.5"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **env}


def test_label_rides_out_an_outage_shorter_than_its_patience(postgres_url: str, outage_env: dict[str, str]) -> None:
    with proxied(postgres_url) as (proxy, url):
        with results_locked(postgres_url) as lock:
            labelling = label({**outage_env, "MOBILABEL_DATABASE_URL": url, "MOBILABEL_DB_PATIENCE_S": "120"})
            wait_until(lambda: someone_waits(lock), 120, "label to write its first batch")
            proxy.cut()  # the server's host goes away mid-write
            lock.rollback()
        log_lines: list[str] = []
        assert labelling.stderr is not None
        wait_until(
            lambda: "database unavailable" in (log_lines.append(labelling.stderr.readline()) or "".join(log_lines)), 60, "a retry"
        )  # type: ignore[union-attr]
        proxy.restore()
        _, rest = labelling.communicate(timeout=300)
    assert labelling.returncode == 0, "".join(log_lines) + rest
    assert "21 images, 21 labelled, 0 failed" in rest
    assert counts(postgres_url) == (21, 21, [(1, "completed")])


def test_past_its_patience_label_stops_with_one_line_and_resumes(postgres_url: str, outage_env: dict[str, str]) -> None:
    with proxied(postgres_url) as (proxy, url):
        with results_locked(postgres_url) as lock:
            labelling = label({**outage_env, "MOBILABEL_DATABASE_URL": url, "MOBILABEL_DB_PATIENCE_S": "2"})
            wait_until(lambda: someone_waits(lock), 120, "label to write its first batch")
            proxy.cut()
            lock.rollback()
        _, stderr = labelling.communicate(timeout=120)
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert labelling.returncode == 1 and "Traceback" not in stderr and len(errors) == 1, stderr
    assert "could not be reached for 2 s (MOBILABEL_DB_PATIENCE_S" in errors[0]
    assert f"job 1 stopped after 0 of 21 images to label; those are kept; `mobilabel label {FOLDER}` labels the rest" in errors[0]

    def listed() -> dict[str, object]:
        shown = subprocess.run(
            [sys.executable, "-m", "mobilabel", "jobs", "--format", "json"], env=outage_env, capture_output=True, text=True
        )
        job: dict[str, object] = json.loads(shown.stdout)[0]
        return job

    job = wait_until(lambda: (j := listed())["status"] == "failed" and j, 60, "the orphaned job to be failed when looked at")
    assert "its process (label " in str(job["error"]) and "stopped answering" in str(job["error"])  # type: ignore[index]
    again = subprocess.run(
        [sys.executable, "-m", "mobilabel", "label", str(FOLDER)], env=outage_env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0 and "21 images, 21 labelled" in again.stderr, again.stderr
    assert counts(postgres_url) == (21, 21, [(1, "failed"), (2, "completed")])


def test_the_servers_own_runner_rides_out_an_outage_and_answers_503(
    api: ClientFactory,
    postgres_url: str,
    outage_env: dict[str, str],
) -> None:
    with proxied(postgres_url) as (proxy, url):
        client = api(MOBILABEL_DATABASE_URL=url, MOBILABEL_ALLOWED_ROOTS=str(FLOWERS), MOBILABEL_DB_PATIENCE_S="120")
        with results_locked(postgres_url) as lock:
            created = client.post("/api/jobs", json={"folder": str(FOLDER)})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            wait_until(lambda: someone_waits(lock), 120, "the server to write the job's first batch")
            proxy.cut()
            lock.rollback()
        during = client.get(f"/api/jobs/{job_id}")
        assert during.status_code == 503 and "database is unavailable" in during.json()["detail"], during.text
        assert client.get("/api/training-runs").status_code == 503
        proxy.restore()
        job = wait_until(
            lambda: (j := client.get(f"/api/jobs/{job_id}").json())["status"] == "completed" and j, 120, "the job to complete"
        )
        assert (job["done"], job["failed"]) == (21, 0)  # type: ignore[index]
        later = client.post("/api/jobs", json={"folder": str(FOLDER)})
        wait_until(lambda: client.get(f"/api/jobs/{later.json()['id']}").json()["status"] == "completed", 120, "a later job")
    assert counts(postgres_url)[:2] == (21, 21)


def test_a_training_run_whose_worker_died_is_failed_when_looked_at(cluster: Cluster, tmp_path: Path) -> None:
    data = small_training_folder(tmp_path / "data", per_class=4)
    env = {**cluster.env, "MOBILABEL_HEARTBEAT_S": "0.5"}
    worker = cluster.start_worker("w1", MOBILABEL_HEARTBEAT_S="0.5")
    queued = subprocess.run(
        [sys.executable, "-m", "mobilabel", "train", str(data), "--queue", "--epochs", "50"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert queued.returncode == 0, queued.stderr

    def run() -> dict[str, object]:
        shown = subprocess.run(
            [sys.executable, "-m", "mobilabel", "runs", "--format", "json"], env=env, capture_output=True, text=True
        )
        listed: dict[str, object] = json.loads(shown.stdout)[0]
        return listed

    wait_until(lambda: run()["progress"], 120, "the run to make progress")
    worker.kill_all()
    failed = wait_until(lambda: (r := run())["status"] == "failed" and r, 60, "the orphaned run to be failed when looked at")
    assert "its worker (worker " in str(failed["error"]) and "stopped answering" in str(failed["error"])  # type: ignore[index]
    assert failed["version_id"] is None  # type: ignore[index]


def test_a_host_that_dies_without_closing_its_sockets_costs_at_most_the_patience(cluster: Cluster) -> None:
    with proxied(cluster.database_url) as (proxy, url):
        # Patience 6 s: a statement gets 6 s from the server and 8 s from the client; connects 2 s each.
        worker = cluster.start_worker("w1", MOBILABEL_DATABASE_URL=url, MOBILABEL_DB_PATIENCE_S="6")
        job_id = cluster.enqueue(FLOWERS / "val", chunk_size=8)
        wait_until(lambda: cluster.job(job_id).done >= 16, 120, "the first chunks to be labelled")
        proxy.freeze()
        wait_until(lambda: "got no answer for 8 s" in worker.log, 60, "the frozen connection to be dropped")
        wait_until(lambda: "database unavailable" in worker.log, 60, "the worker to retry")
        proxy.thaw()
        job = cluster.wait_for_job(job_id, 120)
    assert (job.done, job.failed) == (120, 0)
    assert cluster.result_counts() == (120, 120)
    assert "Hard time limit" not in worker.log and "TimeLimitExceeded" not in worker.log
