"""Real workers, as processes, against the real Redis and PostgreSQL of this machine.

Each test gets its own PostgreSQL database and its own Redis key prefix, so runs
that overlap on one machine never see each other's messages or rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from sqlalchemy import func, select

from mobilabel.broker import create_app
from mobilabel.config import load_settings
from mobilabel.scheduler.enqueue import enqueue_folder
from mobilabel.storage import Database, open_database
from mobilabel.storage.tables import Chunk, Job, Result
from tests.conftest import IMAGENET_WEIGHTS
from tests.s3_support import S3Store, running_store

T = TypeVar("T")
REDIS_URL = os.environ.get("MOBILABEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> object:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class WorkerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        """The pool processes (the worker's children)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def group_pids(self) -> list[int]:
        return [self.process.pid, *self.children()]

    def kill_all(self) -> None:
        """SIGKILL the main process and its children at once: a machine that vanished."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def alive(self) -> bool:
        return self.process.poll() is None

    def freeze(self) -> None:
        """SIGSTOP the worker and its pool: it makes no progress until ``thaw``, however fast the machine."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)


@dataclass
class Cluster:
    env: dict[str, str]
    database_url: str
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def database(self) -> Database:
        return Database(self.database_url)

    def start_worker(
        self, name: str, concurrency: int = 1, queues: str = "cpu", launcher: Sequence[str] = (), **extra_env: str
    ) -> WorkerProcess:
        """A worker, started through ``launcher`` (a command that runs the rest of its arguments) if given."""
        command = ["worker", f"--concurrency={concurrency}", f"--name={name}-{uuid.uuid4().hex[:6]}@%h", f"--queues={queues}"]
        worker = self.start(name, command, launcher, **extra_env)
        wait_until(lambda: " ready." in worker.log or not worker.alive(), 120, f"worker {name} to start")
        assert worker.alive(), worker.log
        wait_until(lambda: worker.log.count("loaded model version") >= concurrency, 120, f"worker {name} to load its model")
        return worker

    def start(self, name: str, arguments: list[str], launcher: Sequence[str] = (), **extra_env: str) -> WorkerProcess:
        """Run ``mobilabel ARGUMENTS...`` (through ``launcher``) in its own process group, logging to a file."""
        log_path = self.tmp / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [*launcher, sys.executable, "-m", "mobilabel", *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self.env, **extra_env},
                start_new_session=True,
            )
        started = WorkerProcess(name, process, log_path)
        self.workers.append(started)
        return started

    def enqueue(self, folder: Path, chunk_size: int) -> int:
        settings = load_settings()
        db = self.database()
        try:
            return enqueue_folder(db, create_app(settings), settings, folder, chunk_size, "cpu").id
        finally:
            db.dispose()

    def job(self, job_id: int) -> Job:
        return self._row(Job, job_id)

    def wait_for_job(self, job_id: int, timeout: float) -> Job:
        wait_until(lambda: self.job(job_id).status == "completed", timeout, f"job {job_id} to complete")
        return self.job(job_id)

    def running_chunk_of(self, pids: list[int]) -> Chunk | None:
        """An unfinished chunk held by one of ``pids``, per the database."""
        db = self.database()
        with db.transaction() as session:
            chunks = session.scalars(select(Chunk).where(Chunk.state == "running")).all()
        db.dispose()
        held = [c for c in chunks if c.worker and int(c.worker.rsplit(":", 1)[1]) in pids]
        return held[0] if held else None

    def chunk(self, chunk_id: int) -> Chunk:
        return self._row(Chunk, chunk_id)

    def _row(self, table: type[T], key: int) -> T:
        db = self.database()
        with db.transaction() as session:
            row = session.get(table, key)
        db.dispose()
        assert row is not None, f"no {table.__name__} {key}"
        return row

    def result_counts(self) -> tuple[int, int]:
        """(rows, distinct image paths) in the results table."""
        db = self.database()
        with db.transaction() as session:
            rows = session.scalar(select(func.count()).select_from(Result)) or 0
            distinct = session.scalar(select(func.count(func.distinct(Result.image_path)))) or 0
        db.dispose()
        return rows, distinct

    def stop(self) -> None:
        for worker in self.workers:
            if worker.alive():
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait(timeout=30)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"mobilabel-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def cluster_env(database_url: str, broker_url: str, prefix: str, home: Path) -> dict[str, str]:
    return {
        "MOBILABEL_DATABASE_URL": database_url,
        "MOBILABEL_BROKER_URL": broker_url,
        "MOBILABEL_REDIS_PREFIX": prefix,
        "MOBILABEL_PRETRAINED": str(IMAGENET_WEIGHTS),
        "MOBILABEL_HOME": str(home),
        # Short deadlines so lost chunks are found in seconds, not minutes.
        "MOBILABEL_CHUNK_DEADLINE_S": "30",
        "MOBILABEL_QUEUED_GRACE_S": "3",
        "MOBILABEL_SWEEP_INTERVAL_S": "1",
        "MOBILABEL_DB_PATIENCE_S": "120",
    }


@pytest.fixture
def cluster(postgres_url: str, redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    env = cluster_env(postgres_url, REDIS_URL, redis_prefix, tmp_path / "home")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    open_database(postgres_url, auto_upgrade=True).dispose()
    cluster = Cluster({**os.environ, **env}, postgres_url, tmp_path)
    yield cluster
    cluster.stop()


@dataclass
class RedisServer:
    """A redis-server of the test's own, on a free port, keeping nothing on disk."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    from tests.tcp_proxy import free_port

    port = free_port()
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(tmp_path),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    server = RedisServer(port, subprocess.Popen(command, stdout=subprocess.DEVNULL))
    client = server.client()

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, 30, "the test's own Redis")
        yield server
    finally:
        client.close()
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    """One SeaweedFS server for the session (``tests/s3_support.py`` says why not ``.ci/run``)."""
    with running_store(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store


@pytest.fixture
def s3(s3_store: S3Store, monkeypatch: pytest.MonkeyPatch) -> S3Store:
    """The session's store, with the standard AWS variables of this test pointing at it."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_store.env.items():
        monkeypatch.setenv(name, value)
    return s3_store
