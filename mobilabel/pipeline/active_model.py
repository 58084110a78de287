"""A model source that follows the database's active version, checked between batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..models.classifier import Classifier
from ..storage import Database
from ..versions.checkpoints import active_version_id, resolve_model

if TYPE_CHECKING:
    from ..models.checkpoint import Checkpoint

log = logging.getLogger(__name__)

# Builds the classifier of a registered version (by id) or of a checkpoint (``versions.checkpoints.resolve_model``).
ClassifierFactory = Callable[["str | Checkpoint"], Classifier]


class ActiveModel:
    """Callable returning the classifier of the active version (or a pinned one).

    The active version is looked up at most every ``refresh_s`` seconds (a cheap
    query); a change loads the new version, from this machine's cache when it can.
    A database blip keeps the current model rather than stopping the work.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        factory: ClassifierFactory,
        pinned: str | None = None,
        checkpoint: str | Checkpoint | None = None,
    ) -> None:
        """``checkpoint``: the model to start with (``versions.checkpoints.resolve_model``), if the caller resolved it
        already (built on the first call)."""
        self._db = db
        self._settings = settings
        self._factory = factory
        self._pinned = pinned
        self._first = checkpoint
        self._classifier: Classifier | None = None
        self._checked_at = float("-inf")

    def __call__(self) -> Classifier:
        if self._classifier is None:
            first, self._first = self._first, None
            self._classifier = self._factory(first or resolve_model(self._db, self._settings, self._pinned))
            self._checked_at = time.monotonic()
        elif self._pinned is None and time.monotonic() - self._checked_at >= self._settings.model_refresh_s:
            self._refresh()
        return self._classifier

    def _refresh(self) -> None:
        self._checked_at = time.monotonic()
        try:
            active = active_version_id(self._db)
        except SQLAlchemyError as exc:
            log.warning("cannot check the active model version (%s); keeping %s", exc.__class__.__name__, self.version_id)
            return
        if active is not None and active != self.version_id:
            log.info("model version %s is now active; switching from %s", active, self.version_id)
            self._classifier = self._factory(active)

    @property
    def version_id(self) -> str | None:
        return self._classifier.version_id if self._classifier is not None else None
