"""After answers: the quick head (``training.quick``) once MOBILABEL_REFRESH_EVERY answers came since the last.

The one place the due check and the refresh meet, for the CLI's `correct` (which prints what happened)
and the API's answers (which log it). Importing this module loads no torch: only a refresh that is due
imports ``training.quick``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import Settings
from ..storage import Database
from ..storage.training_runs import quick_refresh_due

if TYPE_CHECKING:
    from .quick import QuickReport


def refresh_if_due(db: Database, settings: Settings, starting: Callable[[], None] = lambda: None) -> QuickReport | None:
    """A quick refresh when ``settings.refresh_every`` answers came since the last quick fit began (0: never);
    None when none is due. ``starting`` is called just before a due refresh begins (it takes seconds).

    Raises ``training.quick.QuickHeadError`` when one is due but there is nothing to fit yet.
    """
    with db.transaction() as session:
        if not quick_refresh_due(session, settings.refresh_every):
            return None
    starting()
    from .quick import quick_refresh  # torch: only a fit needs it

    return quick_refresh(db, settings)
