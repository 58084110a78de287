"""What each worker process holds: settings, its own database engine, its loaded model.

Built after the fork (``worker_process_init``) so no connection or CUDA context is
shared between processes; with a solo pool it is built on the first task.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..config import Settings, load_settings
from ..models.classifier import Classifier
from ..pipeline.active_model import ActiveModel
from ..pipeline.build import build_labeller, load_classifier
from ..pipeline.labeller import Labeller
from ..storage import Database
from ..storage.heartbeat import Heartbeat
from ..storage.leases import SERVING_LEASE_PREFIX, take_lease
from ..storage.ownership import silence_limit
from . import metrics

if TYPE_CHECKING:
    from ..models.checkpoint import Checkpoint

log = logging.getLogger(__name__)


class WorkerRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._labellers: dict[str | None, Labeller] = {}
        if not settings.allowed_roots:
            # A job records the roots of the process that created it (the server's, over HTTP), and the files
            # of its chunks are held to them here (``Reader.within``); a job created without roots is not.
            log.warning(
                "MOBILABEL_ALLOWED_ROOTS is not set: process %s opens any file a job names (set it to the folders jobs may read)",
                self.name,
            )
        # Held while the unpinned model loads: the first chunk waits for the warm-up's load, never loads twice.
        self._loading = threading.Lock()

    def labeller(self, pinned_version: str | None = None) -> Labeller:
        """The labeller for a job: its pinned version, or whichever version is active."""
        with self._loading:
            if pinned_version not in self._labellers:
                source = ActiveModel(self.db, self.settings, self._load, pinned=pinned_version)
                self._labellers[pinned_version] = build_labeller(self.settings, source)
            return self._labellers[pinned_version]

    def warm_up(self) -> None:
        """Load the model in force now (the first chunk waits for it), then say whether this process can serve:
        in the log, in the worker's metrics, and as a lease the server's /readyz counts (renewed every heartbeat)."""
        lease = f"{SERVING_LEASE_PREFIX}{self.name}"
        ttl = silence_limit(self.settings.heartbeat_s)
        try:
            with self._loading:
                if None not in self._labellers:
                    self._labellers[None] = build_labeller(self.settings, ActiveModel(self.db, self.settings, self._load))
                self._labellers[None].classifier  # noqa: B018 (asking for it loads it)
        except Exception as exc:  # the first task will try again and report the error on its chunk
            reason = " ".join(f"{exc.__class__.__name__}: {exc}".split())[:300]
            log.exception("process %s cannot serve: its model could not be loaded (%s)", self.name, reason)
            metrics.record_serving(False)
            holder = f"{self.name} unable: {reason}"
        else:
            metrics.record_serving(True)
            holder = f"{self.name} serving"

        def beat(session: Session) -> bool:
            take_lease(session, lease, holder, ttl)
            return True

        try:
            with self.db.transaction() as session:
                beat(session)
        except SQLAlchemyError as exc:
            log.warning(
                "process %s: could not record that it %s (%s)", self.name, holder.split(" ", 1)[1], exc.__class__.__name__
            )
        Heartbeat(self.db, beat, self.settings.heartbeat_s, f"process {self.name}").start()

    def _load(self, model: str | Checkpoint) -> Classifier:
        classifier = load_classifier(self.settings, self.db, model)
        log.info("process %s loaded model version %s (%s engine)", self.name, classifier.version_id, classifier.engine.name)
        return classifier


_settings: Settings | None = None
_runtime: WorkerRuntime | None = None


def use_settings(settings: Settings) -> None:
    """The settings this process's runtime is built from; set before the pool forks, so every
    pool process inherits them (no environment variables to pass them through)."""
    global _settings
    _settings = settings


def runtime() -> WorkerRuntime:
    """This process's runtime, built on first use from ``use_settings``'s settings, else the environment's."""
    global _runtime
    if _runtime is None:
        _runtime = WorkerRuntime(_settings or load_settings())
    return _runtime


def start_process() -> None:
    """Load the model as soon as the process starts, in the background: the process tells its parent it is up
    at once, however long the load takes under load (Celery kills a pool process that is not up within
    ``worker_proc_alive_timeout``, 4 s), and the first chunk waits only for what is left of the load."""
    threading.Thread(target=runtime().warm_up, name="warm-up", daemon=True).start()
