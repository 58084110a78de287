"""Whatever is pushed onto a queue's Redis list, a worker keeps serving the real work behind it."""

from __future__ import annotations

import redis

from tests.conftest import FLOWERS
from tests.integration.conftest import REDIS_URL, Cluster, wait_until


def test_items_that_are_not_messages_are_logged_and_dropped(cluster: Cluster, redis_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    # Ahead of the job's messages (kombu pops from the right, so the first pushed is the first read).
    client.lpush(
        f"{redis_prefix}cpu", b"not a message", b"\xff\xfe not even utf-8", b'{"hello": "json, no envelope"}', b'"a json string"'
    )
    client.close()
    job_id = cluster.enqueue(FLOWERS / "val" / "roses", chunk_size=8)
    worker = cluster.start_worker("w1")
    job = cluster.wait_for_job(job_id, 120)
    assert (job.done, job.failed) == (20, 0), "the job behind them completed"
    wait_until(lambda: worker.log.count("rejected a malformed message") >= 4, 30, "every malformed item to be logged")
    assert worker.alive(), worker.log[-3000:]
    assert "Unrecoverable error" not in worker.log
