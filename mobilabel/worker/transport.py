"""kombu's Redis transport, dropping what is not a message instead of dying on it, and finding queues
under a key prefix.

Anything can be pushed onto a queue's Redis list. kombu parses each item as a JSON
envelope before Celery sees it, and an item that is not one (a plain string: a
``JSONDecodeError``; JSON that is not an envelope: a ``KeyError``) escapes its event
loop, so the worker stops with "Unrecoverable error" and the queue's real work waits.
Here such an item is logged and dropped, as Celery drops a pickled message, an unknown
task name or a bad chunk id: the worker keeps serving. Only parsing is wrapped; every
well-formed message goes through kombu's own code unchanged.
"""

from __future__ import annotations

import json
import logging
from queue import Empty
from typing import Any

from kombu.transport import redis

log = logging.getLogger("mobilabel.worker")

# Celery is pointed at ``Transport`` by its import path (``mobilabel.broker.REDIS_TRANSPORT``), so the
# app factory need not import the worker.
_NOT_JSON = (json.JSONDecodeError, UnicodeDecodeError)


def _drop(reason: str) -> None:
    log.error("rejected a malformed message: %s; dropped, the worker carries on", reason)


class Channel(redis.Channel):
    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        # kombu prefixes LLEN with the global key prefix but not EXISTS, so a passive declare (the
        # sweeper's look at a queue's length) never found a queue under a prefix and read 0 messages.
        # Redis deletes an empty list, so "exists" and "holds messages" are the same question.
        return int(self._size(queue)) > 0  # type: ignore[no-untyped-call]

    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))  # type: ignore[no-untyped-call]
        except _NOT_JSON as exc:  # the item is already popped: nothing is left to redeliver
            _drop(f"not JSON ({exc})")
            raise Empty() from None

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        try:
            return super()._get(queue)  # type: ignore[no-untyped-call]
        except _NOT_JSON as exc:
            _drop(f"not JSON on queue {queue!r} ({exc})")
            raise Empty() from None


class Transport(redis.Transport):
    Channel = Channel

    def _deliver(self, message: Any, queue: str) -> None:
        properties = message.get("properties") if isinstance(message, dict) else None
        if not isinstance(properties, dict) or "delivery_tag" not in properties:
            _drop(f"JSON but not a message envelope on queue {queue!r}: {json.dumps(message)[:200]}")
            return
        super()._deliver(message, queue)  # type: ignore[no-untyped-call]
