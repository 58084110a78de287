"""The sweeper sees how many messages wait in a queue whatever MOBILABEL_REDIS_PREFIX is, so a chunk that is
merely queued is never sent again; a queue the broker lost is still refilled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from mobilabel.broker import create_app
from mobilabel.config import load_settings
from mobilabel.scheduler.sweeper import queue_length, sweep
from mobilabel.storage.tables import Chunk, utcnow
from tests.conftest import FLOWERS
from tests.integration.conftest import Cluster, RedisServer


@pytest.mark.parametrize("prefix", [None, "custom-prefix:"], ids=["default-prefix", "custom-prefix"])
def test_queued_chunks_are_not_sent_again(
    prefix: str | None, cluster: Cluster, private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_BROKER_URL", private_redis.url)
    if prefix is None:
        monkeypatch.delenv("MOBILABEL_REDIS_PREFIX")
    else:
        monkeypatch.setenv("MOBILABEL_REDIS_PREFIX", prefix)
    settings = load_settings()
    assert settings.redis_prefix == (prefix or "mobilabel:")
    job_id = cluster.enqueue(FLOWERS / "val" / "roses", chunk_size=2)  # 20 images: 10 chunks, no worker
    redis_queue = f"{settings.redis_prefix}cpu"
    client = private_redis.client()
    assert client.llen(redis_queue) == 10
    app = create_app(settings)
    assert queue_length(app, "cpu") == 10
    db = cluster.database()
    overdue = utcnow() - timedelta(seconds=1)  # every chunk queued past its grace, as after a long wait
    with db.transaction() as session:
        session.execute(update(Chunk).where(Chunk.job_id == job_id).values(deadline=overdue))
    assert sweep(db, app, settings) == 0, "chunks whose messages still wait are left alone"
    assert client.llen(redis_queue) == 10
    client.delete(redis_queue)  # the broker lost its data: now the sweeper must send them again
    assert queue_length(app, "cpu") == 0
    assert sweep(db, app, settings) == 10
    assert client.llen(redis_queue) == 10
    db.dispose()
    client.close()
