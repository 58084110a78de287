"""The Celery app: JSON only, late acks, one message prefetched per process.

Results go to the SQL database, never to a Celery result backend. The app carries
no tasks: senders address them by name (``names``), and only the worker, which
runs them, registers them (``tasks.register``), so sending needs no torch.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from celery import Celery
from kombu import Queue

from ..config import Settings, load_settings
from .broker import REDIS_SCHEMES, TRANSPORT

QUEUES = ("cpu", "gpu")


def create_app(settings: Settings) -> Celery:
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
        task_default_queue="cpu",
        task_queues=[Queue(name) for name in QUEUES],
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
        app.conf.broker_transport = TRANSPORT
    return app


# For `celery --app mobilabel.worker.app flower` (monitoring needs no tasks).
app = create_app(load_settings())
