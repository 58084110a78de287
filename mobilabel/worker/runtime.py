"""What each worker process holds: settings, its own database engine, its loaded model.

Built after the fork (``worker_process_init``) so no connection or CUDA context is
shared between processes; with a solo pool it is built on the first task.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from ..config import Settings, load_settings
from ..models.classifier import Classifier
from ..pipeline.active_model import ActiveModel
from ..pipeline.build import build_labeller, load_classifier
from ..pipeline.labeller import Labeller
from ..storage import Database

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
            # The server holds a job created over HTTP to its own roots when it walks the folder; the
            # files a chunk names are opened here, checked only against this worker's roots.
            log.warning("MOBILABEL_ALLOWED_ROOTS is not set: process %s opens any file a job names (set it to the folders jobs may read)", self.name)

    def labeller(self, pinned_version: str | None = None) -> Labeller:
        """The labeller for a job: its pinned version, or whichever version is active."""
        if pinned_version not in self._labellers:
            source = ActiveModel(self.db, self.settings, self._load, pinned=pinned_version)
            self._labellers[pinned_version] = build_labeller(self.settings, source)
        return self._labellers[pinned_version]

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
    """Load the model as soon as the process starts, so the first chunk does not wait for it."""
    try:
        runtime().labeller().classifier  # noqa: B018 (asking for it loads it)
    except Exception:  # the first task will try again and report the error on its chunk
        log.exception("could not load the model at process start")
