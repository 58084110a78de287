"""The sweeper: re-send chunks whose deadline passed, from the database's record.

A worker machine that vanished leaves running chunks past their deadline; a
broker that lost its data leaves queued chunks with no message behind them. Both
are found here, without waiting out Redis's visibility timeout.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery
from kombu.exceptions import ChannelError

from ..broker import DEFAULT_QUEUE, LABEL_CHUNK
from ..config import Settings
from ..storage import Database
from ..storage import chunks as stored_chunks
from ..storage.states import ChunkState
from ..storage.tables import utcnow

log = logging.getLogger("mobilabel.sweeper")


def queue_length(app: Celery, queue: str) -> int:
    """Messages waiting in a queue; a queue the broker no longer knows holds none."""
    with app.connection_for_read() as connection:
        try:
            return int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError:
            return 0


def sweep(db: Database, app: Celery, settings: Settings) -> int:
    """Re-send overdue chunks; returns how many were sent."""
    now = utcnow()
    with db.transaction() as session:
        overdue = stored_chunks.overdue_chunks(session, now)
    if not overdue:
        return 0
    empty = {queue for queue in {c.queue or DEFAULT_QUEUE for c in overdue} if queue_length(app, queue) == 0}
    running_grace = timedelta(seconds=settings.chunk_deadline_s)
    queued_grace = timedelta(seconds=settings.queued_grace_s)
    sent = 0
    with app.producer_or_acquire() as producer:
        for chunk in overdue:
            queue = chunk.queue or DEFAULT_QUEUE
            if chunk.state == ChunkState.QUEUED and queue not in empty:
                continue  # its message is most likely still waiting its turn
            with db.transaction() as session:
                won = stored_chunks.extend_deadline(
                    session, chunk, running_grace if chunk.state == ChunkState.RUNNING else queued_grace
                )
            if won:
                app.send_task(LABEL_CHUNK, args=[chunk.id], queue=queue, producer=producer)
                sent += 1
    if sent:
        log.warning("re-sent %d overdue chunks", sent)
    return sent
