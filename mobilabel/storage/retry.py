"""Retrying database work through an outage, with exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from ..logs import mask_secrets
from .database import DatabaseError

log = logging.getLogger(__name__)
T = TypeVar("T")


class DatabaseUnavailableError(DatabaseError):
    """The database stayed unreachable for longer than MOBILABEL_DB_PATIENCE_S; the message says what was kept."""


def is_transient(exc: BaseException) -> bool:
    """Errors that a reconnect can cure: the server went away, restarted, refused us, or timed out
    (a connect, keepalive or statement timeout; ``database.connect_args``)."""
    return isinstance(exc, (OperationalError, DisconnectionError)) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def unavailable(url: str, patience_s: float, exc: BaseException, consequence: str) -> DatabaseUnavailableError:
    """The one-line error for a database still unreachable after ``patience_s``, with what it means for the work."""
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
    return DatabaseUnavailableError(
        f"the database {mask_secrets(url)} could not be reached for {patience_s:g} s (MOBILABEL_DB_PATIENCE_S; {reason}): {consequence}"
    )


def with_db_retry(work: Callable[[], T], patience_s: float, what: str, first_delay_s: float = 0.5) -> T:
    """Run ``work`` (one whole transaction) until it succeeds or ``patience_s`` has passed.

    The transaction is re-run from the start, so a failed attempt never half-applies.
    """
    deadline = time.monotonic() + patience_s
    delay = first_delay_s
    while True:
        try:
            return work()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: database unavailable (%s); retrying in %.1f s", what, exc.__class__.__name__, delay)
            time.sleep(delay)  # backoff between attempts, not synchronisation
            delay = min(delay * 2, 10.0)
