"""Retrying database work through an outage, with exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Errors that a reconnect can cure: the server went away, restarted, or refused us."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


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
