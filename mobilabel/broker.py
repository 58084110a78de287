"""What senders and runners of tasks share: the Celery app factory, the queue names and the task names.

``worker`` (what runs), ``scheduler`` (what to send), the CLI and the API import this
module, and it imports none of them. Nothing is built at import: each caller builds its
app from the one ``Settings`` object it was given. The app carries no tasks: senders
address them by name, and only the worker, which runs them, registers them
(``worker.tasks.register``), so sending needs no torch.
Results go to the SQL database, never to a Celery result backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import get_args
from urllib.parse import urlsplit

from celery import Celery
from kombu.entity import Queue
from kombu.exceptions import OperationalError

from .config import QueueName, Settings
from .errors import MobilabelError
from .logs import mask_secrets

QUEUES: tuple[QueueName, ...] = get_args(QueueName)
# Where work without a queue of its own goes: sweeps, and relabelling a job labelled in-process.
DEFAULT_QUEUE: QueueName = "cpu"

LABEL_CHUNK = "mobilabel.label_chunk"
SWEEP = "mobilabel.sweep"
RETRAIN = "mobilabel.retrain"
TRAIN = "mobilabel.train"

# kombu's Redis transport that drops what is not a message (``worker.transport``), by import path as
# kombu resolves transports, so building an app imports no worker code. Not for rediss://: kombu turns
# TLS on from that scheme name, which a transport given by path would lose.
REDIS_TRANSPORT = "mobilabel.worker.transport:Transport"
REDIS_SCHEMES = ("redis",)


class BrokerError(MobilabelError):
    """The broker cannot be reached; the message names it (password masked)."""


def create_app(settings: Settings) -> Celery:
    """A Celery app on ``settings.broker_url``: JSON only, late acks, one message prefetched per process."""
    app = Celery("mobilabel", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_ignore_result=True,
        # A message is acknowledged only after its chunk is written; a worker that dies
        # mid-chunk leaves it to be delivered again.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.chunk_deadline_s,
        task_default_queue=DEFAULT_QUEUE,
        task_queues=[Queue(name) for name in QUEUES],  # type: ignore[no-untyped-call]  # kombu's Queue has no annotations
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            # Longer than any chunk takes; the sweeper, not this timeout, recovers lost chunks quickly.
            "visibility_timeout": settings.visibility_timeout_s,
            "global_keyprefix": settings.redis_prefix,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    if urlsplit(settings.broker_url).scheme in REDIS_SCHEMES:
        # What is pushed onto a queue but is not a message is logged and dropped, never the worker's end.
        app.conf.broker_transport = REDIS_TRANSPORT
    return app


@contextmanager
def reaching_broker(settings: Settings) -> Iterator[None]:
    """Turn a broker that cannot be reached inside the block into a BrokerError naming it."""
    try:
        yield
    except OperationalError as exc:
        raise BrokerError(
            f"cannot reach the broker {mask_secrets(settings.broker_url)}: {mask_secrets(str(exc))} (MOBILABEL_BROKER_URL)"
        ) from exc
