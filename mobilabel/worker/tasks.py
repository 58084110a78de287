"""The Celery tasks, registered on whichever app is built."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown

from ..broker import LABEL_CHUNK, RETRAIN, SWEEP, TRAIN
from ..scheduler.sweeper import sweep
from . import metrics
from .chunk import process_chunk
from .runtime import runtime, start_process
from .training_task import run_training, scheduled_retrain

log = logging.getLogger("mobilabel.worker")
_TRAINING_TIME_LIMIT_S = 7 * 24 * 3600


def label_chunk(chunk_id: Any) -> dict[str, Any]:
    """Label one chunk of a job. The message carries only the chunk's id; its paths are in the database."""
    if not isinstance(chunk_id, int) or isinstance(chunk_id, bool):
        # A malformed message can never succeed: log it and let it be acknowledged.
        log.error("rejected a %s message with a malformed payload: chunk id %r", LABEL_CHUNK, chunk_id)
        return {"rejected": True}
    outcome = process_chunk(runtime(), chunk_id)
    return {"chunk": outcome.chunk_id, "state": outcome.state, "done": outcome.done, "failed": outcome.failed}


def sweep_chunks(task: Task) -> int:
    """Re-send overdue chunks (scheduled by beat; every worker also sweeps on its own)."""
    return sweep(runtime().db, task.app, runtime().settings)


def train_run(task: Task, run_id: int) -> str | None:
    """Do a training run queued by `mobilabel train --queue`."""
    return run_training(runtime(), task.app, run_id, _owner(task))


def retrain(task: Task, data_dir: str | None, relabel: bool) -> str | None:
    """The scheduled retraining (``scheduled_retrain``)."""
    return scheduled_retrain(runtime(), task.app, data_dir, relabel, _owner(task))


def _owner(task: Task) -> str:
    """A training run's owner: the worker process and the task (``worker HOST:PID task ID``)."""
    return f"worker {runtime().name} task {task.request.id}"


def register(app: Celery) -> None:
    app.task(name=LABEL_CHUNK)(label_chunk)
    app.task(name=SWEEP, bind=True, acks_late=False)(sweep_chunks)
    # Training may take far longer than a chunk, and is not repeated if its worker dies. Celery reads a limit
    # of None as "the app's" (the chunk deadline), so it is given one of its own; its heartbeat, not this
    # limit, tells when its worker died.
    for name, function in ((TRAIN, train_run), (RETRAIN, retrain)):
        app.task(name=name, bind=True, acks_late=False, time_limit=_TRAINING_TIME_LIMIT_S, soft_time_limit=None)(function)


def _load_model_after_fork(**_: Any) -> None:
    start_process()


def _forget_process_metrics(pid: int, **_: Any) -> None:
    metrics.process_ended(pid)


worker_process_init.connect(_load_model_after_fork)
worker_process_shutdown.connect(_forget_process_metrics)
