"""Nothing lost, nothing duplicated: workers killed, Redis restarted, PostgreSQL cut off."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mobilabel.broker import LABEL_CHUNK, create_app
from mobilabel.config import load_settings
from mobilabel.storage import chunks as stored_chunks
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.storage.tables import Chunk
from tests.conftest import FLOWERS
from tests.integration.conftest import Cluster, wait_until
from tests.tcp_proxy import TcpProxy, free_port


def freeze_a_chunk_holder(cluster: Cluster, pids: list[int]) -> tuple[list[int], Chunk]:
    """SIGSTOP ``pids`` while one of them holds an unfinished chunk, and return that chunk.

    Stopping first makes the check race-free: a stopped process cannot finish its chunk
    between the database saying it holds one and the kill.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if cluster.running_chunk_of(pids) is None:
            time.sleep(0.02)
            continue
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        held = cluster.running_chunk_of(pids)
        if held is not None:
            return pids, held
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    raise AssertionError("no chunk was ever held by the victim")


def assert_exactly_once(cluster: Cluster, job_id: int, images: int, started: float, what: str) -> None:
    job = cluster.wait_for_job(job_id, 300)
    rows, distinct = cluster.result_counts()
    print(
        f"\n{what}: {rows} rows, {rows - distinct} duplicates, job {job.done} done / {job.failed} failed, "
        f"{time.monotonic() - started:.1f} s"
    )
    assert (rows, distinct) == (images, images)
    assert (job.total, job.done, job.failed) == (images, images, 0)


def test_a_pool_child_killed_mid_chunk(cluster: Cluster) -> None:
    victim_worker = cluster.start_worker("w1")
    cluster.start_worker("w2")
    started = time.monotonic()
    job_id = cluster.enqueue(FLOWERS, chunk_size=32)
    (victim,), chunk = freeze_a_chunk_holder(cluster, victim_worker.children())
    os.kill(victim, signal.SIGKILL)
    assert_exactly_once(cluster, job_id, 609, started, "pool child killed")
    recovered = cluster.chunk(chunk.id)
    assert recovered.state == "done" and recovered.attempts >= 2, "the killed chunk was delivered again"
    assert victim_worker.alive(), "the worker replaced its pool child and lived on"


def test_a_whole_worker_killed_mid_chunk(cluster: Cluster) -> None:
    victim = cluster.start_worker("w1")
    cluster.start_worker("w2")
    started = time.monotonic()
    job_id = cluster.enqueue(FLOWERS, chunk_size=32)
    pids, chunk = freeze_a_chunk_holder(cluster, victim.group_pids())
    victim.kill_all()
    assert_exactly_once(cluster, job_id, 609, started, "whole worker killed")
    recovered = cluster.chunk(chunk.id)
    assert recovered.state == "done" and recovered.attempts >= 2
    assert int(recovered.worker.rsplit(":", 1)[1]) not in pids, "finished by the surviving worker"  # type: ignore[union-attr]


def test_sigterm_lets_the_worker_finish_its_chunk(cluster: Cluster) -> None:
    worker = cluster.start_worker("w1")
    cluster.enqueue(FLOWERS, chunk_size=64)
    child = worker.children()[0]
    held = wait_until(lambda: cluster.running_chunk_of([child]), 60, "the worker to start a chunk")
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=120) == 0
    chunk = cluster.chunk(held.id)  # type: ignore[attr-defined]
    assert (chunk.state, chunk.attempts, chunk.worker) == ("done", 1, held.worker)  # type: ignore[attr-defined]
    assert cluster.running_chunk_of([child]) is None, "nothing left half-done"


@pytest.mark.parametrize("persistent", [True, False], ids=["append-only", "no-persistence"])
def test_redis_restarted_mid_job(persistent: bool, cluster: Cluster, tmp_path: Path, redis_prefix: str) -> None:
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    redis_command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data),
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        "--daemonize",
        "no",
    ]
    server = subprocess.Popen(redis_command, stdout=subprocess.DEVNULL)
    try:
        ping = ["redis-cli", "-p", str(port), "ping"]
        wait_until(lambda: subprocess.run(ping, capture_output=True).stdout.strip() == b"PONG", 30, "the test's Redis")
        broker = f"redis://127.0.0.1:{port}/0"
        cluster.env["MOBILABEL_BROKER_URL"] = broker
        os.environ["MOBILABEL_BROKER_URL"] = broker
        # With persistence nothing may be lost, so the sweeper is kept out of it; without, it must recover.
        sweep_interval = "3600" if persistent else "1"
        # The worker is connected through the restart but takes the job's queue only after it, so every
        # chunk is still in Redis when Redis goes down, however fast the machine. (A consumer stopped
        # while waiting on its queue could have a message popped for it and lose it: not this test's case.)
        worker = cluster.start_worker("w1", queues="gpu", MOBILABEL_SWEEP_INTERVAL_S=sweep_interval)
        started = time.monotonic()
        job_id = cluster.enqueue(FLOWERS, chunk_size=16)  # to the cpu queue
        job = cluster.job(job_id)
        assert (job.status, job.total, job.done) == ("running", 609, 0)
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "save" if persistent else "nosave"], capture_output=True)
        server.wait(timeout=30)
        server = subprocess.Popen(redis_command, stdout=subprocess.DEVNULL)
        wait_until(lambda: subprocess.run(ping, capture_output=True).stdout.strip() == b"PONG", 30, "the test's Redis to restart")
        app = create_app(load_settings())
        wait_until(
            lambda: app.control.add_consumer("cpu", reply=True, timeout=2), 60, "the worker to reconnect and take the cpu queue"
        )
        assert_exactly_once(
            cluster, job_id, 609, started, f"Redis restarted ({'append-only' if persistent else 'no persistence'})"
        )
        assert worker.alive()
        assert ("re-sent" in worker.log) is not persistent, "only lost messages need the sweeper"
    finally:
        server.kill()
        server.wait()


def test_postgresql_outage_mid_job(cluster: Cluster) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    try:
        proxied = cluster.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        worker = cluster.start_worker("w1", MOBILABEL_DATABASE_URL=proxied)
        started = time.monotonic()
        job_id = cluster.enqueue(FLOWERS / "val", chunk_size=8)
        wait_until(lambda: cluster.job(job_id).done >= 16, 120, "the first chunks to be labelled")
        proxy.cut()
        wait_until(lambda: "database unavailable" in worker.log, 120, "a batch to hit the outage")
        proxy.restore()
        assert_exactly_once(cluster, job_id, 120, started, "PostgreSQL outage")
        assert "retrying in" in worker.log
    finally:
        proxy.close()


def test_pickle_and_malformed_messages_are_rejected(cluster: Cluster) -> None:
    worker = cluster.start_worker("w1")
    app = create_app(load_settings())
    app.send_task(LABEL_CHUNK, args=[1], serializer="pickle")
    app.send_task(LABEL_CHUNK, args=["../../etc/passwd"])
    app.send_task(LABEL_CHUNK, args=[1, 2, 3])
    job_id = cluster.enqueue(FLOWERS / "val" / "roses", chunk_size=8)
    assert cluster.wait_for_job(job_id, 120).done == 20, "the worker lived on and did real work"
    wait_until(lambda: "malformed payload" in worker.log, 30, "the malformed message to be logged")
    log = worker.log
    assert "pickle" in log and ("Refusing to deserialize" in log or "ContentDisallowed" in log), log[-3000:]
    assert worker.alive()


def test_paths_outside_allowed_roots_are_never_opened(cluster: Cluster, tmp_path: Path, val_images: list[Path]) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    shutil.copy(val_images[0], allowed / "inside.jpg")
    os.mkfifo(outside / "trap.jpg")  # opening it for reading would block the worker for good
    (allowed / "link.jpg").symlink_to(outside / "trap.jpg")
    paths = [
        str(allowed / "inside.jpg"),
        str(allowed / ".." / "outside" / "trap.jpg"),
        str(allowed / "link.jpg"),
        str(outside / "trap.jpg"),
    ]
    cluster.start_worker("w1", MOBILABEL_ALLOWED_ROOTS=str(allowed))
    db = cluster.database()
    with db.transaction() as session:
        job = stored_jobs.create_job(session, str(allowed), None)
        job.queue = "cpu"
        (chunk_id,) = stored_chunks.add_chunks(session, job.id, 0, [paths], timedelta(seconds=60))
    db.dispose()
    create_app(load_settings()).send_task(LABEL_CHUNK, args=[chunk_id], queue="cpu")
    cluster.wait_for_job(job.id, 120)
    db = cluster.database()
    with db.transaction() as session:
        rows = {r.image_path: r for r in query_results(session, ResultFilter(job_id=job.id))}
    db.dispose()
    assert rows[paths[0]].status == "ok"
    for path in paths[1:]:
        assert rows[path].status == "failed" and "outside the allowed roots" in (rows[path].error or ""), path
