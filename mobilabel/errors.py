"""The errors a user can fix: the CLI prints their message in one line, never a traceback."""

from __future__ import annotations

from .imaging import ImageReadError
from .models import CheckpointError
from .pipeline.paths import FolderError
from .registry import NoModelError
from .storage import DatabaseError
from .storage.versions import NothingToRollBackError, UnknownVersionError
from .training import TrainingError
from .training.corrections import CorrectionError

USER_ERRORS: tuple[type[BaseException], ...] = (
    CheckpointError,
    CorrectionError,
    DatabaseError,
    FolderError,
    ImageReadError,
    NoModelError,
    NothingToRollBackError,
    TrainingError,
    UnknownVersionError,
)
