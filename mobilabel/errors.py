"""The errors a user can fix: the CLI prints their message in one line, never a traceback."""

from __future__ import annotations

from .imaging import ImageReadError
from .models import CheckpointError
from .pipeline.paths import FolderError
from .registry import NoModelError
from .storage import DatabaseError
from .storage.versions import UnknownVersionError

USER_ERRORS: tuple[type[BaseException], ...] = (
    CheckpointError,
    DatabaseError,
    FolderError,
    ImageReadError,
    NoModelError,
    UnknownVersionError,
)
